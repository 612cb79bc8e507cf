"""The reviews store the app writes to: CSM actions and the access log (metrics.reviews.store).

`adoption serve --reviews PATH` names it; by default it sits beside the analytics file. It is
opened (and created, or migrated) on first use, once per app; every call then opens its own
short SQLite connection, so the server's threads share it.
"""
from __future__ import annotations

import threading
from pathlib import Path

import dash
from flask import current_app

from metrics.reviews.store import ReviewStore

_PATH, _STORE, _STAY_OPEN = "ADOPTION_REVIEWS_PATH", "ADOPTION_REVIEWS", "ADOPTION_REVIEWS_STAY_OPEN"
_opening = threading.Lock()


def use_store(app: dash.Dash, path: Path) -> None:
    app.server.config[_PATH] = Path(path)
    app.server.config.pop(_STORE, None)


def keep_store_open(app: dash.Dash) -> None:
    """A long-running server keeps a connection to the store open (ReviewStore.stay_open): the
    access-log write of every page view then costs one commit, not a checkpoint as well."""
    app.server.config[_STAY_OPEN] = True


def review_store() -> ReviewStore:
    config = current_app.config
    with _opening:
        if _STORE not in config:
            config[_STORE] = ReviewStore(config[_PATH])
            if config.get(_STAY_OPEN):
                config[_STORE].stay_open()
        return config[_STORE]
