"""Does outreach help: the outcomes stage against a planted effect of outreach.

A demo is built as of week A; its flags then are split by the hold-back's own draw (share 0.5,
turned on in week A), and the flags that went to the queues are contacted in week A. Then the
input gets a planted effect: each user of a held-back flag loses all use after week A with
chance PLANTED (nobody called them back), whatever the demo had them do. Built again as of
A + 8 weeks with the store, the hold-back's difference must recover the planted effect (the
chance times the share of these users who came back without any plant), within its interval;
the counts of every group must equal a computation of their own in SQL."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from statsmodels.stats.proportion import proportion_confint

from metrics.reviews.holdback import SHARE_SETTING, WEEKS_SETTING, draw
from metrics.reviews.outcomes import outcome_rows
from metrics.reviews.store import OUTCOMES, Action, ReviewStore
from metrics.readers.store import reading
from metrics.stages import BUILD_STAGES
from pipelines.build import build
from tests.metrics.reviews.planting import record_at, set_setting_at
from tests.support import copy_input
from tests.support.demos import DemoCache

pytestmark = pytest.mark.slow

CONTACTED_AT = date(2026, 9, 14)  # week A: the demo (its last week 9 Nov 2026) has 8 weeks after it
FINAL_AS_OF = CONTACTED_AT + timedelta(weeks=8)
PLANTED = 0.9
SHARE = 0.5


def came_back(db: Path, users: list[str]) -> dict[str, bool]:
    """Per user: any use in weeks A+1 .. A+8."""
    with reading(db) as con:
        rows = con.execute("select user_id, bool_or(events > 0 and week > ? and week <= ?) from user_weeks "
                           "where list_contains(?, user_id) group by user_id",
                           [CONTACTED_AT, FINAL_AS_OF, users]).fetchall()
    return dict(rows)


@pytest.fixture(scope="module")
def planted(demos: DemoCache, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("outreach")
    before = demos(seed=5, users=4000, sites=30, as_of=CONTACTED_AT)
    with reading(before.db) as con:
        flags = con.execute("select user_id, drop_week, site_id, status from user_status "
                            "where status in ('quiet', 'silent_churn') order by user_id").fetchall()
    store = ReviewStore(folder / "adoption.reviews.sqlite")
    week_a = datetime.combine(CONTACTED_AT, time(9))
    set_setting_at(store, SHARE_SETTING, str(SHARE), week_a)
    set_setting_at(store, WEEKS_SETTING, "52", week_a)
    queued = [flag for flag in flags if draw(flag[0], flag[1]) >= SHARE]
    for i, (user, drop_week, site, status) in enumerate(queued):
        record_at(store, Action(user, drop_week, site, status, "csm0@vendor.example", "contacted",
                                outcome=OUTCOMES[i % len(OUTCOMES)]), week_a + timedelta(days=i % 5))
    untouched = came_back(demos(seed=5, users=4000, sites=30).db, [flag[0] for flag in flags])

    rng = np.random.default_rng(20261201)
    held = [user for user, week, *_ in flags if draw(user, week) < SHARE]
    silenced = [user for user in held if rng.random() < PLANTED]
    source = copy_input(before.input, folder / "input")
    after_a = datetime.combine(CONTACTED_AT + timedelta(weeks=1), time(0), tzinfo=timezone.utc)
    for path in sorted((source / "events").glob("*.parquet")):
        events = pl.read_parquet(path)
        events.filter((pl.col("timestamp") < after_a) | ~pl.col("user_id").is_in(silenced)).write_parquet(path)
    for path in sorted((source / "events").glob("*.csv")):  # as exported: text, compared as ISO text
        events = pl.read_csv(path, infer_schema=False)
        events.filter((pl.col("timestamp") < after_a.date().isoformat()) | ~pl.col("user_id").is_in(silenced)
                      ).write_csv(path)
    db = folder / "adoption.duckdb"
    build(source, db, as_of=FINAL_AS_OF, stages=BUILD_STAGES, reviews_path=store.path)
    # held back, PLANTED of the users who would have come back did not
    would_return = np.mean([untouched.get(user, False) for user, *_ in flags])
    return {"db": db, "flags": flags, "queued": queued, "truth": PLANTED * would_return}


def table(db: Path, name: str) -> pl.DataFrame:
    with reading(db) as con:
        return con.sql(f"select * from {name}").pl()


def test_the_register_holds_the_flags_of_week_a_as_that_build_scored_them(planted: dict) -> None:
    flags = table(planted["db"], "outreach_flags").filter(pl.col("first_flagged_week") == CONTACTED_AT)
    assert sorted(flags.select("user_id", "drop_week").rows()) == sorted((u, w) for u, w, *_ in planted["flags"])


def test_the_holdback_difference_recovers_the_planted_effect(planted: dict) -> None:
    outcomes = table(planted["db"], "outreach_outcomes").filter(pl.col("comparison") == "randomised_holdback")
    arms = {row["group"]: row for row in outcomes.iter_rows(named=True)}
    assert arms["in_queues"]["flags"] == len(planted["queued"])
    assert arms["held_back"]["flags"] == len(planted["flags"]) - len(planted["queued"])
    effect = arms["difference"]
    assert effect["share"] == pytest.approx(arms["in_queues"]["share"] - arms["held_back"]["share"])
    assert effect["ci_low"] < planted["truth"] < effect["ci_high"]
    assert effect["ci_low"] > 0  # the effect is clearly there


def test_outcome_counts_and_intervals_equal_their_own_computation(planted: dict) -> None:
    db = planted["db"]
    outcomes = table(db, "outreach_outcomes").filter(pl.col("comparison") == "observational")
    with reading(db) as con:
        # contacts from the store's copy, not from outreach_flags: week A, use in A+1 .. A+8
        expected = dict(((o or "all"), (n, back)) for o, n, back in con.execute(
            """select outcome, count(*), count(*) filter (where back) from (
                   select r.outcome, exists (select 1 from user_weeks w where w.user_id = r.user_id and w.events > 0
                       and w.week > ? and w.week <= ?) as back
                   from reviews r where r.action = 'contacted')
               group by grouping sets ((outcome), ())""", [CONTACTED_AT, FINAL_AS_OF]).fetchall())
    contacted = outcomes.filter(pl.col("group") == "contacted")
    got = {(row["outcome"] or "all"): (row["flags"], row["returned"]) for row in contacted.iter_rows(named=True)}
    assert got == expected
    for row in outcomes.iter_rows(named=True):
        low, high = proportion_confint(row["returned"], row["flags"], method="wilson")
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
        assert row["share"] == row["returned"] / row["flags"]
    [not_contacted] = outcomes.filter(pl.col("group") == "not_contacted").rows(named=True)
    assert not_contacted["flags"] == len(planted["flags"]) - len(planted["queued"])


def test_outcome_rows_by_hand() -> None:
    # 10 contacted flags (4 back), 20 not contacted (5 back), 2 not yet known; no hold-back
    flags = pl.DataFrame({
        "contact_week": [date(2026, 1, 5)] * 10 + [None] * 22,
        "outcome": ["no_answer"] * 6 + ["reached_will_resume"] * 4 + [None] * 22,
        "holdback_arm": [None] * 32,
        "active_within_8_weeks": [True] * 2 + [False] * 4 + [True] * 2 + [False] * 2 + [True] * 5 + [False] * 15
                                 + [None] * 2,
    }, schema_overrides={"holdback_arm": pl.String})
    rows = {(r["group"], r["outcome"]): (r["flags"], r["returned"]) for r in outcome_rows(flags).iter_rows(named=True)}
    assert rows == {("contacted", None): (10, 4), ("contacted", "no_answer"): (6, 2),
                    ("contacted", "reached_will_resume"): (4, 2), ("not_contacted", None): (20, 5)}
