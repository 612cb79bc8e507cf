"""`flag_backtest` on a real build: a demo of a year and a half (78 weeks, so a dozen cuts
have 26 weeks of known future), checked against the contract and, for one cut, against a
recomputation that shares nothing with the stage but score_users and the 30-day rule: the
sample hashed here, the data cut at that week, the outcomes counted from main.user_weeks.

The demo plants its drops in its last weeks, past every cut, so some steady users are made
to stop for good in the middle of it: without them no cut would have anyone gone."""
from __future__ import annotations

import hashlib
import statistics
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics.stages import BUILD_STAGES
from metrics.quiet.evaluation import thirty_day_rule
from metrics.quiet.flag_backtest import backtest, sample_users, write_flag_backtest
from metrics.quiet.quiet_users import score_users
from metrics.vocabulary import FLAGGED
from metrics.quiet.user_facts import user_facts, user_tickets
from pipelines.build import build
from pipelines.demo.generate import write_demo
from tests.support import rows
from tests.support.serving import page_module, request_for, text

COLUMNS = ["cut_week", "method", "horizon_weeks", "users", "flagged", "came_back", "new_flags", "new_came_back",
           "gone_recall", "median_weeks_silent_when_flagged"]
WEEK = timedelta(weeks=1)
STOPS = {datetime(2025, 10, 1): 20, datetime(2026, 1, 1): 20}  # steady users who stop for good then


def stop_for_good(input_dir: Path, stops: dict[datetime, int]) -> None:
    """Drop every event of the first steady users (by id) from each date on, in the demo's own files."""
    steady = pl.read_csv(input_dir / "truth.csv").filter(pl.col("kind") == "steady")["user_id"].sort()
    ends, taken = [], 0
    for when, n in stops.items():
        ends += [(u, when) for u in steady.slice(taken, n)]
        taken += n
    ending = pl.DataFrame(ends, schema={"user_id": pl.String, "stops_at": pl.Datetime("us", "UTC")}, orient="row")
    for path in sorted((input_dir / "events").iterdir()):  # monthly parquet files and a legacy CSV export
        csv = path.suffix == ".csv"
        events = pl.read_csv(path, infer_schema=False) if csv else pl.read_parquet(path)
        at = pl.col("timestamp")
        at = at.str.to_datetime(time_zone="UTC", time_unit="ms", strict=False) if csv else at
        kept = (events.join(ending, on="user_id", how="left")
                .filter(pl.col("stops_at").is_null() | at.is_null() | (at < pl.col("stops_at").cast(pl.Datetime("ms", "UTC"))))
                .drop("stops_at"))
        kept.write_csv(path) if csv else kept.write_parquet(path)


# the tests that read it are marked slow: a 78-week demo built with every stage
@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("backtest")
    write_demo(folder / "input", users=600, sites=8, weeks=78, seed=11)
    stop_for_good(folder / "input", STOPS)
    build(folder / "input", folder / "adoption.duckdb", stages=BUILD_STAGES)
    return folder / "adoption.duckdb"


@pytest.fixture(scope="module")
def table(demo_db: Path) -> pl.DataFrame:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        return con.sql("select * from flag_backtest order by cut_week, method desc").pl()


def window(demo_db: Path) -> tuple[date, date]:
    """The first week of user_weeks (the refit grid's week 0) and the build's as_of."""
    [(epoch, as_of)] = rows(demo_db, "select min(week), (select as_of from build_runs) from user_weeks")
    return epoch, as_of


@pytest.mark.slow
def test_the_table_has_the_contracts_columns(demo_db: Path) -> None:
    columns = rows(demo_db, "select column_name from duckdb_columns() where table_name = 'flag_backtest' "
                            "order by column_index")
    assert [c for (c,) in columns] == COLUMNS


@pytest.mark.slow
def test_cuts_are_every_refit_4_weeks_apart_each_with_26_weeks_known_after(demo_db: Path, table: pl.DataFrame) -> None:
    epoch, as_of = window(demo_db)
    cuts = table["cut_week"].unique().sort().to_list()
    weeks = [(cut - epoch).days // 7 for cut in cuts]
    assert all(w % 4 == 3 for w in weeks)  # the return model refits at weeks 3, 7, 11, ...
    assert weeks[0] >= 8 and weeks[0] - 4 < 8  # the earliest with 8 weeks of data before it
    assert all(cut + 26 * WEEK <= as_of for cut in cuts)  # weeks cut+1 .. cut+26 are in the data
    assert cuts[-1] + 30 * WEEK > as_of  # and the latest such
    assert [b - a for a, b in zip(weeks, weeks[1:])] == [4] * (len(weeks) - 1)
    assert len(cuts) >= 10
    assert table.group_by("cut_week").agg(pl.col("method").sort()).get_column("method").to_list() == [
        ["30_day_rule", "ours"]] * len(cuts)
    assert set(table["horizon_weeks"]) == {26}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ours", "30_day_rule"])
def test_counts_hold_together(table: pl.DataFrame, method: str) -> None:
    mine = table.filter(pl.col("method") == method)
    assert (mine["came_back"] <= mine["flagged"]).all()
    assert (mine["flagged"] <= mine["users"]).all()
    assert mine["new_flags"][0] is None and mine["new_came_back"][0] is None  # the first cut has no previous one
    later = mine.slice(1)
    assert later["new_flags"].null_count() == 0
    assert (later["new_came_back"] <= later["new_flags"]).all()
    assert (later["new_flags"] <= later["flagged"]).all()
    recall = mine["gone_recall"].drop_nulls()
    assert recall.len() > 0 and ((recall >= 0) & (recall <= 1)).all()
    assert mine["users"].is_sorted()  # users only join
    assert mine["flagged"].sum() > 0


def hashed_sample(con: duckdb.DuckDBPyConnection, size: int) -> set[str]:
    """The `size` users with the lowest first 8 bytes of sha256(user_id), ties by id."""
    ids = [u for (u,) in con.execute("select distinct user_id from main.user_weeks").fetchall()]
    return set(sorted(ids, key=lambda u: (hashlib.sha256(u.encode()).digest()[:8], u))[:size])


def flags_cut_at(con: duckdb.DuckDBPyConnection, sample: set[str], cut: date) -> dict[str, set[str]]:
    """Both methods' flags from the data cut at `cut`, scored from scratch (score_users fits its own model)."""
    ids = sorted(sample)
    facts = user_facts(con, cut).filter(pl.col("user_id").is_in(ids))
    weeks = con.sql("select user_id, site_id, week, events, active_days, is_enrolled from main.user_weeks "
                    "where week <= $cut order by user_id, week", params={"cut": cut}).pl()
    status = score_users(facts, weeks.filter(pl.col("user_id").is_in(ids)),
                         user_tickets(con, cut).filter(pl.col("user_id").is_in(ids)), cut)
    return {
        "users": set(facts["user_id"]),
        "ours": set(status.filter(pl.col("status").cast(pl.String).is_in(FLAGGED))["user_id"]),
        "30_day_rule": set(facts.filter(thirty_day_rule(facts, cut))["user_id"]),
    }


def expected_at(con: duckdb.DuckDBPyConnection, sample: set[str], cut: date) -> dict[str, dict]:
    """Every column of both methods' rows at `cut` (not the first cut), counted user by user."""
    now, before = flags_cut_at(con, sample, cut), flags_cut_at(con, sample, cut - 4 * WEEK)
    back = {u for (u,) in con.execute(
        "select distinct user_id from main.user_weeks where events > 0 and week > $cut and week <= $cut + 26 * 7",
        {"cut": cut}).fetchall()}
    last = dict(con.execute("select user_id, max(week) from main.user_weeks where events > 0 and week <= $cut "
                            "group by user_id", {"cut": cut}).fetchall())
    end = datetime.combine(cut + WEEK, datetime.min.time())
    removed = {u for (u,) in con.execute("select user_id from core.users where deactivated_at < $end",
                                         {"end": end}).fetchall()}
    gone = {u for u in now["users"] if u in last and last[u] <= cut - 4 * WEEK and u not in back and u not in removed}
    expected = {}
    for method in ["ours", "30_day_rule"]:
        flagged, new = now[method], now[method] - before[method]
        expected[method] = {
            "users": len(now["users"]), "flagged": len(flagged), "came_back": len(flagged & back),
            "new_flags": len(new), "new_came_back": len(new & back),
            "gone_recall": len(flagged & gone) / len(gone) if gone else None,
            "median_weeks_silent_when_flagged":
                statistics.median((cut - last[u]).days // 7 for u in new) if new else None,
        }
    return expected


@pytest.mark.slow
@pytest.mark.parametrize("size", [5_000, 250])  # everyone (the build's own table), and a sample of 250
def test_one_cut_equals_a_recomputation_from_the_data_cut_there(demo_db: Path, table: pl.DataFrame,
                                                                size: int) -> None:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        _, as_of = window(demo_db)
        rows_ = table if size == 5_000 else backtest(con, as_of, size=size)
        cut = rows_["cut_week"].unique().sort()[len(rows_) // 4]  # a cut in the middle
        sample = hashed_sample(con, size)
        expected = expected_at(con, sample, cut)
    assert len(sample) == min(size, 600)
    for row in rows_.filter(pl.col("cut_week") == cut).iter_rows(named=True):
        assert {k: row[k] for k in expected[row["method"]]} == pytest.approx(expected[row["method"]]), row["method"]
        assert row["users"] <= size


def test_the_sample_is_a_stable_hash_of_the_ids() -> None:
    ids = pl.Series([f"u{i:05d}" for i in range(3_000)])
    sample = sample_users(ids, 100)
    assert sample.to_list() == sorted(sample.to_list())
    assert set(sample) == set(sorted(ids, key=lambda u: hashlib.sha256(u.encode()).digest()[:8])[:100])
    assert sample.equals(sample_users(ids.reverse(), 100))  # not the order they come in
    assert sample_users(ids.head(50), 100).to_list() == ids.head(50).to_list()  # fewer: all of them


def test_a_history_too_short_for_a_cut_gives_an_empty_table_and_says_so(tmp_path: Path) -> None:
    write_demo(tmp_path / "input", users=60, sites=3, weeks=20, seed=2)  # 20 < 8 + 26 weeks
    db = tmp_path / "short.duckdb"
    build(tmp_path / "input", db, stages=[("check past flags", write_flag_backtest)])
    assert rows(db, "select count(*) from flag_backtest") == [(0,)]
    assert [c for (c,) in rows(db, "select column_name from duckdb_columns() where table_name = 'flag_backtest' "
                                   "order by column_index")] == COLUMNS
    with request_for(db):
        words = text(page_module("data").layout())
    assert "This history is too short to check past flags yet" in words
    assert "26 weeks of known use after it" in words
