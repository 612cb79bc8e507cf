"""What an incremental build takes over from the file it extends, attached read-only as
`previous`, and the checks that what that build decided about its rows still holds.

Taken over (as landing views, read where the models need them): the events it counted per
user, day and event name, the keys of the event rows it read (core.event_keys), and the
quarantined rows of its events files. A full build gets the same names as views of no rows, so
the models read them alike. The previous file is never written: the new build writes its own.

An old event row's verdict depends on more than its file: on the users (an unknown user, an
event before the invitation week) and on the time of the build (an event in the future).
When those changed for a row read before, the build starts again as a full build.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.load.input_ledger import BuildPlan, LedgerEntry, read_ledger

PREVIOUS = "previous"
# What the counting models add the new events to (pipelines/sql/core/uncounted_events.sql,
# user_event_days.sql): the previous file's in an incremental build, nothing otherwise (and for
# any other run of those models, such as adoption rollup). Columns, and where they come from.
COUNTED_TABLES: dict[str, tuple[dict[str, str], str]] = {
    "counted_event_keys": ({"event_key": "UBIGINT"}, "core.event_keys"),
    "counted_user_event_days": (
        {"user_id": "VARCHAR", "event_date": "DATE", "event_name": "VARCHAR", "events": "BIGINT",
         "first_event_at": "TIMESTAMP", "last_event_at": "TIMESTAMP", "deliveries": "BIGINT"},
        "core.user_event_days",
    ),
}


def _previous_rows(columns: dict[str, str], table: str) -> str:
    return f"select {', '.join(columns)} from {PREVIOUS}.{table}"


class StaleVerdicts(Exception):
    """The previous build's verdict on rows it read no longer holds: build from scratch (the message says why)."""


def attach_previous(con: duckdb.DuckDBPyConnection, db_path: Path) -> list[LedgerEntry] | None:
    """Attach db_path read-only as `previous` and return its ledger; None when there is no
    file or it is not a DuckDB file (history starts again)."""
    if not db_path.exists():
        return None
    try:
        con.execute(f"attach ? as {PREVIOUS} (read_only)", [str(db_path)])
        return read_ledger(con, PREVIOUS)
    except duckdb.Error:
        con.execute(f"detach database if exists {PREVIOUS}")
        return None


def detach_previous(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"detach database if exists {PREVIOUS}")


def why_not_extend(con: duckdb.DuckDBPyConnection, plan: BuildPlan) -> str | None:
    """Why an incremental build cannot extend the previous file after all, or None: its
    counts are not laid out as this build's (a file of another version), or it quarantined
    events of the files it keeps as in the future, which a build now may accept
    (validation.NOT_IN_FUTURE's reason)."""
    for columns, table in COUNTED_TABLES.values():
        try:
            con.execute(f"{_previous_rows(columns, table)} limit 0").fetchall()
        except duckdb.Error:
            return "the last build's counts are laid out otherwise (another version of adoption)"
    [(future, example)] = con.execute(
        f"""select count(*), min(source_file) from {PREVIOUS}.main.quarantine
        where list_contains(?, source_file) and contains(reason, 'is in the future')""",
        [[entry.path for entry in plan.unchanged_events]],
    ).fetchall()
    return f"the last build quarantined {future:,} events as in the future (such as in {example})" if future else None


def create_counted_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create landing's COUNTED_TABLES as views of no rows: nothing counted before. A view
    that is empty by its SQL lets DuckDB drop the joins with it (an anti join with an empty
    table took 0.7 s of the 20M-event demo's 1.2 s to check its events, each of the three
    times the dedupe reads them)."""
    for name, (columns, _) in COUNTED_TABLES.items():
        nulls = ", ".join(f"null::{sql_type} as {column}" for column, sql_type in columns.items())
        con.execute(f"create view landing.{name} as select {nulls} where false")


def carry_counts(con: duckdb.DuckDBPyConnection, plan: BuildPlan) -> None:
    """In an incremental build, make landing's COUNTED_TABLES views of the previous file and
    add its unchanged files' quarantined rows to landing.carried_quarantine."""
    if not plan.is_incremental:
        return
    for name, (columns, table) in COUNTED_TABLES.items():
        con.execute(f"create or replace view landing.{name} as {_previous_rows(columns, table)}")
    con.execute(
        f"""insert into landing.carried_quarantine
        select source_file, row_number, reason, raw from {PREVIOUS}.main.quarantine
        where list_contains(?, source_file)""",
        [[entry.path for entry in plan.unchanged_events]],
    )


def stale_verdicts(con: duckdb.DuckDBPyConnection) -> str | None:
    """After the models of an incremental build: why the previous build's verdicts no longer
    hold, or None. A user whose invitation week changed, who was added or removed, and who
    has an event row read before (counted or quarantined); or a repeat of an event counted
    before that names a user, day and event name the previous build counted nothing on (its
    delivery would have no day to count on)."""
    [(users, example)] = con.execute(
        f"""with invited_before as (
            select user_id, date_trunc('week', invited_at) as invited_week from {PREVIOUS}.core.users
        ),
        invited_now as (
            select user_id, date_trunc('week', invited_at) as invited_week from core.users
        ),
        changed as (
            (select * from invited_before except select * from invited_now)
            union
            (select * from invited_now except select * from invited_before)
        ),
        with_rows_before as (
            select user_id from {PREVIOUS}.core.event_days
            union
            -- an unreadable line's raw is its text, not JSON, and names no user it could depend on
            select json_extract_string(try_cast(raw as json), '$.user_id') from landing.carried_quarantine
        )
        select count(distinct user_id), min(user_id) from changed semi join with_rows_before using (user_id)"""
    ).fetchall()
    if users:
        return (f"the users input changed for {users:,} users with events read before (such as {example}: "
                "added, removed or invited in another week)")
    moved = con.execute("select user_id, event_date, event_name from core.user_event_days where events = 0 limit 1").fetchall()
    if moved:
        user_id, day, name = moved[0]
        return (f"an event counted before was delivered again for {user_id} on {day} ({name}), "
                "where the last build counted none")
    return None
