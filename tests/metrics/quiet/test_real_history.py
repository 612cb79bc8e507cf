"""The flag on a real history nobody here generated: the CDNOW sample (tests/data/cdnow/, every
purchase of 2,357 customers over 78 weeks), judged by what each customer did after each week.

The full real-data check over many cut weeks and bigger histories is benchmarks/real_data_check.py;
this is its smallest real case, kept in the tests so the flag cannot silently regress on one."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from metrics.quiet.active_history import active_weeks
from metrics.stages import BUILD_STAGES
from metrics.quiet.quiet_users import score_at
from metrics.vocabulary import FLAGGED
from metrics.quiet.return_model import fit_return_model
from metrics.quiet.user_facts import user_facts, user_tickets
from pipelines.build import build
from tests.support import DATA

pytestmark = pytest.mark.slow
SAMPLE = DATA / "cdnow" / "CDNOW_sample.txt"


def _cdnow_input(folder: Path) -> Path:
    """The sample as an input folder: one site, a user per customer invited at their first purchase,
    an event per purchase row (at noon UTC; a row number as event_id, so two purchases stay two)."""
    rows = np.loadtxt(SAMPLE, dtype=str, usecols=(0, 2))
    purchases = pl.DataFrame({"user_id": np.char.add("c", rows[:, 0]), "day": rows[:, 1]}).with_columns(
        pl.col("day").str.to_date("%Y%m%d"))
    folder.mkdir(parents=True)
    pl.DataFrame({"site_id": ["cdnow"]}).write_csv(folder / "sites.csv")
    purchases.group_by("user_id").agg(pl.col("day").min()).sort("user_id").select(
        "user_id", pl.lit("cdnow").alias("site_id"), pl.col("day").cast(pl.Datetime).alias("invited_at"),
    ).write_csv(folder / "users.csv")
    purchases.with_row_index("row").select(
        "user_id", (pl.col("day").cast(pl.Datetime) + pl.duration(hours=12)).alias("timestamp"),
        pl.lit("purchase").alias("event_name"), pl.format("r{}", "row").alias("event_id"),
    ).write_csv(folder / "events.csv")
    return folder


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cdnow")
    db = folder / "cdnow.duckdb"
    build(_cdnow_input(folder / "input"), db, stages=BUILD_STAGES)
    return db


def test_no_one_long_silent_is_active(cdnow: Path) -> None:
    with duckdb.connect(str(cdnow), read_only=True) as con:
        status = con.sql("""
            select user_status.status, datediff('week', max(user_weeks.week) filter (where events > 0), any_value(as_of))
                as weeks_silent
            from main.user_status join main.user_weeks using (user_id)
            group by user_status.user_id, user_status.status
        """).pl()
    assert status.filter(pl.col("weeks_silent") >= 52, pl.col("status") == "active").height == 0
    assert status.filter(pl.col("weeks_silent") >= 52)["status"].is_in(["silent_churn", "deactivated"]).all()


def test_new_flags_come_back_less_often_than_the_30_day_rules(cdnow: Path) -> None:
    # the goal on real histories: at least a third as many new flags as the 30-day rule, and the
    # share of them never back within 26 weeks at least 0.15 above the rule's
    with duckdb.connect(str(cdnow), read_only=True) as con:
        pooled = con.sql("""
            select method, sum(new_flags)::double as new_flags, sum(new_came_back)::double as came_back
            from main.flag_backtest where new_flags is not null group by method
        """).pl()
    ours, rule = (pooled.filter(pl.col("method") == m).row(0, named=True) for m in ("ours", "30_day_rule"))
    assert ours["new_flags"] >= rule["new_flags"] / 3
    never = {m["method"]: 1 - m["came_back"] / m["new_flags"] for m in (ours, rule)}
    assert never["ours"] >= never["30_day_rule"] + 0.15, never


def test_no_flag_flips_while_the_user_stays_silent(cdnow: Path) -> None:
    with duckdb.connect(str(cdnow), read_only=True) as con:
        weeks = con.sql("select user_id, site_id, week, events, active_days, is_enrolled from main.user_weeks").pl()
        as_of = weeks["week"].max()
        model = fit_return_model(active_weeks(weeks, as_of))
        cuts = [as_of - timedelta(weeks=w) for w in range(60, 0, -4)]
        scored = [score_at(user_facts(con, c), weeks, user_tickets(con, c), c, model).with_columns(
            pl.col("status").cast(pl.String)) for c in cuts]
    for before, after, cut in zip(scored, scored[1:], cuts):
        flagged = before.filter(pl.col("status").is_in(FLAGGED)).select("user_id", "drop_week", "last_active_at")
        later = flagged.join(after, on="user_id", suffix="_later").filter(
            pl.col("last_active_at_later") == pl.col("last_active_at"))  # no use in between
        changed = later.filter(~pl.col("status").is_in(FLAGGED) | (pl.col("drop_week_later") != pl.col("drop_week")))
        assert changed.height == 0, (cut, changed.head(3).rows())
        assert later.height > 0
