"""Which sites a customer success manager owns, from the sites input's `owner` column."""
from __future__ import annotations

import duckdb

from metrics.readers.held import held


def sites_owned_by(con: duckdb.DuckDBPyConnection, user: str) -> list[str]:
    """Site ids whose owner is this user name (e-mail), compared without regard to case; read once
    per build file and user (every request asks), a fresh list each time."""

    def read() -> tuple[str, ...]:
        rows = con.execute(
            "select site_id from core.sites where lower(owner) = lower(?) order by site_id", [user]
        ).fetchall()
        return tuple(site_id for (site_id,) in rows)

    return list(held(con, ("sites_owned_by", user), read))
