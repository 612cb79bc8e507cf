"""Does outreach help, as the pages show it: `outreach_outcomes`, read back in a fixed order.

The shares and intervals are computed by the build (metrics/reviews/outcomes.py, with
statsmodels), so a web worker only reads them. They are portfolio-wide: no site's own data.
"""
from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

OBSERVATIONAL, RANDOMISED = "observational", "randomised_holdback"
GROUP_ORDER = ["contacted", "not_contacted", "in_queues", "held_back", "difference"]


def outreach_outcomes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every row of `outreach_outcomes`: observational first, contacted (all, then by outcome code),
    not contacted; then the hold-back's arms and their difference."""
    return con.sql(
        """
        select comparison, "group", outcome, flags::bigint as flags, returned::bigint as returned,
            share::double as share, ci_low::double as ci_low, ci_high::double as ci_high, method
        from outreach_outcomes
        order by comparison desc, list_position($groups, "group"), outcome nulls first
        """,
        params={"groups": GROUP_ORDER},
    ).pl()


def observational(outcomes: pl.DataFrame) -> pl.DataFrame:
    """The contacted and not contacted shares, in the table's order."""
    return outcomes.filter(pl.col("comparison") == OBSERVATIONAL)


def holdback_effect(outcomes: pl.DataFrame) -> dict[str, Any] | None:
    """The randomised difference (in_queues minus held_back) with its interval and both arms, or None
    when the hold-back is off or has no flag with 8 known weeks in both arms."""
    rows = {row["group"]: row for row in outcomes.filter(pl.col("comparison") == RANDOMISED).iter_rows(named=True)}
    if "difference" not in rows:
        return None
    return {**rows["difference"], "in_queues": rows["in_queues"], "held_back": rows["held_back"]}
