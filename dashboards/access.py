"""Which sites the person asking may see: the one place every page, callback and download asks.

Without sign-in (`adoption serve` without --auth, loopback only) everyone sees every site.
With sign-in, a `csm` sees only the sites they own; executives and analysts see all.
"""
from __future__ import annotations

import duckdb
from flask import current_app


def visible_sites(con: duckdb.DuckDBPyConnection) -> list[str] | None:
    """The site ids the current request may see, or None for all sites; read through the
    request's own connection, so who owns what comes from the same build as the page."""
    viewer = current_app.config.get("ADOPTION_VIEWER")
    return None if viewer is None else viewer(con)
