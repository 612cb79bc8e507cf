"""`training_effect`: what training did to weekly use, with the struggling-sites-first bias removed.

Sites are trained in waves and the struggling ones first, so "trained sites use it less"
is what a plain comparison shows. The event study compares each site with sites not yet
trained, before and after its first training week (Callaway & Sant'Anna, in
`staggered_did`); the naive gap and two-way fixed effects are kept beside it to show the
bias it removes.

The panel is one row per site and week of `weekly_active_rate`: active enrolled users /
enrolled users (`site_weeks`). A week in which a site has no enrolled user has no rate and
is no zero: before its first invitation a site has nothing to adopt. The estimator needs a
balanced panel, and sites go live at different weeks, so the panel starts at the week
that keeps the most site-weeks: sites that have enrolled users in every week from it to
as_of stay, the others (live too late, or with a week without users) are left out. A site
trained before the panel's second week has no untrained week to compare and is dropped by
the estimator.

The pre-trend test is the event study's joint test that the effects of weeks -8..-1 are
zero, with the small-sample (Hotelling) correction: with a few dozen sites the plain Wald
test rejects far more often than it should.
"""
from __future__ import annotations

from collections.abc import Callable

import polars as pl

from metrics.estimators.staggered_did import (
    PanelColumns,
    aggregate_dynamic,
    group_time_att,
    pretrend_test,
    training_effect_table,
)
from metrics.training.training_survival import HazardRatio, first_training_weeks, hazard_ratio, read_risk_intervals
from pipelines.build_context import BuildContext

__all__ = [
    "EVENT_WEEKS",
    "OUTCOME",
    "PANEL",
    "SCHEMA",
    "balanced_panel",
    "did_rows",
    "effect_rows",
    "hazard_ratio_rows",
    "pretrend_row",
    "site_week_rates",
    "write_training_effect",
]

OUTCOME = "weekly_active_rate"
PANEL = PanelColumns(unit="site_id", period="week", outcome=OUTCOME, first_treated="first_training_week")
EVENT_WEEKS = (-8, 12)
SCHEMA = {"outcome": pl.String, "event_week": pl.Int64, "estimate": pl.Float64, "ci_low": pl.Float64,
          "ci_high": pl.Float64, "n_units": pl.Int64, "method": pl.String}


def site_week_rates(site_weeks: pl.DataFrame) -> pl.DataFrame:
    """site_id, week, weekly_active_rate for the site-weeks with enrolled users."""
    return site_weeks.filter(pl.col("users") > 0).select(
        "site_id", "week", (pl.col("active_users") / pl.col("users")).alias(OUTCOME)
    )


def balanced_panel(rates: pl.DataFrame, first_training: pl.DataFrame) -> pl.DataFrame:
    """The balanced site-week panel with each site's first training week (null: not yet).

    A site's run is its weeks with a rate, from its first to the last (as_of); it counts
    only if unbroken. The start week maximises sites x weeks over the runs' first weeks.
    """
    last_week = rates["week"].max()
    runs = (
        rates.group_by("site_id")
        .agg(pl.col("week").min().alias("first_week"), pl.len().alias("n_weeks"))
        .filter(pl.col("n_weeks") == (last_week - pl.col("first_week")).dt.total_days() // 7 + 1)
    )
    starts = (
        runs.group_by("first_week")
        .len("n_sites")
        .sort("first_week")
        .with_columns(
            (pl.col("n_sites").cum_sum() * ((last_week - pl.col("first_week")).dt.total_days() // 7 + 1))
            .alias("site_weeks")
        )
    )
    start = starts.sort("site_weeks", "first_week", descending=[True, False])["first_week"].first()
    return (
        rates.join(runs.filter(pl.col("first_week") <= start), on="site_id", how="semi")
        .filter(pl.col("week") >= start)
        .join(first_training, on="site_id", how="left")
        .sort("site_id", "week")
    )


def effect_rows(panel: pl.DataFrame) -> pl.DataFrame:
    """The contract's rows for the weekly active rate: Callaway & Sant'Anna overall and
    event weeks -8..12 (not-yet-trained controls), the naive gap and TWFE."""
    return training_effect_table(panel, PANEL, control_group="notyettreated", min_e=EVENT_WEEKS[0],
                                 max_e=EVENT_WEEKS[1])


def pretrend_row(panel: pl.DataFrame) -> pl.DataFrame:
    """One row (method "pretrend_wald_f"): in `estimate`, the small-sample p-value that
    event weeks -8..-1 are all zero; n_units counts the sites in the panel."""
    effects = group_time_att(panel, PANEL, control_group="notyettreated")
    test = pretrend_test(aggregate_dynamic(effects, *EVENT_WEEKS), small_sample=True)
    return _row(OUTCOME, test.p_value, None, None, effects.n_units, "pretrend_wald_f")


def did_rows(panel: pl.DataFrame) -> pl.DataFrame:
    """`effect_rows` and `pretrend_row`, each left out when the panel cannot support it."""
    return pl.concat([_unless_unsupported(effect_rows, panel), _unless_unsupported(pretrend_row, panel)])


def _unless_unsupported(rows: Callable[[pl.DataFrame], pl.DataFrame], panel: pl.DataFrame) -> pl.DataFrame:
    """The rows, or none when the panel cannot support them (no site trained within it,
    none left to compare with, no week before training, too few sites for the test):
    exactly when `staggered_did` raises ValueError."""
    try:
        return rows(panel)
    except ValueError:
        return pl.DataFrame(schema=SCHEMA)


def hazard_ratio_rows(ratio: HazardRatio | None) -> pl.DataFrame:
    """The row of the silent-churn hazard ratio, trained vs not yet trained (none when it
    cannot be estimated); n_units counts the users of the sites that inform it."""
    if ratio is None:
        return pl.DataFrame(schema=SCHEMA)
    return _row("silent_churn_hazard_ratio", ratio.estimate, ratio.ci_low, ratio.ci_high, ratio.n_users,
                "cox_phreg_site_effects")


def _row(outcome: str, estimate: float, ci_low: float | None, ci_high: float | None, n_units: int,
         method: str) -> pl.DataFrame:
    return pl.DataFrame(
        [{"outcome": outcome, "event_week": None, "estimate": estimate, "ci_low": ci_low, "ci_high": ci_high,
          "n_units": n_units, "method": method}],
        schema=SCHEMA,
    )


def write_training_effect(ctx: BuildContext) -> None:
    """Build stage: the event study, its pre-trend test and the silent-churn hazard ratio
    into main.training_effect."""
    con = ctx.con
    site_weeks = con.sql("select site_id, week, users, active_users from main.site_weeks").pl()
    panel = balanced_panel(site_week_rates(site_weeks), first_training_weeks(con))
    rows = pl.concat([did_rows(panel), hazard_ratio_rows(hazard_ratio(read_risk_intervals(con)))])
    ctx.write_table("training_effect", rows)
