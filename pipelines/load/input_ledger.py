"""The ledger of the input files a build read, kept in the file it writes, and what the next
build concludes from it: which events files are new, or why everything is read again.

Only events files are read incrementally; the other items are small and read whole every
time. An events file read before must be exactly as it was (same size and SHA-256 of its
bytes: a size and time alone would miss an edit that keeps both); a new one must sort after
every file read before, since a repeated event keeps its first delivery in file order.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from pipelines.load.input_files import InputFile

LEDGER_TABLE = "core.input_ledger"
INCREMENTAL_ITEM = "events"
LEDGER_COLUMNS = {
    "item": ("VARCHAR", "The input item the file belongs to (events, users, ...)."),
    "path": ("VARCHAR", "The file as the build named it (quarantine.source_file uses the same)."),
    "size_bytes": ("BIGINT", "Its size when read."),
    "modified_at": ("TIMESTAMP", "Its modification time when read (UTC)."),
    "content_sha256": ("VARCHAR", "SHA-256 of its bytes when read: an events file whose hash differs was edited."),
    "rows_read": ("BIGINT", "Rows read from it (accepted and quarantined)."),
    "duckdb_version": ("VARCHAR", "DuckDB that read it: event keys are DuckDB's hash(), comparable within a version."),
}


@dataclass(frozen=True)
class LedgerEntry:
    item: str
    path: str
    size_bytes: int
    modified_at: datetime
    content_sha256: str
    rows_read: int = 0
    duckdb_version: str = duckdb.__version__


@dataclass(frozen=True)
class BuildPlan:
    """What to read: every file (a full build, and why), or the events files not read before."""

    mode: str  # "full" or "incremental"
    reason: str
    new_events: frozenset[str] = frozenset()  # paths; incremental only
    unchanged_events: tuple[LedgerEntry, ...] = ()  # incremental only: as the previous build read them

    @property
    def is_incremental(self) -> bool:
        return self.mode == "incremental"

    def reads(self, file: InputFile) -> bool:
        return not self.is_incremental or file.item != INCREMENTAL_ITEM or str(file.path) in self.new_events


def full_build(reason: str) -> BuildPlan:
    return BuildPlan("full", reason)


def fingerprint(file: InputFile) -> LedgerEntry:
    """The file's size, modification time and content hash, as it is now."""
    with open(file.path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    stat = file.path.stat()
    modified_at = datetime.fromtimestamp(stat.st_mtime, timezone.utc).replace(tzinfo=None)
    return LedgerEntry(file.item, str(file.path), stat.st_size, modified_at, digest)


def _changed(before: LedgerEntry, now: LedgerEntry | None) -> str | None:
    """How an events file read before differs now, in words; None when it is the same."""
    if now is None:
        return f"{before.path} was read by the last build and is gone"
    if now.size_bytes < before.size_bytes:
        return f"{before.path} is shorter than when the last build read it (truncated)"
    if now.content_sha256 != before.content_sha256:
        return f"{before.path} changed since the last build read it (edited)"
    return None


def plan_build(previous: list[LedgerEntry] | None, current: Iterable[LedgerEntry]) -> BuildPlan:
    """Incremental when every events file the last build read is unchanged; else full, saying why."""
    if previous is None:
        return full_build("no earlier build in this file to extend")
    if not previous:
        return full_build("the file's last build kept no ledger of its input")
    if previous[0].duckdb_version != duckdb.__version__:
        return full_build(f"the last build ran DuckDB {previous[0].duckdb_version} (event keys differ between versions)")
    now = {entry.path: entry for entry in current}
    if any(entry.item == "event_days" for entry in now.values()):
        return full_build("the input gives events counted per day (event_days), which are read whole")
    read_before = [entry for entry in previous if entry.item == INCREMENTAL_ITEM]
    for entry in read_before:
        change = _changed(entry, now.get(entry.path))
        if change:
            return full_build(change)
    old_paths = {entry.path for entry in read_before}
    new = sorted(path for path, entry in now.items() if entry.item == INCREMENTAL_ITEM and path not in old_paths)
    last_old = max(old_paths, default="")
    if new and new[0] < last_old:
        return full_build(f"new events file {new[0]} sorts before {last_old}, read by the last build "
                          "(a repeated event keeps its first delivery in file order)")
    reason = (f"read {len(new)} new events file{'s' if len(new) != 1 else ''}; "
              f"{len(read_before)} unchanged since the last build not read again")
    unchanged = tuple(replace(entry, modified_at=now[entry.path].modified_at) for entry in read_before)
    return BuildPlan("incremental", reason, frozenset(new), unchanged)


def read_ledger(con: duckdb.DuckDBPyConnection, database: str) -> list[LedgerEntry] | None:
    """The ledger in attached `database`; [] when that file has none (built before ledgers)."""
    schema, table = LEDGER_TABLE.split(".")
    [(exists,)] = con.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
        [database, schema, table],
    ).fetchall()
    if not exists:
        return []
    names = ", ".join(LEDGER_COLUMNS)
    return [LedgerEntry(*row) for row in con.execute(f"select {names} from {database}.{LEDGER_TABLE}").fetchall()]


def write_ledger(con: duckdb.DuckDBPyConnection, entries: list[LedgerEntry]) -> None:
    """Create the ledger table in the connection's own file, with its comments."""
    columns = ", ".join(f"{name} {sql_type}" for name, (sql_type, _) in LEDGER_COLUMNS.items())
    con.execute(f"create table {LEDGER_TABLE} ({columns})")
    con.executemany(
        f"insert into {LEDGER_TABLE} values ({', '.join('?' * len(LEDGER_COLUMNS))})",
        [[getattr(entry, name) for name in LEDGER_COLUMNS] for entry in entries],
    )
    con.execute(f"comment on table {LEDGER_TABLE} is 'The input files the build read or found unchanged since "
                "the build before; the next build reads only events files not listed here.'")
    for name, (_, text) in LEDGER_COLUMNS.items():
        escaped = text.replace("'", "''")
        con.execute(f"comment on column {LEDGER_TABLE}.{name} is '{escaped}'")
