"""adoption rollup on DuckDB and on Spark (local mode): the same event_days and the same
quarantined rows (file, row, reason, values) from the demo and a hostile input (the tiny
one and more), and a build from either rollup's folder writes the contract tables a build from the
raw events writes. One Spark session for the whole test session (getOrCreate)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import polars as pl
import pytest

from benchmarks.compare_builds import differences, tables
from metrics.stages import BUILD_STAGES
from pipelines.build import build
from pipelines.load.carried_quarantine import QUARANTINE_FILE
from pipelines.rollup import rollup
from tests.support import ADOPTION, TINY, adoption
from tests.support.demos import DemoCache
from tests.support.hostile import write_hostile_input
from tests.support.spark import require_java

pytestmark = pytest.mark.slow  # a Spark session, several rollups and builds


@pytest.fixture(scope="module", autouse=True)
def spark() -> None:
    require_java()
    from pipelines.rollup.spark_engine import spark_session

    spark_session()


def _rows(out: Path, files: str) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(f"select * from read_parquet('{out / files}') order by all").fetchall()


def _contract_tables(db: Path, copied_from: Path | None = None, source: Path | None = None) -> dict[str, pl.DataFrame]:
    """The file's contract tables; the rows of items a rollup copied name the files they were
    copied from, so that they compare with a build from the source folder."""
    found = tables(db)
    if copied_from is not None:
        found["quarantine"] = found["quarantine"].with_columns(
            pl.col("source_file", "reason").str.replace_all(f"{copied_from}/", f"{source}/", literal=True))
    return found


def _check_parity(source: Path, raw_db: Path, folder: Path, stages: tuple = ()) -> None:
    outs = {engine: folder / engine for engine in ("duckdb", "spark")}
    for engine, out in outs.items():
        rollup(source, out, engine)
    assert _rows(outs["duckdb"], "event_days/*/*.parquet") == _rows(outs["spark"], "event_days/*/*.parquet")
    quarantined = _rows(outs["duckdb"], QUARANTINE_FILE)
    assert quarantined == _rows(outs["spark"], QUARANTINE_FILE)
    assert {Path(file).parent.name for file, *_ in quarantined} <= {"events"}  # the events' rows only
    expected = _contract_tables(raw_db)
    for engine, out in outs.items():
        db = folder / f"{engine}.duckdb"
        build(out, db, stages=stages)
        assert differences(expected, _contract_tables(db, out, source)) == [], engine


def test_hostile_input(tmp_path: Path) -> None:
    """The tiny input and more: odd timestamps (those either engine alone would read), nasty
    text, lines of too many and too few fields, lines that are no JSON object, Parquet's own
    times, repeated ids."""
    source = write_hostile_input(tmp_path / "input")
    build(source, tmp_path / "raw.duckdb")
    _check_parity(source, tmp_path / "raw.duckdb", tmp_path)
    assert len(_rows(tmp_path / "spark", QUARANTINE_FILE)) > 250


def test_demo_with_every_stage(demos: DemoCache, tmp_path: Path) -> None:
    demo = demos(seed=5, users=300, sites=10, weeks=30)
    _check_parity(demo.input, demo.db, tmp_path, BUILD_STAGES)


def test_command_on_a_spark_master(tmp_path: Path) -> None:
    result = adoption("rollup", "--input", str(TINY), "--out", str(tmp_path / "out"), "--engine", "spark",
                      "--spark-master", "local[1]")
    assert result.returncode == 0, result.stderr
    assert "9 events in 8 rows of event_days" in " ".join(result.stdout.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no scratch folder left


def test_without_java_spark_says_so(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    environment["PATH"] = str(Path(os.environ["PATH"].split(os.pathsep)[0]))  # the venv's bin only: no java
    result = subprocess.run([ADOPTION, "rollup", "--input", str(TINY), "--out", str(tmp_path / "out"), "--engine",
                             "spark"], capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 1
    assert "needs Java 17" in " ".join(result.stderr.split()) and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
