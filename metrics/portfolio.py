"""Adoption across all sites over time: the executive's first question."""
from __future__ import annotations

import duckdb
import polars as pl


def weekly_activity(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per week: enrolled users, active users, their share, and licensed seats."""
    return con.sql(
        """
        select
            site_weeks.week,
            sum(site_weeks.users) as users,
            sum(site_weeks.active_users) as active_users,
            sum(site_weeks.active_users) / nullif(sum(site_weeks.users), 0) as active_share,
            sum(site_weeks.events) as events
        from site_weeks
        group by site_weeks.week
        order by site_weeks.week
        """
    ).pl()
