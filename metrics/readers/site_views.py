"""Sites for the customer success manager: the ranked list, and one site's drill-down.

Every function takes `sites`, the site ids the viewer may see (None for all), and filters
by it in SQL. A site outside that list reads exactly like a site that does not exist, so
a page cannot tell anyone which other sites there are.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from metrics.readers.portfolio import visible
from metrics.vocabulary import FLAGGED

RISKS = ["high", "medium", "low"]
RECENT_WEEKS = 12  # "recent" tickets: a quarter, long enough to show a pattern


def site_ranking(
    con: duckdb.DuckDBPyConnection,
    *,
    sites: list[str] | None,
    owner: str | None = None,
    region: str | None = None,
    risk: str | None = None,
) -> pl.DataFrame:
    """The visible sites in `site_health`, worst first (high risk first, then the lowest
    health score), narrowed by the filters that are given."""
    return con.sql(
        f"""
        select
            health.site_id,
            health.name,
            health.owner,
            sites.region,
            health.risk,
            health.health_score,
            health.drivers,
            health.licensed_seats,
            health.users,
            health.active_users,
            health.adoption_rate,
            health.quiet_users,
            health.silent_churn_users,
            health.never_activated_users
        from site_health as health
        left join core.sites as sites on health.site_id = sites.site_id
        where {visible("health.site_id")}
            and ($owner::varchar is null or health.owner = $owner)
            and ($region::varchar is null or sites.region = $region)
            and ($risk::varchar is null or health.risk = $risk)
        order by coalesce(list_position($risks, health.risk), 99), health.health_score nulls last, health.site_id
        """,
        params={"sites": sites, "owner": owner, "region": region, "risk": risk, "risks": RISKS},
    ).pl()


def filter_choices(con: duckdb.DuckDBPyConnection, *, sites: list[str] | None) -> dict[str, list[str]]:
    """The owners and regions of the visible sites: the values a filter can take."""
    [(owners, regions)] = con.execute(
        f"""
        select
            coalesce(list(distinct owner order by owner) filter (where owner is not null), []),
            coalesce(list(distinct region order by region) filter (where region is not null), [])
        from core.sites
        where {visible("site_id")}
        """,
        {"sites": sites},
    ).fetchall()
    return {"owner": owners, "region": regions}


def site_list(con: duckdb.DuckDBPyConnection, *, sites: list[str] | None) -> pl.DataFrame:
    """The visible sites by name, for when no health scores exist to rank them."""
    return con.sql(
        f"""
        select site_id, coalesce(site_name, site_id) as name, region, owner
        from core.sites
        where {visible("site_id")}
        order by name, site_id
        """,
        params={"sites": sites},
    ).pl()


def site_profile(con: duckdb.DuckDBPyConnection, site_id: str, *, sites: list[str] | None) -> dict[str, Any] | None:
    """The site as declared in the input, or None when it does not exist or is not visible."""
    frame = con.sql(
        f"""
        select site_id, coalesce(site_name, site_id) as name, region, owner, go_live_date, licensed_seats
        from core.sites
        where site_id = $site_id and {visible("site_id")}
        """,
        params={"site_id": site_id, "sites": sites},
    ).pl()
    return frame.row(0, named=True) if frame.height else None


def site_health_row(con: duckdb.DuckDBPyConnection, site_id: str, *, sites: list[str] | None) -> dict[str, Any] | None:
    """The site's row of `site_health` (risk, score, drivers), or None."""
    frame = con.sql(
        f"select * from site_health where site_id = $site_id and {visible('site_id')}",
        params={"site_id": site_id, "sites": sites},
    ).pl()
    return frame.row(0, named=True) if frame.height else None


def site_trend(con: duckdb.DuckDBPyConnection, site_id: str, *, sites: list[str] | None) -> pl.DataFrame:
    """The site's weeks: enrolled and active users, events, tickets."""
    return con.sql(
        f"""
        select week, users, active_users, events, tickets
        from site_weeks
        where site_id = $site_id and {visible("site_id")}
        order by week
        """,
        params={"site_id": site_id, "sites": sites},
    ).pl()


def site_users(con: duckdb.DuckDBPyConnection, site_id: str, *, sites: list[str] | None) -> pl.DataFrame:
    """Every user of the site with their status and why. One scan of user_status serves
    the counts, the drop marks and the list below (each scan of a fresh connection reads
    the table from disk again)."""
    return con.sql(
        f"""
        select
            user_id,
            role,
            status,
            drop_week,
            last_active_at,
            baseline_rate,
            recent_rate,
            last_ticket_at,
            trained,
            reason,
            feature_stopped_first
        from user_status
        where site_id = $site_id and {visible("site_id")}
        """,
        params={"site_id": site_id, "sites": sites},
    ).pl()


def flagged_users(users: pl.DataFrame) -> pl.DataFrame:
    """The quiet and silently churned among `site_users`: who, since when, why. Longest silent first."""
    return users.filter(pl.col("status").is_in(FLAGGED)).sort("drop_week", "user_id")


def status_counts(users: pl.DataFrame) -> dict[str, int]:
    """Users per status; statuses nobody has are absent."""
    return dict(users.group_by("status").len().iter_rows())


def drop_weeks(users: pl.DataFrame) -> pl.DataFrame:
    """Per week a drop began, how many of the quiet and silently churned and who (the
    drill-down behind a mark on the site's trend)."""
    return (
        flagged_users(users)
        .group_by(pl.col("drop_week").alias("week"), maintain_order=True)
        .agg(pl.len().alias("n_dropped"), pl.col("user_id").str.join(", ").alias("dropped"))
    )


def site_tickets(
    con: duckdb.DuckDBPyConnection, site_id: str, as_of: date, *, sites: list[str] | None
) -> pl.DataFrame:
    """The site's tickets up to the end of the as_of week, newest first (no free text is stored)."""
    return con.sql(
        f"""
        select ticket_id, created_at, category, priority, status, channel, user_id
        from core.tickets
        where site_id = $site_id and {visible("site_id")} and created_at < $as_of::date + interval 7 day
        order by created_at desc, ticket_id
        """,
        params={"site_id": site_id, "sites": sites, "as_of": as_of},
    ).pl()


def ticket_categories(tickets: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """`site_tickets` of the RECENT_WEEKS weeks up to the as_of week, counted by category."""
    since = datetime.combine(as_of - timedelta(weeks=RECENT_WEEKS - 1), datetime.min.time())
    return (
        tickets.filter(pl.col("created_at") >= since)
        .group_by(pl.col("category").fill_null("uncategorised"))
        .agg(pl.len().alias("tickets"))
        .sort(["tickets", "category"], descending=[True, False])
    )


def training_sessions(
    con: duckdb.DuckDBPyConnection, site_id: str, as_of: date, *, sites: list[str] | None
) -> pl.DataFrame:
    """The site's training sessions up to the end of the as_of week: one row per day and kind,
    whether the whole site was trained, and how many users attended."""
    return con.sql(
        f"""
        select
            session_date,
            coalesce(kind, 'unspecified') as kind,
            bool_or(is_site_session) as is_site_session,
            count(distinct user_id) filter (where attended) as attendees
        from core.trainings
        where site_id = $site_id and {visible("site_id")} and session_date < $as_of::date + interval 7 day
        group by session_date, coalesce(kind, 'unspecified')
        order by session_date desc, kind
        """,
        params={"site_id": site_id, "sites": sites, "as_of": as_of},
    ).pl()
