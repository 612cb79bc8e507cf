"""The app reads a build through one connection per process and file (metrics.readers.held): a
request must always read the file as it is when the request starts, a request already reading
must finish on the file it started with, and a file replaced on disk must be let go."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from metrics.readers import held as held_files
from metrics.readers.held import held, held_reading


def build_file(path: Path, value: int) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select $value as x", {"value": value})
    return path


def read(con: duckdb.DuckDBPyConnection) -> int:
    [(x,)] = con.execute("select x from t").fetchall()
    return x


@pytest.fixture
def served(tmp_path: Path) -> Path:
    return build_file(tmp_path / "served.duckdb", 1)


def test_requests_share_one_connection_and_see_a_renamed_build_at_once(served: Path, tmp_path: Path) -> None:
    with held_reading(served) as con:
        assert read(con) == 1
    opened = held_files._files[os.path.realpath(served)]
    with held_reading(served) as con:
        assert read(con) == 1
    assert held_files._files[os.path.realpath(served)] is opened  # not opened again
    os.replace(build_file(tmp_path / "new.duckdb", 2), served)  # as a build does
    with held_reading(served) as con:
        assert read(con) == 2


def test_a_request_reading_the_old_file_finishes_on_it(served: Path, tmp_path: Path) -> None:
    with held_reading(served) as old:
        os.replace(build_file(tmp_path / "new.duckdb", 2), served)
        with held_reading(served) as new:
            assert read(new) == 2
        assert read(old) == 1  # still open: closed when this request is done
        retired = [f for f in held_files._reading.values() if f.replaced]
    assert retired and all(f.readers == 0 for f in retired)
    with pytest.raises(duckdb.ConnectionException):
        retired[0].con.execute("select 1")


def test_requests_at_once_while_a_build_is_renamed_over_the_file(served: Path, tmp_path: Path) -> None:
    """A server's threads read at once (waitress runs 8) while a build lands: every request reads
    one whole file, none fails, and the ones after it read the new build."""
    new = build_file(tmp_path / "new.duckdb", 2)

    def request(i: int) -> int:
        if i == 100:
            os.replace(new, served)
        with held_reading(served) as con:
            return read(con)

    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(request, range(200)))
    assert set(seen) <= {1, 2} and seen[-1] == 2
    with held_reading(served) as con:
        assert read(con) == 2


def test_held_frames_follow_the_file(served: Path, tmp_path: Path) -> None:
    with held_reading(served) as con:
        first = held(con, ("x",), lambda: [read(con)])
    with held_reading(served) as con:
        assert held(con, ("x",), lambda: [read(con)]) is first
        assert held(con, ("y",), lambda: ["other"]) == ["other"]
    os.replace(build_file(tmp_path / "new.duckdb", 2), served)
    with held_reading(served) as con:
        assert held(con, ("x",), lambda: [read(con)]) == [2]


def test_a_file_being_written_is_never_held(served: Path) -> None:
    (served.parent / f"{served.name}.wal").write_bytes(b"")
    with held_reading(served) as con:
        assert read(con) == 1
        assert held(con, ("x",), lambda: object()) is not held(con, ("x",), lambda: object())
    assert os.path.realpath(served) not in held_files._files


def test_a_memory_database_is_never_held() -> None:
    with duckdb.connect() as con:
        assert held(con, ("x",), lambda: object()) is not held(con, ("x",), lambda: object())
