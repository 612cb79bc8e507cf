"""The built file: idempotent, free of ticket free text, and replaceable while it is read."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb

from pipelines.build import build
from tests.support import READER, TINY, rows, table_contents

PATIENT_TEXT = ["48213377", "Maria Lopez", "1961-04-09", "943 476 5919", "chart would not open", "Login fails"]


def test_build_twice_gives_identical_tables(tmp_path: Path) -> None:
    first, second = tmp_path / "first.duckdb", tmp_path / "second.duckdb"
    build(TINY, first)
    build(TINY, second)
    build(TINY, second)  # and again over an existing file
    assert table_contents(first, exclude=("build_runs",)) == table_contents(second, exclude=("build_runs",))
    assert len(rows(second, "select * from build_runs")) == 2  # history is carried over


def test_free_text_never_reaches_the_file(tiny_db: Path) -> None:
    with duckdb.connect(str(tiny_db), read_only=True) as con:
        text_columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() where data_type = 'VARCHAR'"
        ).fetchall()
        for schema, table, column in text_columns:
            for text in PATIENT_TEXT:
                [(hits,)] = con.execute(
                    f'select count(*) from {schema}.{table} where contains("{column}", ?)', [text]
                ).fetchall()
                assert hits == 0, (table, column, text)
    raw = tiny_db.read_bytes()
    for text in PATIENT_TEXT:
        assert text.encode() not in raw


def test_build_replaces_the_file_while_another_process_reads_it(tmp_path: Path) -> None:
    source, db, stop = tmp_path / "input", tmp_path / "x.duckdb", tmp_path / "stop"
    shutil.copytree(TINY, source)
    build(source, db)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    run_ids = []
    for extra in range(3):
        with open(source / "events" / "a.csv", "a") as events:  # more events each time
            events.write(f"u2,2024-01-17T1{extra}:00:00Z,open,extra{extra},s1\n")
        run_ids.append(build(source, db).run_id)
        assert reader.poll() is None, "the reader died while the file was replaced"
    stop.touch()
    out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0 and int(out) > 20
    # a new connection sees the newest build and its data
    assert rows(db, "select run_id from build_runs order by finished_at")[-3:] == [(r,) for r in run_ids]
    assert rows(db, "select events from user_weeks where user_id = 'u2' and week = '2024-01-15'") == [(5,)]


def test_killed_build_leaves_the_previous_file(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    build(TINY, db)
    before = table_contents(db, exclude=("build_runs",))
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        import pipelines.build as b
        def die(description, step, total):
            if description.startswith("model main."):
                os.kill(os.getpid(), signal.SIGKILL)
        b.build(Path({str(TINY)!r}), Path({str(db)!r}), on_step=die)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert killed.returncode == -9
    assert table_contents(db, exclude=("build_runs",)) == before
    build(TINY, db)  # the next build cleans up what the killed one left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.duckdb"]
