"""Unusable input: exit status 2, a message naming file, column and row, no traceback,
and the previous database left exactly as it was."""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.support import TINY, adoption, rows


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "input"
    shutil.copytree(TINY, folder)
    return folder


def _fails_with(source: Path, db: Path, *expected: str) -> None:
    result = adoption("build", "--input", str(source), "--db", str(db))
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    for text in expected:
        assert text in message
    assert "Traceback" not in result.stderr


def test_missing_required_item(source: Path, tmp_path: Path) -> None:
    (source / "users.csv").unlink()
    _fails_with(source, tmp_path / "x.duckdb", "no 'users' input", "users.csv")


def test_missing_required_column(source: Path, tmp_path: Path) -> None:
    path = source / "events" / "a.csv"
    path.write_text(path.read_text().replace("timestamp,", "ts,", 1))
    _fails_with(source, tmp_path / "x.duckdb", "events/a.csv", "required column 'timestamp' is missing")


def test_file_with_no_usable_row_names_the_first_bad_row(source: Path, tmp_path: Path) -> None:
    (source / "trainings.csv").write_text("site_id,session_date\ns1,someday\ns2,never\n")
    _fails_with(
        source, tmp_path / "x.duckdb", "trainings.csv", "none of its 2 rows is usable",
        "row 2: session_date 'someday' is not a YYYY-MM-DD date",
    )


def test_corrupt_parquet(source: Path, tmp_path: Path) -> None:
    (source / "events" / "c.parquet").write_bytes(b"PAR1 this is not really parquet")
    _fails_with(source, tmp_path / "x.duckdb", "events/c.parquet", "cannot be read as PARQUET")


def test_parquet_column_with_the_loaders_own_name(source: Path, tmp_path: Path) -> None:
    with duckdb.connect() as con:
        con.execute(f"copy (select *, 'x' as adoption__source_file from read_csv('{source / 'events' / 'a.csv'}', "
                    f"all_varchar = true)) to '{source / 'events' / 'c.parquet'}' (format parquet)")
    _fails_with(source, tmp_path / "x.duckdb", "events/c.parquet", "column named 'adoption__source_file'")


def test_no_usable_event(source: Path, tmp_path: Path) -> None:
    shutil.rmtree(source / "events")
    (source / "events.csv").write_text("user_id,timestamp,event_name\n")
    _fails_with(source, tmp_path / "x.duckdb", "no usable event")


def test_missing_folder(tmp_path: Path) -> None:
    _fails_with(tmp_path / "nope", tmp_path / "x.duckdb", "does not exist")


def test_a_path_in_a_message_is_shown_as_it_is(tmp_path: Path) -> None:
    # brackets are console markup to rich; a long path must not be broken across lines
    folder = tmp_path / "[bold]exports" / ("a-very-long-folder-name-" * 4)
    result = adoption("build", "--input", str(folder), "--db", str(tmp_path / "x.duckdb"))
    assert result.returncode == 2
    assert str(folder) in result.stderr


def test_failed_build_keeps_the_previous_file(source: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    assert adoption("build", "--input", str(source), "--db", str(db)).returncode == 0
    before = rows(db, "select * from user_weeks order by all"), rows(db, "select run_id from build_runs")
    (source / "users.csv").write_text("user_id,site_id\nu1,s1\n")  # invited_at is gone
    _fails_with(source, db, "users.csv", "required column 'invited_at' is missing")
    assert (rows(db, "select * from user_weeks order by all"), rows(db, "select run_id from build_runs")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input", "x.duckdb"]  # no temp file left
