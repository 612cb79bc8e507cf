"""adoption rollup on DuckDB, and the event_days item: what the command refuses (exit 2, the
file, column and row named, nothing written), that its folder is a complete input, and that
event_days made elsewhere (a warehouse, without the optional columns) builds the same tables."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.build import build
from pipelines.errors import InputError
from pipelines.rollup import rollup
from tests.support import TINY, adoption, rows


def _fails_with(*args: str, expected: list[str]) -> None:
    result = adoption(*args)
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert all(text in message for text in expected), message
    assert "Traceback" not in result.stderr


def test_the_folder_is_a_complete_input(tmp_path: Path) -> None:
    summary = rollup(TINY, tmp_path / "out")
    assert (summary.events, summary.event_days, summary.rows_quarantined) == (9, 8, 5)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "event_days", "quarantine.parquet", "sites.csv", "tickets.jsonl", "trainings.csv", "users.csv"]
    assert [p.name for p in (tmp_path / "out" / "event_days").iterdir()] == ["month=2024-01"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no scratch folder left
    rollup(TINY, tmp_path / "out")  # a second run replaces its own output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_events_and_event_days_together_are_refused(tmp_path: Path) -> None:
    rollup(TINY, tmp_path / "out")
    shutil.copytree(TINY / "events", tmp_path / "out" / "events")
    _fails_with("build", "--input", str(tmp_path / "out"), "--db", str(tmp_path / "x.duckdb"),
                expected=["has both 'events' and 'event_days'"])
    _fails_with("rollup", "--input", str(tmp_path / "out"), "--out", str(tmp_path / "again"),
                expected=["has both 'events' and 'event_days'"])


def test_a_rollup_of_counted_events_is_refused(tmp_path: Path) -> None:
    rollup(TINY, tmp_path / "out")
    _fails_with("rollup", "--input", str(tmp_path / "out"), "--out", str(tmp_path / "again"),
                expected=["has event_days", "reads raw events"])


def test_unusable_events_leave_the_previous_output(tmp_path: Path) -> None:
    source = shutil.copytree(TINY, tmp_path / "input")
    rollup(source, tmp_path / "out")
    before = sorted(str(p) for p in (tmp_path / "out").rglob("*"))
    (source / "events" / "a.csv").write_text("user_id,timestamp,event_name\nu1,someday,open\nu2,never,open\n")
    _fails_with("rollup", "--input", str(source), "--out", str(tmp_path / "out"),
                expected=["events/a.csv", "none of its 2 rows is usable", "row 2: timestamp 'someday' is not an ISO 8601"])
    (source / "events" / "a.csv").write_text("user_id,ts,event_name\nu1,2024-01-02,open\n")
    _fails_with("rollup", "--input", str(source), "--out", str(tmp_path / "out"),
                expected=["events/a.csv", "required column 'timestamp' is missing"])
    assert sorted(str(p) for p in (tmp_path / "out").rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input", "out"]


def test_a_folder_that_is_not_a_rollup_output_is_kept(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="is not the output of an earlier rollup"):
        rollup(TINY, tmp_path / "notes")
    with pytest.raises(InputError, match="is the input folder"):
        rollup(TINY, TINY)
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"


def test_event_days_from_a_warehouse(tmp_path: Path, tiny_db: Path) -> None:
    """Only the required columns, as a warehouse query may give them: the same weeks; bad rows
    quarantined with their reason."""
    source = shutil.copytree(TINY, tmp_path / "input", ignore=shutil.ignore_patterns("events"))
    counted = rows(tiny_db, "select user_id, event_date, event_name, events from core.user_event_days order by all")
    lines = ["user_id,day,event_name,events"] + [f"{u},{d},{n},{e}" for u, d, n, e in counted] + [
        f"{counted[0][0]},{counted[0][1]},{counted[0][2]},5",  # the same key again
        "u9,2024-01-02,open,1",  # not a user
        "u2,2023-12-20,open,1",  # before the week of the invitation
        "u1,2024-01-02,open,-1",  # negative
        "u1,2099-01-02,open,1",  # in the future
    ]
    (source / "event_days.csv").write_text("\n".join(lines) + "\n")
    build(source, tmp_path / "x.duckdb")
    for table in ("user_weeks", "site_weeks"):
        assert rows(tmp_path / "x.duckdb", f"select * from {table} order by all") == rows(
            tiny_db, f"select * from {table} order by all")
    quarantined = rows(tmp_path / "x.duckdb",
                       "select row_number, reason from quarantine where source_file like '%event_days.csv' order by 1")
    n = len(counted) + 1
    assert quarantined == [
        (n + 1, f"duplicate user_id, day and event_name u1, 2024-01-01, open (first defined at {source}/event_days.csv row 2)"),
        (n + 2, "user_id u9 is not in the users input"),
        (n + 3, "day 2023-12-20 is before the week the user was invited (2024-01-03 00:00:00)"),
        (n + 4, "events -1 is negative"),
        (n + 5, "day 2099-01-02 is in the future (after the build started)"),
    ]
