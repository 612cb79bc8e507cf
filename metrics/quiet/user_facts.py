"""What the status of a user rests on besides weekly counts: dates, tickets, training.

Both are table macros (pipelines/sql/core/user_facts.sql, user_tickets.sql), so the build
asks them at its own week and the backtest and `adoption evaluate` at past weeks, on the
file's data as known by the end of that week.
"""
from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from pipelines.build_context import week_end


def user_facts(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    """Users invited by the end of the as_of week, with what they had done by then."""
    return con.sql("select * from core.user_facts($window_end)", params={"window_end": week_end(as_of)}).pl()


def user_tickets(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    """The tickets filed by the end of the as_of week."""
    return con.sql("select * from core.user_tickets($window_end)", params={"window_end": week_end(as_of)}).pl()
