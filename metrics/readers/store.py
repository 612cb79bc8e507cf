"""Read-only access to a built DuckDB file, for the app and for notebooks.

Each use opens its own read-only connection: the build replaces the file by renaming
a new one over it, so a connection kept open would keep reading the old build (a server
holds one and looks at the file on every request instead: metrics.readers.held).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class BuildInfo:
    as_of: date
    built_at: datetime
    run_id: str


def open_readonly(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection; the build can replace the file while it is open."""
    return duckdb.connect(str(path), read_only=True)


@contextmanager
def reading(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_readonly(path)
    try:
        yield con
    finally:
        con.close()


def latest_build(con: duckdb.DuckDBPyConnection) -> BuildInfo:
    [(run_id, as_of, finished_at)] = con.execute(
        "select run_id, as_of, finished_at from build_runs order by finished_at desc limit 1"
    ).fetchall()
    return BuildInfo(as_of=as_of, built_at=finished_at, run_id=run_id)
