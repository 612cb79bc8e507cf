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

_PATH, _STORE = "ADOPTION_REVIEWS_PATH", "ADOPTION_REVIEWS"
_opening = threading.Lock()


def use_store(app: dash.Dash, path: Path) -> None:
    app.server.config[_PATH] = Path(path)
    app.server.config.pop(_STORE, None)


def review_store() -> ReviewStore:
    config = current_app.config
    with _opening:
        if _STORE not in config:
            config[_STORE] = ReviewStore(config[_PATH])
        return config[_STORE]
