"""The training effect as the pages show it, read from `training_effect` and `training_survival`.

The estimates are portfolio-wide (models over all trained sites), so these functions take
no site list: they show no site's own data.

`training_effect` holds, for the outcome weekly_active_rate, the overall rows (event_week
null, one per method), the event study (event weeks -8..12) and a pre-trend test whose
`estimate` is a p-value (method pretrend_wald_f); and, as its own outcome, the hazard
ratio of going silent from a Cox model (method cox_phreg_site_effects). They are told
apart by outcome and method, so that the table keeps the contract's columns.
"""
from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

OUTCOME = "weekly_active_rate"
CALLAWAY_SANTANNA = "callaway_santanna"
PRETREND = "pretrend"  # a method naming this holds a p-value in `estimate`
COX = "cox"  # a method naming this holds a hazard ratio


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


def _rate_rows(effects: pl.DataFrame) -> pl.DataFrame:
    """The weekly active rate's estimates, without its test rows."""
    return effects.filter((pl.col("outcome") == OUTCOME) & ~pl.col("method").str.contains(PRETREND))


def event_study(effects: pl.DataFrame) -> pl.DataFrame:
    """The Callaway & Sant'Anna estimates by week relative to the first training."""
    return _rate_rows(effects).filter(
        pl.col("event_week").is_not_null() & (pl.col("method") == CALLAWAY_SANTANNA)
    ).sort("event_week")


def overall_estimates(effects: pl.DataFrame) -> pl.DataFrame:
    """One overall effect per method: the estimator first, the biased comparisons after."""
    return (
        _rate_rows(effects)
        .filter(pl.col("event_week").is_null())
        .sort(pl.col("method") != CALLAWAY_SANTANNA, "method")
    )


def headline(effects: pl.DataFrame) -> dict[str, Any] | None:
    """The overall Callaway & Sant'Anna effect, or None when it was not estimated."""
    rows = overall_estimates(effects).filter(pl.col("method") == CALLAWAY_SANTANNA)
    return rows.row(0, named=True) if rows.height else None


def pretrend_p_value(effects: pl.DataFrame) -> float | None:
    """The p-value of the joint test that all pre-training effects are zero, if stored."""
    rows = effects.filter((pl.col("outcome") == OUTCOME) & pl.col("method").str.contains(PRETREND))
    return rows["estimate"][0] if rows.height else None


def hazard_ratio(effects: pl.DataFrame) -> dict[str, Any] | None:
    """The Cox model's hazard ratio of going silent, trained against not yet trained, if stored."""
    rows = effects.filter(pl.col("method").str.contains(COX))
    return rows.row(0, named=True) if rows.height else None


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
