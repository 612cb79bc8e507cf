"""The training effect as the pages show it, read from `training_effect`, `training_tests`
and `training_survival`.

The estimates are portfolio-wide (models over all trained sites), so these functions take
no site list: they show no site's own data.

`training_effect` holds, for the outcome weekly_active_rate, the overall rows (event_week
null, one per method) and the event study (event weeks -8..12); `training_tests` the
pre-trend test and the hazard ratio of going silent, one row per test. A file built before
`training_tests` existed also holds those two as rows of `training_effect`: the effect
readers keep to the effect methods, so such a file shows its effects and no test.
"""
from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

OUTCOME = "weekly_active_rate"
CALLAWAY_SANTANNA = "callaway_santanna"
EFFECT_METHODS = (CALLAWAY_SANTANNA, "naive_difference", "twfe")  # the estimator first, the biased comparisons after
PRETREND_TEST = "pretrend_joint_test"
HAZARD_RATIO_TEST = "silent_churn_hazard_ratio"


def training_effects(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every row of `training_effect`, overall rows first."""
    return con.sql(
        """
        select
            outcome,
            event_week::integer as event_week,
            estimate::double as estimate,
            ci_low::double as ci_low,
            ci_high::double as ci_high,
            n_units::bigint as n_units,
            method
        from training_effect
        order by outcome, event_week nulls first, method
        """
    ).pl()


def training_tests(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every row of `training_tests`, one per diagnostic."""
    return con.sql(
        """
        select
            test,
            statistic::double as statistic,
            p_value::double as p_value,
            ci_low::double as ci_low,
            ci_high::double as ci_high,
            n_units::bigint as n_units,
            method
        from training_tests
        order by test
        """
    ).pl()


def _rate_rows(effects: pl.DataFrame) -> pl.DataFrame:
    """The weekly active rate's estimates."""
    return effects.filter((pl.col("outcome") == OUTCOME) & pl.col("method").is_in(EFFECT_METHODS))


def event_study(effects: pl.DataFrame) -> pl.DataFrame:
    """The Callaway & Sant'Anna estimates by week relative to the first training."""
    return _rate_rows(effects).filter(
        pl.col("event_week").is_not_null() & (pl.col("method") == CALLAWAY_SANTANNA)
    ).sort("event_week")


def overall_estimates(effects: pl.DataFrame) -> pl.DataFrame:
    """One overall effect per method, in EFFECT_METHODS' order."""
    order = pl.Enum(EFFECT_METHODS)
    return _rate_rows(effects).filter(pl.col("event_week").is_null()).sort(pl.col("method").cast(order))


def headline(effects: pl.DataFrame) -> dict[str, Any] | None:
    """The overall Callaway & Sant'Anna effect, or None when it was not estimated."""
    rows = overall_estimates(effects).filter(pl.col("method") == CALLAWAY_SANTANNA)
    return rows.row(0, named=True) if rows.height else None


def _test(tests: pl.DataFrame | None, test: str) -> dict[str, Any] | None:
    """The test's row; None when the file has no training_tests (`tests` None) or no such row."""
    if tests is None:
        return None
    rows = tests.filter(pl.col("test") == test)
    return rows.row(0, named=True) if rows.height else None


def pretrend_p_value(tests: pl.DataFrame | None) -> float | None:
    """The p-value of the joint test that all pre-training effects are zero, if stored."""
    row = _test(tests, PRETREND_TEST)
    return row["p_value"] if row else None


def hazard_ratio(tests: pl.DataFrame | None) -> dict[str, Any] | None:
    """The Cox model's hazard ratio of going silent, trained against not yet trained, if
    stored: its row of `training_tests` (the ratio in `statistic`)."""
    return _test(tests, HAZARD_RATIO_TEST)


def survival_curves(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Kaplan-Meier points per group, in week order."""
    return con.sql(
        """
        select
            "group"::varchar as "group",
            week,
            survival::double as survival,
            ci_low::double as ci_low,
            ci_high::double as ci_high,
            n_at_risk::bigint as n_at_risk
        from training_survival
        order by "group", week
        """
    ).pl()
