"""Stores with actions at chosen times, for the build stages that read them.

The store stamps every action and setting with the clock; a test of what came after a contact
needs contacts in the demo's past, so it moves the stamps back afterwards, as a store used
for months would hold them."""
from __future__ import annotations

import sqlite3
from datetime import datetime

from metrics.reviews.store import Action, ReviewStore


def record_at(store: ReviewStore, action: Action, at: datetime) -> int:
    """Record `action` as if at `at`; its id."""
    action_id = store.record(action)
    with sqlite3.connect(store.path) as con:
        con.execute("update actions set at = ? where action_id = ?", [at.isoformat(), action_id])
    return action_id


def set_setting_at(store: ReviewStore, name: str, value: str, at: datetime) -> None:
    """Set a store setting as if at `at`."""
    store.set_setting(name, value, "analyst@vendor.example")
    with sqlite3.connect(store.path) as con:
        con.execute("update settings set at = ? where name = ?", [at.isoformat(), name])
