"""The reviews store under real concurrent processes, its append-only records, and its schema."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from metrics.reviews.flag_states import flag_states
from metrics.reviews.store import MIGRATIONS, Action, ReviewStore, default_path

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import date
    from pathlib import Path
    from metrics.reviews.store import Action, ReviewStore
    path, name, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = ReviewStore(path)
    for i in range(n):
        store.record(Action(f"{name}-u{i}", date(2026, 1, 5), "s1", "quiet", name, "contacted", outcome="no_answer"))
        store.log_access(name, "review_action", "s1", 1)
        if i % 10 == 0:
            store.actions()  # a reader among the writers, as the app's pages are
    print("done")
    """
)


def test_processes_writing_at_once_lose_nothing_and_never_see_locked(tmp_path: Path) -> None:
    """Four processes (the app's workers, a digest run) append 150 actions and 150 access-log
    entries each at the same time, while this one reads: every record is there, and no process
    saw "database is locked"."""
    path = tmp_path / "adoption.reviews.sqlite"
    ReviewStore(path)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"csm{k}", "150"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(4)]
    store = ReviewStore(path)
    while any(writer.poll() is None for writer in writers):
        store.actions()
        store.access_log()
    results = [writer.communicate() for writer in writers]
    assert [(writer.returncode, out.strip(), err) for writer, (out, err) in zip(writers, results)] == [(0, "done", "")] * 4
    actions = store.actions()
    assert actions.height == 600 and actions["user_id"].n_unique() == 600
    assert actions["action_id"].to_list() == list(range(1, 601))
    assert store.access_log().height == 600


def test_a_store_a_server_keeps_open_loses_nothing(tmp_path: Path) -> None:
    """`adoption serve` keeps a connection to the store open (ReviewStore.stay_open), so its
    short connections' closes do not checkpoint: what it and another process write is read by
    every process, and the store file with its -wal copied holds it all."""
    path = tmp_path / "adoption.reviews.sqlite"
    server = ReviewStore(path)
    server.stay_open()
    server.log_access("csm0", "site_view", "s1", 3)
    writer = subprocess.run([sys.executable, "-c", WRITER, str(path), "csm1", "20"], capture_output=True, text=True)
    assert (writer.returncode, writer.stdout.strip(), writer.stderr) == (0, "done", "")
    assert server.access_log().height == ReviewStore(path).access_log().height == 21
    copy = tmp_path / "copy" / path.name
    copy.parent.mkdir()
    for suffix in ("", "-wal"):
        Path(f"{copy}{suffix}").write_bytes(Path(f"{path}{suffix}").read_bytes())
    assert ReviewStore(copy).actions().height == 20


def test_an_undo_takes_back_one_action_and_the_flag_stands_where_it_stood(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    week = date(2026, 1, 5)
    snooze = store.record(Action("u1", week, "s1", "quiet", "csm0", "snoozed", snoozed_until=date(2026, 2, 2)))
    contact = store.record(Action("u1", week, "s1", "quiet", "csm0", "contacted", outcome="reached_needs_training"))
    store.record(Action("u2", week, "s1", "silent_churn", "csm0", "contacted", outcome="no_answer"))
    assert flag_states(store.actions()).select("user_id", "state", "outcome").rows() == [
        ("u1", "contacted", "reached_needs_training"), ("u2", "contacted", "no_answer")]
    store.record(Action("u1", week, "s1", "quiet", "csm0", "undone", undoes=contact))
    states = flag_states(store.actions())
    assert states.select("user_id", "state", "snoozed_until").rows() == [
        ("u1", "snoozed", date(2026, 2, 2)), ("u2", "contacted", None)]
    assert states.filter(pl.col("user_id") == "u1")["action_id"].item() == snooze
    assert store.actions().height == 4  # nothing is deleted: the undo is a record too


@pytest.mark.parametrize("bad", [
    dict(action="contacted"),  # a contact without an outcome code
    dict(action="contacted", outcome="called her, she said the patient in bed 4..."),  # free text
    dict(action="snoozed"),  # a snooze without a date
    dict(action="shouted", outcome=None),
])
def test_only_codes_are_recorded(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(ValueError):
        Action("u1", date(2026, 1, 5), "s1", "quiet", "csm0", **bad)
    store = ReviewStore(tmp_path / "r.sqlite")
    with sqlite3.connect(store.path) as con, pytest.raises(sqlite3.IntegrityError):
        con.execute("insert into actions (user_id, drop_week, site_id, status, reviewer, action, outcome, at) "
                    "values ('u1', '2026-01-05', 's1', 'quiet', 'csm0', 'contacted', 'free text here', 'now')")


def test_the_schema_is_made_once_and_a_newer_store_is_refused_clearly(tmp_path: Path) -> None:
    path = default_path(tmp_path / "adoption.duckdb")
    assert path.name == "adoption.reviews.sqlite"
    store = ReviewStore(path)
    store.record(Action("u1", date(2026, 1, 5), "s1", "quiet", "csm0", "contacted", outcome="no_answer"))
    again = ReviewStore(path)  # reopening migrates nothing and keeps every record
    assert again.version == len(MIGRATIONS) and again.actions().height == 1
    with sqlite3.connect(path) as con:
        con.execute("insert into schema_version values (?)", [len(MIGRATIONS) + 1])
    with pytest.raises(RuntimeError, match="newer than this program"):
        ReviewStore(path)
