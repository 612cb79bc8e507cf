"""The same rows as CSV, Parquet or JSON Lines, in a file or a folder, build the same tables."""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.build import build
from tests.support import TINY, rows

TABLES = ["user_weeks", "site_weeks"]


def _convert(source: Path, target: Path, fmt: str) -> None:
    """Write the readable rows of each tiny item in one format, one file per item.

    Parquet gets native timestamp types for the events, as exporters write them.
    """
    target.mkdir()
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        for item in ["sites", "users", "tickets", "trainings", "events/a", "events/b"]:
            path = next(source.glob(f"{item}.*"))
            if path.suffix == ".jsonl":
                con.execute(
                    "create or replace table t as select * from read_json(?, format='newline_delimited', "
                    "ignore_errors=true)",
                    [str(path)],
                )
            else:
                con.execute(
                    "create or replace table t as select * from read_csv(?, all_varchar=true, ignore_errors=true)",
                    [str(path)],
                )
            if item.startswith("events") and fmt == "parquet":
                con.execute("create or replace table t as select * replace (try_cast(timestamp as timestamptz) "
                            "as timestamp) from t")
            (target / item).parent.mkdir(exist_ok=True)
            _write(con, target / f"{item}.{fmt}", fmt)


def _write(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> None:
    options = {"csv": "(format csv, header true)", "parquet": "(format parquet)", "jsonl": "(format json)"}[fmt]
    con.execute(f"copy t to '{path}' {options}")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_formats_agree(fmt: str, tmp_path: Path, tiny_db: Path) -> None:
    _convert(TINY, tmp_path / "input", fmt)
    db = tmp_path / "x.duckdb"
    build(tmp_path / "input", db)
    for table in TABLES:
        assert rows(db, f"select * from {table} order by all") == rows(tiny_db, f"select * from {table} order by all")


def test_items_may_be_folders_of_mixed_files(tmp_path: Path, tiny_db: Path) -> None:
    source = tmp_path / "input"
    shutil.copytree(TINY, source)
    (source / "users").mkdir()
    (source / "users.csv").rename(source / "users" / "all.csv")
    db = tmp_path / "x.duckdb"
    build(source, db)
    assert rows(db, "select * from user_weeks order by all") == rows(tiny_db, "select * from user_weeks order by all")


def test_parquet_files_loaded_together_keep_their_file_and_row(tmp_path: Path) -> None:
    """Parquet files with the same columns are loaded in one insert; each row names its own file and row."""
    source = tmp_path / "input"
    shutil.copytree(TINY, source)
    events = source / "events"
    good = ("('u1', TIMESTAMPTZ '2024-01-02 10:00:00+00', 'open', 'p{n}-1'), "
            "('u2', TIMESTAMPTZ '2024-01-04 10:00:00+00', 'open', 'p{n}-2')")
    with duckdb.connect() as con:
        for name, values in [
            ("p1", good.format(n=1)),
            ("p2", good.format(n=2) + ", ('u1', null, 'open', 'p2-3')"),
            ("p3", "('u1', TIMESTAMPTZ '2024-01-05 10:00:00+00', 'open', 'p3-1', 'note')"),
        ]:
            columns = "user_id, timestamp, event_name, event_id" + (", note" if name == "p3" else "")
            con.execute(f"copy (select * from (values {values}) as t({columns})) "
                        f"to '{events / name}.parquet' (format parquet)")
    (events / "p4.parquet").write_bytes((events / "p2.parquet").read_bytes())
    summary = build(source, tmp_path / "x.duckdb")
    loads = {Path(f.path).name: (f.rows_read, f.rows_rejected) for f in summary.files}
    assert [loads[f"p{n}.parquet"] for n in (1, 2, 3, 4)] == [(2, 0), (3, 1), (1, 0), (3, 1)]
    quarantined = "select source_file, row_number, reason from quarantine where source_file like '%.parquet'"
    assert sorted(rows(tmp_path / "x.duckdb", quarantined)) == [
        (str(events / "p2.parquet"), 3, "timestamp is missing"),
        (str(events / "p4.parquet"), 3, "timestamp is missing"),
    ]
