"""The builds of a file and what they quarantined, for the analyst who checks the data.

A quarantined row may belong to a site (it names one, or names a user of one): those of
sites the viewer may not see are left out, and so are rows that name no site at all when
the viewer sees only some sites, since nobody can say whose they are.
"""
from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

# Values inside a reason ('2026-02-30', or the id in "user_id u42 is not in ...") are
# replaced, so that rows rejected for the same problem count together.
_QUOTED_VALUE = r"'[^']*'"
_NAMED_ID = r"^(\w+) \S+ is not in"


def _visible_quarantine(sites: list[str] | None) -> tuple[str, dict[str, Any]]:
    """A CTE named visible_quarantine, the quarantined rows the viewer may see, and its
    parameters. Finding a row's site costs a join with every user, so it is done only when
    some sites are hidden."""
    if sites is None:
        return "visible_quarantine as (select * from quarantine)", {}
    return """
    visible_quarantine as (
        select quarantine.*
        from quarantine
        left join core.users as users on try(json_extract_string(quarantine.raw, '$.user_id')) = users.user_id
        where coalesce(try(json_extract_string(quarantine.raw, '$.site_id')), users.site_id) = any($sites::varchar[])
    )
    """, {"sites": sites}


def recent_builds(con: duckdb.DuckDBPyConnection, limit: int = 10) -> pl.DataFrame:
    """The latest builds, newest first."""
    return con.sql(
        """
        select
            run_id,
            started_at,
            finished_at,
            date_diff('second', started_at, finished_at) as seconds,
            as_of,
            json_array_length(input_files) as n_input_files,
            rows_loaded,
            rows_quarantined,
            duplicate_events,
            status
        from build_runs
        order by finished_at desc
        limit $limit
        """,
        params={"limit": limit},
    ).pl()


def quarantine_by_reason(con: duckdb.DuckDBPyConnection, *, sites: list[str] | None) -> pl.DataFrame:
    """Quarantined rows counted by file and kind of reason, largest first."""
    visible_sql, params = _visible_quarantine(sites)
    return con.sql(
        f"""
        with {visible_sql},

        kinds as (
            select
                parse_filename(source_file) as file,
                regexp_replace(regexp_replace(reason, $quoted, '…', 'g'), $named_id, '\\1 … is not in') as reason
            from visible_quarantine
        )

        select file, reason, count(*) as n_rows
        from kinds
        group by file, reason
        order by n_rows desc, file, reason
        """,
        params={**params, "quoted": _QUOTED_VALUE, "named_id": _NAMED_ID},
    ).pl()


def quarantined_rows(con: duckdb.DuckDBPyConnection, *, sites: list[str] | None, limit: int = 1000) -> pl.DataFrame:
    """The quarantined rows themselves (file, row, reason, values), up to `limit`."""
    visible_sql, params = _visible_quarantine(sites)
    return con.sql(
        f"""
        with {visible_sql}

        select parse_filename(source_file) as file, source_file, row_number, reason, raw
        from visible_quarantine
        order by source_file, row_number
        limit $limit
        """,
        params={**params, "limit": limit},
    ).pl()
