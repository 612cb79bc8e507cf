"""The `reviews` build stage: the store's actions copied row for row, and each contact's return
within 4 and 8 weeks against a computation of its own in SQL on a demo's user_weeks."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from metrics.reviews.reviews_table import write_reviews
from metrics.reviews.store import OUTCOMES, Action, ReviewStore
from metrics.readers.store import reading
from pipelines.build_context import BuildContext
from tests.metrics.reviews.planting import record_at
from tests.support import copy_db
from tests.support.demos import DemoCache

# For each contact (action = 'contacted'): any use in weeks contact_week+1 .. contact_week+k,
# null unless contact_week + k <= as_of.
RETURNS_SQL = """
select r.action_id,
    case when r.contact_week + to_weeks(4) <= $as_of then exists (
        select 1 from user_weeks w where w.user_id = r.user_id and w.events > 0
        and w.week > r.contact_week and w.week <= r.contact_week + to_weeks(4)) end as within_4,
    case when r.contact_week + to_weeks(8) <= $as_of then exists (
        select 1 from user_weeks w where w.user_id = r.user_id and w.events > 0
        and w.week > r.contact_week and w.week <= r.contact_week + to_weeks(8)) end as within_8
from (select action_id, user_id, date_trunc('week', "at")::date as contact_week from reviews
      where action = 'contacted') r
order by r.action_id
"""


@pytest.fixture(scope="module")
def demo_db(demos: DemoCache) -> Path:
    return demos(seed=5, users=400, sites=10).db


def run_stage(db: Path, reviews: Path | None) -> None:
    with duckdb.connect(str(db)) as con:
        [(as_of,)] = con.execute("select max(as_of) from build_runs").fetchall()
        write_reviews(BuildContext(con, as_of, reviews))


def test_reviews_copies_every_action_and_what_came_of_each_contact(demo_db: Path, tmp_path: Path) -> None:
    db = copy_db(demo_db, tmp_path)
    with reading(db) as con:
        [(as_of,)] = con.execute("select max(as_of) from build_runs").fetchall()
        flags = con.execute("select user_id, drop_week, site_id, status from user_status "
                            "where status in ('quiet', 'silent_churn') order by user_id limit 30").fetchall()
    store = ReviewStore(tmp_path / "adoption.reviews.sqlite")
    contacted = []
    for i, (user, drop_week, site, status) in enumerate(flags):
        # contacts 2 to 16 weeks before as_of: some with both horizons known, some with only 4 weeks, some neither
        at = datetime.combine(as_of - timedelta(weeks=2 + i % 15), time(10, 30)) + timedelta(days=i % 5)
        contacted.append(record_at(store, Action(user, drop_week, site, status, "csm0@vendor.example", "contacted",
                                                 outcome=OUTCOMES[i % len(OUTCOMES)]), at))
    user, drop_week, site, status = flags[0]
    snooze = store.record(Action(user, drop_week, site, status, "csm1@vendor.example", "snoozed",
                                 snoozed_until=as_of + timedelta(weeks=2)))
    store.record(Action(user, drop_week, site, status, "csm1@vendor.example", "undone", undoes=snooze))

    run_stage(db, store.path)

    with reading(db) as con:
        table = con.sql("select * from reviews order by action_id").pl()
        returns = con.execute(RETURNS_SQL, {"as_of": as_of}).fetchall()
    actions = store.actions()
    assert_frame_equal(table.select(actions.columns), actions, check_dtypes=False)
    assert table.height == len(flags) + 2
    assert returns == table.filter(pl.col("action") == "contacted").select(
        "action_id", "active_within_4_weeks", "active_within_8_weeks").rows()
    known_4 = table["active_within_4_weeks"].drop_nulls()
    known_8 = table["active_within_8_weeks"].drop_nulls()
    assert 0 < known_8.len() < known_4.len() < len(flags)  # the recent contacts are not yet known
    assert known_4.any() and not known_4.all()  # the demo's flags hold users who came back and users who did not
    assert table.filter(pl.col("action") != "contacted")[
        ["contact_week", "active_within_4_weeks", "active_within_8_weeks"]].null_count().row(0) == (2, 2, 2)


def test_without_a_store_the_table_is_empty_and_no_file_is_left(demo_db: Path, tmp_path: Path) -> None:
    db = copy_db(demo_db, tmp_path)
    missing = tmp_path / "adoption.reviews.sqlite"
    run_stage(db, missing)
    run_stage(db, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [db.name]
    with reading(db) as con:
        assert con.execute("select count(*) from reviews").fetchall() == [(0,)]
        columns = [c for (c,) in con.execute("select column_name from duckdb_columns() where table_name = 'reviews'"
                                             ).fetchall()]
    assert columns[:11] == ["action_id", "user_id", "drop_week", "site_id", "status", "reviewer", "action", "outcome",
                            "snoozed_until", "undoes", "at"]


@pytest.mark.parametrize("table", ["reviews", "outreach_flags", "outreach_outcomes"])
def test_the_build_documents_the_tables(demo_db: Path, table: str) -> None:
    with reading(demo_db) as con:
        [(comment,)] = con.execute("select comment from duckdb_tables() where table_name = ?", [table]).fetchall()
        columns = con.execute("select column_name, comment from duckdb_columns() where table_name = ?",
                              [table]).fetchall()
    assert comment and columns and all(text for _, text in columns), table
