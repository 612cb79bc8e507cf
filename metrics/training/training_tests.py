"""`training_tests`: the checks beside the training estimates, one row per diagnostic.

A diagnostic is no effect: a test statistic and a p-value, or a ratio with its interval,
so it has its own columns rather than a p-value hidden in `training_effect.estimate`.

- `pretrend_joint_test` (method pretrend_wald_f): the event study's joint test that the
  effects of weeks -8..-1 on the weekly active rate are all zero, with the small-sample
  (Hotelling) correction: with a few dozen sites the plain Wald test rejects far more
  often than it should. statistic is the F statistic; n_units counts the sites in the panel.
- `silent_churn_hazard_ratio` (method cox_phreg_site_effects): the hazard ratio of going
  silent, trained against not yet trained, from a Cox model on calendar weeks with a term
  per site (`SiteCox`), rows at risk in (calendar_start, calendar_stop]. statsmodels' PHReg
  counts a row at risk at its entry too, which puts a user at risk twice in the week their
  site was trained, once untrained and once trained; that biased the ratio low (a
  geometric mean of 0.73 over demos without an effect, 1.03 now). n_units counts the users
  of the sites with an event; p_value tests a ratio of 1.

A diagnostic the data cannot support (too few sites for the test, no event on one side
of training) has no row.
"""
from __future__ import annotations

import polars as pl

from metrics.estimators.site_cox import MonotoneLikelihoodError, SiteCox
from metrics.estimators.staggered_did import aggregate_dynamic, group_time_att, pretrend_test
from metrics.training.training_effect import EVENT_WEEKS, PANEL, read_panel
from metrics.training.training_survival import read_risk_intervals
from pipelines.build_context import BuildContext

__all__ = ["SCHEMA", "hazard_ratio_row", "pretrend_row", "silent_churn_model", "write_training_tests"]

SCHEMA = {"test": pl.String, "statistic": pl.Float64, "p_value": pl.Float64, "ci_low": pl.Float64,
          "ci_high": pl.Float64, "n_units": pl.Int64, "method": pl.String}


def pretrend_row(panel: pl.DataFrame) -> pl.DataFrame:
    """The pre-trend joint test on the event study of the weekly active rate (none when
    the panel cannot support it: exactly when `staggered_did` raises ValueError)."""
    try:
        effects = group_time_att(panel, PANEL, control_group="notyettreated")
        test = pretrend_test(aggregate_dynamic(effects, *EVENT_WEEKS), small_sample=True)
    except ValueError:
        return pl.DataFrame(schema=SCHEMA)
    return _row("pretrend_joint_test", test.statistic, test.p_value, None, None, effects.n_units, "pretrend_wald_f")


def silent_churn_model(intervals: pl.DataFrame) -> SiteCox:
    """Going silent on being trained, in calendar weeks, with a term per site."""
    return SiteCox(intervals, exposure="trained", site="site_id", start="calendar_start", stop="calendar_stop",
                   event="event", unit="user_id")


def hazard_ratio_row(intervals: pl.DataFrame) -> pl.DataFrame:
    """The hazard ratio of going silent with its 95% interval (none when it would run off
    to 0 or infinity: no number to show)."""
    try:
        results = silent_churn_model(intervals).fit()
    except MonotoneLikelihoodError:
        return pl.DataFrame(schema=SCHEMA)
    low, high = results.hazard_ratio_conf_int()
    return _row("silent_churn_hazard_ratio", results.hazard_ratio, float(results.pvalues[0]), low, high,
                results.n_units, "cox_phreg_site_effects")


def _row(test: str, statistic: float, p_value: float, ci_low: float | None, ci_high: float | None, n_units: int,
         method: str) -> pl.DataFrame:
    return pl.DataFrame(
        [{"test": test, "statistic": statistic, "p_value": p_value, "ci_low": ci_low, "ci_high": ci_high,
          "n_units": n_units, "method": method}],
        schema=SCHEMA,
    )


def write_training_tests(ctx: BuildContext) -> None:
    """Build stage: the pre-trend test and the hazard ratio of going silent into main.training_tests."""
    rows = pl.concat([pretrend_row(read_panel(ctx)), hazard_ratio_row(read_risk_intervals(ctx))])
    ctx.write_table("training_tests", rows)
