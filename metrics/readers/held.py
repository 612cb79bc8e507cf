"""A build file held open per process, and what readers keep of it, for a server that answers
many requests over the same file.

Opening the file costs more than most pages' queries (12-14 ms: its catalog is read again), so
a process keeps one read-only connection per file and hands each request a cursor of it. The
file is looked at on every request (where, which inode, size, modification time): a new build
renamed over it, or a file changed in place, is attached afresh, and the old connection is
closed once the last request reading it has finished. The file is attached to an in-memory
database rather than opened: DuckDB hands a second connect to the same path the instance
already open, which would still be the old file. A file with a write-ahead log (being written
in place) is never held: each request opens it, as before.

`held` keeps a frame a reader computed from a file under that file as it was: the same frame
for every request until the file changes.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from metrics.readers.store import reading

T = TypeVar("T")
Identity = tuple[Any, ...]

ALIAS = "build"  # the attached file's name inside the held connection
HELD_FRAMES = 64  # frames a process keeps: (file, reader, site list) combinations, least recently used dropped


@dataclass(eq=False)
class _OpenFile:
    """One file as it was when attached, and how many requests are reading it now."""

    identity: Identity
    con: duckdb.DuckDBPyConnection
    readers: int = 0
    replaced: bool = False


_files: dict[str, _OpenFile] = {}
_reading: dict[int, _OpenFile] = {}  # id of each cursor handed out -> the file it reads
_frames: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
_lock = threading.Lock()


def identity(path: str | Path) -> Identity | None:
    """The file at `path` as it is now; None for one being written in place (its write-ahead log is
    there) or one not there."""
    if os.path.exists(f"{path}.wal"):
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (os.path.realpath(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _attach(path: str, now: Identity) -> _OpenFile:
    con = duckdb.connect()
    con.execute(f"attach $path as {ALIAS} (read_only)", {"path": path})
    return _OpenFile(now, con)


@contextmanager
def held_reading(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the file at `path` as it is now, for one request: a cursor of the
    process's held connection to it (attached afresh when the file changed)."""
    path = str(path)
    now = identity(path)
    if now is None:
        with reading(path) as con:
            yield con
        return
    with _lock:
        file = _files.get(now[0])
        if file is None or file.identity != now:
            if file is not None:
                _retire(file)
            file = _files[now[0]] = _attach(path, now)
        file.readers += 1
        cursor = file.con.cursor()
        _reading[id(cursor)] = file
    try:
        cursor.execute(f"use {ALIAS}")
        yield cursor
    finally:
        with _lock:
            del _reading[id(cursor)]
            cursor.close()
            file.readers -= 1
            if file.replaced and not file.readers:
                file.con.close()


def _retire(file: _OpenFile) -> None:
    """A file replaced on disk: closed now, or by the last request still reading it."""
    file.replaced = True
    if not file.readers:
        file.con.close()


def file_read_by(con: duckdb.DuckDBPyConnection) -> Identity | None:
    """The file `con` reads: as it was attached for a held cursor, else as it is now at the path
    `con` has open (None for a database in memory or a file being written)."""
    with _lock:
        file = _reading.get(id(con))
    if file is not None:
        return file.identity
    [(path,)] = con.execute(
        "select path from duckdb_databases() where database_name = current_database()").fetchall()
    return identity(path) if path else None


def sites_key(sites: list[str] | None) -> tuple[str, ...] | None:
    """A site list as part of a `held` key: the same sites in any order are one key; None is all."""
    return None if sites is None else tuple(sorted(sites))


def held(con: duckdb.DuckDBPyConnection, key: tuple[Hashable, ...], read: Callable[[], T]) -> T:
    """`read()` of the file `con` reads, computed once per process and file (as it is) and `key`,
    then the same object until the file changes. A connection to no file is never held for."""
    file = file_read_by(con)
    if file is None:
        return read()
    full = (file, *key)
    with _lock:
        if full in _frames:
            _frames.move_to_end(full)
            return _frames[full]
    value = read()
    with _lock:
        _frames[full] = value
        while len(_frames) > HELD_FRAMES:
            _frames.popitem(last=False)
    return value
