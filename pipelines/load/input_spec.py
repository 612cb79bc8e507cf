"""The contract's input items: which columns each has, their types, which are required.

Only the columns named here are ever read; anything else in a file (notably the
free-text ticket columns, which may hold patient data) never leaves the file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["id", "text", "timestamp", "date", "integer", "boolean", "json"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False


@dataclass(frozen=True)
class Item:
    name: str
    columns: tuple[Column, ...]
    required: bool

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


ITEMS: dict[str, Item] = {
    item.name: item
    for item in (
        Item(
            "sites",
            (
                Column("site_id", "id", required=True),
                Column("name", "text"),
                Column("region", "text"),
                Column("go_live_date", "date"),
                Column("licensed_seats", "integer"),
                Column("owner", "text"),
            ),
            required=False,
        ),
        Item(
            "users",
            (
                Column("user_id", "id", required=True),
                Column("site_id", "id", required=True),
                Column("role", "text"),
                Column("invited_at", "timestamp", required=True),
                Column("deactivated_at", "timestamp"),
            ),
            required=True,
        ),
        Item(
            "events",
            (
                Column("user_id", "id", required=True),
                Column("timestamp", "timestamp", required=True),
                Column("event_name", "text", required=True),
                Column("event_id", "id"),
                Column("site_id", "id"),
                Column("properties", "json"),
            ),
            required=False,  # events or event_days: EVENT_ITEMS
        ),
        Item(
            "tickets",
            (
                Column("ticket_id", "id", required=True),
                Column("created_at", "timestamp", required=True),
                Column("user_id", "id"),
                Column("site_id", "id"),
                Column("solved_at", "timestamp"),
                Column("status", "text"),
                Column("priority", "text"),
                Column("category", "text"),
                Column("channel", "text"),
            ),
            required=False,
        ),
        Item(
            "trainings",
            (
                Column("site_id", "id", required=True),
                Column("session_date", "date", required=True),
                Column("user_id", "id"),
                Column("kind", "text"),
                Column("attended", "boolean"),
            ),
            required=False,
        ),
        Item(
            "features",
            (
                Column("event_name", "text", required=True),
                Column("feature", "text"),
                Column("is_key_action", "boolean"),
            ),
            required=False,
        ),
        Item(
            # the events already counted once per user, UTC day and event name: written by
            # `adoption rollup`, or by a warehouse; deliveries (the rows they came in,
            # repeats included) is the rollup's own, and is events when not given
            "event_days",
            (
                Column("user_id", "id", required=True),
                Column("day", "date", required=True),
                Column("event_name", "text", required=True),
                Column("events", "integer", required=True),
                Column("first_event_at", "timestamp"),
                Column("last_event_at", "timestamp"),
                Column("deliveries", "integer"),
            ),
            required=False,
        ),
    )
}

# An input holds the events one by one or counted per day: exactly one of these.
EVENT_ITEMS = ("events", "event_days")

FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}
