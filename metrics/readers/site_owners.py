"""Which sites a customer success manager owns, from the sites input's `owner` column."""
from __future__ import annotations

import duckdb


def sites_owned_by(con: duckdb.DuckDBPyConnection, user: str) -> list[str]:
    """Site ids whose owner is this user name (e-mail), compared without regard to case."""
    rows = con.execute(
        "select site_id from core.sites where lower(owner) = lower(?) order by site_id", [user]
    ).fetchall()
    return [site_id for (site_id,) in rows]
