"""Which sites the person asking may see: the one module that decides it, for every page,
callback and download.

Without sign-in (`adoption serve` without --auth, loopback only) everyone sees every site.
With sign-in, a `csm` sees only the sites they own (the sites input's `owner`); executives and
analysts see all. Sign-in says who is asking (`scope_by`); pages ask `visible_sites`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dash
import duckdb
from flask import current_app

from metrics.readers.site_owners import sites_owned_by

ROLES = ("csm", "executive", "analyst")
_SITES_FOR_REQUEST = "ADOPTION_SITES_FOR_REQUEST"  # the app's own settings: set here, read here
_WHO = "ADOPTION_WHO"
LOCAL_VIEWER = "local"  # who the access log names when there is no sign-in (loopback only)


@dataclass(frozen=True)
class Viewer:
    """A signed-in person: their user name (an e-mail) and role."""

    user: str
    role: str

    def sites(self, con: duckdb.DuckDBPyConnection) -> list[str] | None:
        """The site ids this person may see, or None for all."""
        return sites_owned_by(con, self.user) if self.role == "csm" else None


def scope_by(app: dash.Dash, who: Callable[[], Viewer]) -> None:
    """From now on every request of `app` sees what `who()` (the person signed in to it) may see."""
    app.server.config[_SITES_FOR_REQUEST] = lambda con: who().sites(con)
    app.server.config[_WHO] = who


def scope_to_sites(app: dash.Dash, sites: list[str] | None) -> None:
    """Every request sees these sites (None: all): a fixed scope, for tests of what pages show."""
    app.server.config[_SITES_FOR_REQUEST] = None if sites is None else (lambda con: list(sites))
    app.server.config.pop(_WHO, None)


def current_viewer() -> Viewer | None:
    """Who is asking (None without sign-in, where everyone sees every site)."""
    who = current_app.config.get(_WHO)
    return None if who is None else who()


def viewer_name() -> str:
    """The name the access log and the reviews store record for the current request."""
    viewer = current_viewer()
    return LOCAL_VIEWER if viewer is None else viewer.user


def may_see_server_paths() -> bool:
    """Where files live on the server is for the people who run it: an analyst, or whoever uses
    the app on this machine without sign-in; a CSM or an executive sees file names only."""
    viewer = current_viewer()
    return viewer is None or viewer.role == "analyst"


def visible_sites(con: duckdb.DuckDBPyConnection) -> list[str] | None:
    """The site ids the current request may see, or None for all sites; read through the
    request's own connection, so who owns what comes from the same build as the page."""
    sites_for = current_app.config.get(_SITES_FOR_REQUEST)
    return None if sites_for is None else sites_for(con)
