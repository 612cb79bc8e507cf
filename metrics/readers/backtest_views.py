"""`flag_backtest` as the /data page shows it: per past cut week, how many users each method
newly flagged and how many of them used the product again within the horizon.

The backtest is portfolio-wide (a check of the scoring, like the training estimates), so this
takes no site list: it shows no one site's data.
"""
from __future__ import annotations

import duckdb
import polars as pl

from metrics.vocabulary import BACKTEST_METHODS as METHODS, HORIZON_WEEKS, MIN_HISTORY_WEEKS

__all__ = ["HORIZON_WEEKS", "METHODS", "MIN_HISTORY_WEEKS", "backtest_rows", "pooled"]


def backtest_rows(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every row of flag_backtest, by cut week then METHODS order, with the share of new flags that
    came back (null where a method flagged no one anew, or at the first cut)."""
    return con.sql(
        """
        select
            cut_week,
            method,
            horizon_weeks::integer as horizon_weeks,
            users::bigint as users,
            flagged::bigint as flagged,
            came_back::bigint as came_back,
            new_flags::bigint as new_flags,
            new_came_back::bigint as new_came_back,
            new_came_back / nullif(new_flags, 0) as new_came_back_share,
            gone_recall::double as gone_recall
        from flag_backtest
        order by cut_week, list_position($methods, method), method
        """,
        params={"methods": METHODS},
    ).pl()


def pooled(rows: pl.DataFrame) -> pl.DataFrame:
    """Per method: new flags and how many came back (summed over the cuts after the first, the only
    ones with new flags), and the mean share of gone users flagged over the cuts that had any."""
    return (
        rows.group_by("method", maintain_order=True)
        .agg(
            pl.len().alias("cuts"),
            pl.col("new_flags").sum(),
            pl.col("new_came_back").sum(),
            pl.col("gone_recall").mean().alias("mean_gone_recall"),
        )
    )
