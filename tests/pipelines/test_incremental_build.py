"""Incremental builds: with events files added and the old ones unchanged, `build` reads only
the new files and writes what a build from scratch on the whole input writes; an edited,
truncated or removed file, or users changed under old events, means a full build that says why."""
from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from metrics.stages import BUILD_STAGES
from pipelines.build import build
from pipelines.demo.generate import write_demo
from tests.support import adoption, table_contents

OTHER_ITEMS = ("sites.csv", "users.csv", "tickets.jsonl", "trainings.csv", "features.csv")


def _same_as_full_build(input_dir: Path, db: Path, tmp_path: Path, **options) -> None:
    """Every table of `db` equals a build from scratch of the same input (build_runs aside)."""
    full = tmp_path / "full.duckdb"
    full.unlink(missing_ok=True)
    build(input_dir, full, **options)
    assert table_contents(db, exclude=("build_runs",)) == table_contents(full, exclude=("build_runs",))


@pytest.fixture(scope="module")
def weekly_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo's Parquet events as one file per week (a re-delivery of an event in the
    week after its first), and its other items with the legacy CSV export of events (rows
    without event_id, read from the first build on); a folder to copy from."""
    root = tmp_path_factory.mktemp("weekly")
    write_demo(root / "demo", users=120, sites=3, weeks=16, seed=11)
    weeks = root / "weeks"
    weeks.mkdir()
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(
            """create table rows as
            select user_id, "timestamp", event_name, event_id, site_id, properties,
                   date_trunc('week', "timestamp")::date + case
                       when event_id is null then 0
                       else 7 * (row_number() over (partition by event_id order by "timestamp") - 1)::int
                   end as file_week
            from read_parquet(?)""",
            [str(root / "demo" / "events" / "*.parquet")],
        )
        for (week,) in con.execute("select distinct file_week from rows order by 1").fetchall():
            con.execute(
                f"copy (select * exclude (file_week) from rows where file_week = ? order by event_id) "
                f"to '{weeks / f'week-{week}.parquet'}'",
                [week],
            )
    for name in OTHER_ITEMS:
        shutil.copy(root / "demo" / name, root / name)
    shutil.copy(root / "demo" / "events" / "legacy_export.csv", root / "legacy_export.csv")
    return root


def _input(weekly_files: Path, target: Path, first_weeks: int) -> list[Path]:
    """An input folder with the first weeks' files (negative: all but the last so many); the
    weeks left to add, in order."""
    (target / "events").mkdir(parents=True)
    for name in OTHER_ITEMS:
        shutil.copy(weekly_files / name, target / name)
    shutil.copy(weekly_files / "legacy_export.csv", target / "events" / "legacy_export.csv")
    files = sorted((weekly_files / "weeks").iterdir())
    for file in files[:first_weeks]:
        shutil.copy(file, target / "events" / file.name)
    return files[first_weeks:]


def test_appending_weeks_one_at_a_time_gives_a_full_builds_tables(weekly_files: Path, tmp_path: Path) -> None:
    input_dir, db = tmp_path / "input", tmp_path / "built.duckdb"
    later = _input(weekly_files, input_dir, first_weeks=-4)
    assert build(input_dir, db).mode == "full"
    for file in later:
        shutil.copy(file, input_dir / "events" / file.name)
        summary = build(input_dir, db)
        assert summary.mode == "incremental", summary.mode_reason
        assert [Path(f.path).name for f in summary.files if f.item == "events"] == [file.name]  # only the new one
        _same_as_full_build(input_dir, db, tmp_path)
    [(modes,)] = duckdb.connect(str(db), read_only=True).execute(
        "select list(mode order by started_at) from build_runs").fetchall()
    assert modes == ["full"] + ["incremental"] * len(later)


def test_an_incremental_build_with_every_stage_gives_a_full_builds_tables(weekly_files: Path, tmp_path: Path) -> None:
    input_dir, db = tmp_path / "input", tmp_path / "built.duckdb"
    later = _input(weekly_files, input_dir, first_weeks=-1)
    build(input_dir, db, stages=BUILD_STAGES)
    shutil.copy(later[0], input_dir / "events" / later[0].name)
    assert build(input_dir, db, stages=BUILD_STAGES).mode == "incremental"
    _same_as_full_build(input_dir, db, tmp_path, stages=BUILD_STAGES)


def test_a_later_as_of_keeps_the_events_after_the_earlier_one(weekly_files: Path, tmp_path: Path) -> None:
    input_dir, db = tmp_path / "input", tmp_path / "built.duckdb"
    later = _input(weekly_files, input_dir, first_weeks=11)
    build(input_dir, db, as_of=date(2026, 9, 7))  # weeks of events left out of user_weeks
    shutil.copy(later[0], input_dir / "events" / later[0].name)
    assert build(input_dir, db).mode == "incremental"
    _same_as_full_build(input_dir, db, tmp_path)


USERS = "user_id,site_id,role,invited_at\nu1,s1,nurse,2024-01-01\nu2,s1,nurse,2024-01-01\n"
OLD_EVENTS = (
    "user_id,timestamp,event_name,event_id\n"
    "u1,2024-01-02T10:00:00Z,open,e1\n"
    "u1,2024-01-03T10:00:00Z,open,e2\n"
    "u2,2024-01-03T10:00:00Z,open,\n"  # no event_id: the whole row is what repeats
    "u3,2024-01-04T10:00:00Z,open,e3\n"  # not a user: quarantined
    "u1,not a time,open,e4\n"  # quarantined
    "u1,2024-01-04T10:00:00Z,open,e6,s1,extra\n"  # unreadable: quarantined with its text
)
NEW_EVENTS = (
    "user_id,timestamp,event_name,event_id\n"
    "u1,2024-01-03T10:00:00Z,open,e2\n"  # a repeat of an old event_id
    "u2,2024-01-03T10:00:00Z,open,\n"  # a repeat of an old row without event_id
    "u2,2024-01-10T10:00:00Z,save,e5\n"  # new
)


@pytest.fixture
def hand_made(tmp_path: Path) -> tuple[Path, Path]:
    """A two-user input with one events file, built once."""
    input_dir, db = tmp_path / "input", tmp_path / "built.duckdb"
    (input_dir / "events").mkdir(parents=True)
    (input_dir / "users.csv").write_text(USERS)
    (input_dir / "events" / "a.csv").write_text(OLD_EVENTS)
    build(input_dir, db)
    return input_dir, db


def test_repeats_across_an_old_and_a_new_file_count_once(hand_made: tuple[Path, Path], tmp_path: Path) -> None:
    input_dir, db = hand_made
    (input_dir / "events" / "b.csv").write_text(NEW_EVENTS)
    summary = build(input_dir, db)
    assert summary.mode == "incremental"
    assert summary.duplicate_events == 2  # e2 and u2's row without event_id, each counted once
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select sum(events), sum(deliveries) from core.event_days").fetchall() == [(4, 6)]
        # the old file's quarantined rows are kept though it was not read again
        assert con.execute("select count(*) from quarantine where source_file like '%a.csv'").fetchall() == [(3,)]
    _same_as_full_build(input_dir, db, tmp_path)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda events: events.write_text(OLD_EVENTS.replace("e1", "e9")), "a.csv changed since the last build read it (edited)"),
        (lambda events: events.write_text(OLD_EVENTS[:-45]), "a.csv is shorter than when the last build read it (truncated)"),
        (lambda events: events.unlink(), "a.csv was read by the last build and is gone"),
    ],
    ids=["edited", "truncated", "removed"],
)
def test_a_changed_old_file_means_a_full_build_that_says_why(
    hand_made: tuple[Path, Path], tmp_path: Path, change, reason: str
) -> None:
    input_dir, db = hand_made
    (input_dir / "events" / "b.csv").write_text(NEW_EVENTS)
    change(input_dir / "events" / "a.csv")
    summary = build(input_dir, db)
    assert (summary.mode, summary.mode_reason) == ("full", f"{input_dir / 'events' / 'a.csv'}{reason.removeprefix('a.csv')}")
    _same_as_full_build(input_dir, db, tmp_path)


def test_users_changed_under_old_events_mean_a_full_build(hand_made: tuple[Path, Path], tmp_path: Path) -> None:
    input_dir, db = hand_made
    (input_dir / "users.csv").write_text(USERS + "u3,s1,nurse,2024-01-01\n")  # u3's old event is usable now
    (input_dir / "events" / "b.csv").write_text(NEW_EVENTS)
    summary = build(input_dir, db)
    assert summary.mode == "full" and "users input changed for 1 users" in summary.mode_reason
    _same_as_full_build(input_dir, db, tmp_path)


def test_the_cli_summary_says_whether_the_build_was_incremental(hand_made: tuple[Path, Path]) -> None:
    input_dir, db = hand_made
    (input_dir / "events" / "b.csv").write_text(NEW_EVENTS)
    result = adoption("build", "--input", str(input_dir), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "Incremental build: read 1 new events file; 1 unchanged since the last build not read again" in result.stdout


def test_a_failed_incremental_build_leaves_the_previous_file_as_it_was(hand_made: tuple[Path, Path]) -> None:
    input_dir, db = hand_made
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    (input_dir / "events" / "b.csv").write_text(NEW_EVENTS)

    def killed(context) -> None:
        raise KeyboardInterrupt  # as a build stopped half way

    with pytest.raises(KeyboardInterrupt):
        build(input_dir, db, stages=[("stopped", killed)])
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert [p.name for p in db.parent.iterdir() if p.name.startswith(".")] == []
