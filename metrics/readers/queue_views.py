"""The flags a review queue is made of: the quiet and silently churned users at the viewer's
sites, as the current build has them, and one flag looked up before an action is recorded.

Like every reader, each function takes `sites` (None for all) and filters by it in SQL, so a
flag at a site the viewer may not see reads exactly like a flag that does not exist.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import polars as pl

from metrics.readers.catalog import has_table
from metrics.readers.held import held, sites_key
from metrics.readers.portfolio import visible
from metrics.readers.site_views import RISKS
from metrics.readers.store import BuildInfo
from metrics.vocabulary import FLAGGED

# A build without site_health still has a queue: its sites simply come unranked.
_UNSCORED = "select null::varchar as site_id, null::varchar as risk, null::double as health_score where false"


def queue_flags(con: duckdb.DuckDBPyConnection, *, sites: list[str] | None) -> pl.DataFrame:
    """Every flag at the visible sites: who, site, role, status, since when, why, last ticket;
    worst site first (high risk first, then the lowest health score), then the longest silent.

    Sorted by polars, not in SQL: each request reads through a fresh connection, where DuckDB's
    sort of 6,000 flags costs more than the rest of the query (some 5 ms)."""
    health = "site_health" if has_table(con, "site_health") else f"({_UNSCORED})"
    return (
        con.sql(
            f"""
            select
                users.user_id,
                users.drop_week,
                users.site_id,
                coalesce(sites.site_name, users.site_id) as site_name,
                users.role,
                users.status,
                users.reason,
                users.feature_stopped_first,
                users.last_ticket_at,
                health.risk,
                health.health_score,
                coalesce(list_position($risks, health.risk), 99) as risk_rank
            from user_status as users
            left join core.sites as sites on users.site_id = sites.site_id
            left join {health} as health on users.site_id = health.site_id
            where list_contains($flagged, users.status) and users.drop_week is not null and {visible("users.site_id")}
            """,
            params={"sites": sites, "flagged": FLAGGED, "risks": RISKS},
        )
        .pl()
        .sort("risk_rank", "health_score", "site_id", "drop_week", "user_id", nulls_last=True)
        .drop("risk_rank")
    )


def held_queue_flags(con: duckdb.DuckDBPyConnection, build: BuildInfo, *, sites: list[str] | None) -> pl.DataFrame:
    """queue_flags of `build`, the one `con` reads, read once per process, file and site list and
    then held (metrics.readers.held): a queue's page is opened all day, and reading thousands of
    flags on each request cost more than the rest of it. A new build renamed over the file, or a
    file changed in place, is read afresh."""
    key = ("queue_flags", build.run_id, build.built_at, sites_key(sites))
    return held(con, key, lambda: queue_flags(con, sites=sites))


def flag_in_build(
    con: duckdb.DuckDBPyConnection, user_id: str, drop_week: date, *, sites: list[str] | None
) -> dict[str, Any] | None:
    """The flag (site_id, status) as this build has it, or None when the user is not flagged
    with this drop week at a visible site: what an action is checked against, never the browser."""
    frame = con.sql(
        f"""
        select site_id, status
        from user_status
        where user_id = $user_id and drop_week = $drop_week and status = any($flagged) and {visible("site_id")}
        """,
        params={"user_id": user_id, "drop_week": drop_week, "flagged": FLAGGED, "sites": sites},
    ).pl()
    return frame.row(0, named=True) if frame.height else None
