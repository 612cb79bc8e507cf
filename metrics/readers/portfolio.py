"""Adoption across the visible sites over time: the executive's first questions.

Every function takes `sites`, the site ids the viewer may see (None for all), and filters
by it in SQL, so that what an executive and a customer success manager see differ only
by that list.
"""
from __future__ import annotations

import duckdb
import polars as pl

from metrics.vocabulary import FLAGGED

VISIBLE = "($sites::varchar[] is null or {column} = any($sites::varchar[]))"


def visible(column: str) -> str:
    """A SQL condition keeping the rows whose `column` is a site in the bound `$sites`."""
    return VISIBLE.format(column=column)


def weekly_activity(con: duckdb.DuckDBPyConnection, *, sites: list[str] | None) -> pl.DataFrame:
    """Per week: enrolled users, active users, their share, and the licensed seats of the
    sites live that week (a site counts from its go-live or first invitation)."""
    return con.sql(
        f"""
        select
            site_weeks.week,
            sum(site_weeks.users)::bigint as users,
            sum(site_weeks.active_users)::bigint as active_users,
            sum(site_weeks.active_users) / nullif(sum(site_weeks.users), 0) as active_share,
            sum(sites.licensed_seats)::bigint as licensed_seats,
            sum(site_weeks.events)::bigint as events
        from site_weeks
        left join core.sites as sites on site_weeks.site_id = sites.site_id
        where {visible("site_weeks.site_id")}
        group by site_weeks.week
        order by site_weeks.week
        """,
        params={"sites": sites},
    ).pl()


def flagged_by_drop_week(con: duckdb.DuckDBPyConnection, *, sites: list[str] | None) -> pl.DataFrame:
    """Users quiet or silently churned now, counted by the week their drop began: when the
    silent churn happened, which a count at as_of alone does not show."""
    return con.sql(
        f"""
        select drop_week, status, count(*) as users
        from user_status
        where status = any($flagged) and drop_week is not null and {visible("site_id")}
        group by drop_week, status
        order by drop_week, status
        """,
        params={"sites": sites, "flagged": list(FLAGGED)},
    ).pl()


def status_totals(con: duckdb.DuckDBPyConnection, *, sites: list[str] | None) -> dict[str, int]:
    """Users per status at as_of; statuses nobody has are absent."""
    return dict(
        con.execute(
            f"select status, count(*) from user_status where {visible('site_id')} group by status",
            {"sites": sites},
        ).fetchall()
    )
