"""The queries the stages ask at a week (user facts, user tickets, site facts) are SQL models:
table macros in the built file with their header as COMMENT, the same rows at past weeks as a
computation of their own from the core tables on the tiny fixture, and created by the runner
after everything they read, the site facts only once the user_status stage has written its table."""
from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from metrics.quiet.user_facts import user_facts, user_tickets
from metrics.sites.site_health import RECENT_WEEKS, TREND_WEEKS, site_facts
from metrics.stages import BUILD_STAGES
from pipelines.build import build
from pipelines.sql_runner import Model, load_models, run_models
from tests.support import TINY

MACROS = {"core.user_facts": ["window_end"], "core.user_tickets": ["window_end"],
          "core.site_facts": ["as_of", "recent_weeks", "trend_weeks"]}
TINY_AS_OF = date(2024, 1, 15)  # the last complete week: u1's event on 22 Jan starts an incomplete one
TINY_WEEKS = [date(2024, 1, 1), date(2024, 1, 8), TINY_AS_OF]


@pytest.fixture(scope="module")
def tiny_full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The tiny input built with every stage, and the build's steps in the order they ran."""
    db = tmp_path_factory.mktemp("tiny_full") / "tiny.duckdb"
    steps: list[str] = []
    build(TINY, db, stages=BUILD_STAGES, on_step=lambda description, step, total: steps.append(description))
    return db, steps


def _model(name: str) -> Model:
    [model] = [m for m in load_models() if m.qualified_name == name]
    return model


def _end(week: date) -> datetime:
    return datetime.combine(week + timedelta(weeks=1), datetime.min.time())


def _facts_by_hand(con: duckdb.DuckDBPyConnection, week: date) -> pl.DataFrame:
    """user_facts recomputed in polars from the core tables: what each user invited by the end of
    `week` had done by then."""
    end = _end(week)
    users = con.sql("select user_id, site_id, role, invited_at, deactivated_at from core.users").pl()
    days = con.sql("select user_id, event_date, first_event_at, last_event_at from core.event_days").pl()
    tickets = con.sql("select user_id, created_at from core.tickets").pl()
    sessions = con.sql("select site_id, user_id, session_date, attended, is_site_session from core.trainings").pl()
    activity = days.filter(pl.col("event_date") < end.date()).group_by("user_id").agg(
        pl.col("first_event_at").min().alias("first_active_at"), pl.col("last_event_at").max().alias("last_active_at"))
    last_ticket = tickets.filter(pl.col("user_id").is_not_null() & (pl.col("created_at") < end)).group_by(
        "user_id").agg(pl.col("created_at").max().alias("last_ticket_at"))
    trained = (
        users.join(sessions.rename({"user_id": "attendee"}), on="site_id")
        .filter(pl.col("attended") & (pl.col("session_date") < end.date())
                & (pl.col("session_date") >= pl.col("invited_at").dt.date())
                & ((pl.col("attendee") == pl.col("user_id")).fill_null(False) | pl.col("is_site_session")))
        .select("user_id").unique().with_columns(pl.lit(True).alias("trained"))
    )
    return (
        users.filter(pl.col("invited_at") < end)
        .join(activity, on="user_id", how="left")
        .join(last_ticket, on="user_id", how="left")
        .join(trained, on="user_id", how="left")
        .with_columns(pl.col("trained").fill_null(False))
        .sort("user_id")
    )


@pytest.mark.parametrize("name", MACROS)
def test_the_models_are_table_macros_in_the_file_with_their_header_as_comment(tiny_full, name: str) -> None:
    db, _ = tiny_full
    with duckdb.connect(str(db), read_only=True) as con:
        [(parameters, comment)] = con.execute(
            "select parameters, comment from duckdb_functions() where database_name = current_database() "
            "and function_type = 'table_macro' and schema_name || '.' || function_name = ?", [name]).fetchall()
    assert parameters == MACROS[name]
    assert comment == _model(name).description and "Grain: one row per" in comment


@pytest.mark.parametrize("week", TINY_WEEKS)
def test_user_facts_at_a_week_match_a_computation_from_the_core_tables(tiny_db: Path, week: date) -> None:
    with duckdb.connect(str(tiny_db), read_only=True) as con:
        facts, by_hand = user_facts(con, week), _facts_by_hand(con, week)
    assert_frame_equal(facts, by_hand.select(facts.columns))


def test_user_facts_at_past_weeks_know_only_what_happened_by_then(tiny_db: Path) -> None:
    with duckdb.connect(str(tiny_db), read_only=True) as con:
        first = {r["user_id"]: r for r in user_facts(con, date(2024, 1, 1)).iter_rows(named=True)}
        second = {r["user_id"]: r for r in user_facts(con, date(2024, 1, 8)).iter_rows(named=True)}
        tickets = [user_tickets(con, week).height for week in TINY_WEEKS]
    assert set(first) == {"u1", "u2"}  # u3 invited 9 Jan 22:00 UTC, u6 on 16 Jan
    assert set(second) == {"u1", "u2", "u3"}
    assert first["u1"]["last_active_at"] == datetime(2024, 1, 1, 11)  # a.csv: two opens on 1 Jan
    assert second["u1"]["last_active_at"] == datetime(2024, 1, 14, 23, 59, 59)  # the last second of the week
    assert first["u2"]["last_active_at"] is None  # u2's first event is on 10 Jan
    assert not first["u1"]["trained"] and second["u1"]["trained"]  # s1's site session on 10 Jan
    assert second["u2"]["last_ticket_at"] == datetime(2024, 1, 9, 12)  # t1
    assert second["u3"]["last_active_at"] is None  # u3's one event is on 15 Jan, the next week
    assert tickets == [0, 1, 1]  # t1 (9 Jan) is the only ticket with a user; t2 names only a site


@pytest.mark.parametrize("week", [date(2024, 1, 8), TINY_AS_OF])
def test_site_facts_at_a_week_match_a_computation_from_user_status_and_site_weeks(tiny_full, week: date) -> None:
    db, _ = tiny_full
    with duckdb.connect(str(db), read_only=True) as con:
        facts = site_facts(con, week)
        sites = con.sql("select site_id, site_name as name, owner, licensed_seats from core.sites").pl()
        status = con.sql("select site_id, status, trained from main.user_status where status <> 'deactivated'").pl()
        weeks = con.sql("select site_id, week, active_users, tickets from main.site_weeks").pl()
    recent = pl.col("week") > week - timedelta(weeks=RECENT_WEEKS)
    trend = pl.col("week") > week - timedelta(weeks=TREND_WEEKS)
    counts = status.group_by("site_id").agg(
        pl.len().alias("users"), (pl.col("status") == "quiet").sum().alias("quiet_users"),
        (pl.col("status") == "silent_churn").sum().alias("silent_churn_users"),
        (pl.col("status") == "never_activated").sum().alias("never_activated_users"),
        pl.col("trained").sum().alias("trained_users"))
    activity = weeks.group_by("site_id").agg(
        pl.col("active_users").filter(pl.col("week") == week).sum().alias("active_users"),
        trend.sum().alias("trend_weeks"),
        pl.col("active_users").filter(recent).sum().alias("recent_active_weeks"),
        pl.col("active_users").filter(trend).sum().alias("trend_active_weeks"),
        pl.col("tickets").filter(recent).sum().alias("recent_tickets"))
    by_hand = (
        sites.join(counts, on="site_id", how="left").join(activity, on="site_id", how="left")
        .with_columns(pl.lit(week).alias("as_of"))
        .fill_null(0)
        .sort("site_id")
    )
    assert facts["site_id"].to_list() == ["s1", "s2", "s3"]
    assert_frame_equal(facts, by_hand.select(facts.columns), check_dtypes=False)


def test_the_runner_orders_each_model_after_the_models_it_reads() -> None:
    models = load_models()
    order = {model.qualified_name: i for i, model in enumerate(models)}
    for name in MACROS:
        reads = _model(name).reads & order.keys()
        assert reads, f"{name} reads no model"
        assert all(order[read] < order[name] for read in reads), name
    assert {"core.event_days", "core.users", "core.tickets", "core.trainings"} <= _model("core.user_facts").reads


def test_site_facts_wait_for_user_status_and_run_once_it_is_written(tiny_db: Path, tmp_path: Path,
                                                                   tiny_full) -> None:
    site_model = _model("core.site_facts")
    with duckdb.connect(str(tiny_db), read_only=True) as con:
        macros = {name for (name,) in con.execute(
            "select function_name from duckdb_functions() where database_name = current_database() "
            "and function_type = 'table_macro'").fetchall()}
    assert macros == {"user_facts", "user_tickets"}  # a build without stages has no user_status to read

    copy = tmp_path / "tiny.duckdb"
    shutil.copy(tiny_db, copy)
    with duckdb.connect(str(copy)) as con:
        assert run_models(con, {}, models=[site_model]) == [site_model]  # no main.user_status yet
        con.execute("create table main.user_status as select 'u1' as user_id, 's1' as site_id, "
                    "'active' as status, true as trained")
        assert run_models(con, {}, models=[site_model]) == []
        assert site_facts(con, TINY_AS_OF).filter(pl.col("site_id") == "s1")["users"].to_list() == [1]

    _, steps = tiny_full  # in a whole build: after the stage that writes user_status, before the one that reads it
    assert steps.index("score users: quiet, silent churn") < steps.index("model core.site_facts") \
        < steps.index("score sites: health and risk")
