"""`flag_backtest`: how the build checks itself on its own past.

A flag is a bet on the future, and the input's own history holds the answers for its past
weeks. At past cut weeks with HORIZON_WEEKS weeks of known use after them, the users are
scored as the build would have scored them then (the return model judges each week with what
it knew by that week, so score_at at a cut equals score_users on the data cut there), the
30-day rule beside it; the weeks after each cut judge both: did the flagged users come back,
and were the users who were really gone flagged?

Cost is bounded twice: at most BACKTEST_USERS users, a fixed sample by a stable hash of
user_id (the same users at every cut and in every build), and at most MAX_CUTS cuts, the
most recent (scoring a cut costs about as much as the user_status stage's own scoring).
"""
from __future__ import annotations

import hashlib
from datetime import date, timedelta

import duckdb
import polars as pl

from metrics.quiet.active_history import active_weeks
from metrics.quiet.evaluation import thirty_day_rule
from metrics.quiet.quiet_users import score_at
from metrics.quiet.return_model import ReturnModel, fit_return_model, refit_weeks
from metrics.quiet.user_facts import user_facts, user_tickets
from metrics.vocabulary import BACKTEST_METHODS, FLAGGED, HORIZON_WEEKS, MIN_HISTORY_WEEKS
from pipelines.build_context import BuildContext, week_end

__all__ = ["BACKTEST_USERS", "MAX_CUTS", "METHODS", "backtest", "cut_weeks", "sample_users", "write_flag_backtest"]

BACKTEST_USERS = 5_000  # users scored per cut, at most
# the most recent cuts, at most: four years of past flags. Measured on realgit (25 years, 324 cuts): all
# cuts took 32 s, the latest 52 take 11 s, a whole build 16 s instead of 38 s.
MAX_CUTS = 52
STOPPED_WEEKS = 4  # "gone": last used at least this many weeks before the cut, and not back within the horizon
METHODS = BACKTEST_METHODS  # the table's rows per cut, in this order
WEEKS_SQL = """
select user_id, site_id, week, events, active_days, is_enrolled
from main.user_weeks
where week <= $as_of and user_id in (select unnest($sample::varchar[]))
order by user_id, week
"""
NO_FLAGS = pl.DataFrame(schema={"cut_week": pl.Date, "user_id": pl.String, "ours": pl.Boolean, "30_day_rule": pl.Boolean,
                                "seated": pl.Boolean})
TABLE_SQL = """
create or replace table main.flag_backtest (
    cut_week date,
    method varchar,
    horizon_weeks integer,
    users bigint,
    flagged bigint,
    came_back bigint,
    new_flags bigint,
    new_came_back bigint,
    gone_recall double,
    median_weeks_silent_when_flagged double
)
"""


def sample_users(user_ids: pl.Series, size: int = BACKTEST_USERS) -> pl.Series:
    """The `size` users with the lowest sha256 of their id (all of them when there are no more).

    A hash from hashlib, not Python's (salted per process) or polars' (free to change between
    versions): the same input always gives the same sample, and a new user displaces an old one
    only by hashing lower.
    """
    ids = user_ids.unique().sort()
    if ids.len() <= size:
        return ids
    keys = pl.Series([int.from_bytes(hashlib.sha256(u.encode()).digest()[:8], "big") for u in ids], dtype=pl.UInt64)
    return pl.DataFrame({"user_id": ids, "key": keys}).sort("key", "user_id").head(size)["user_id"].sort()


def cut_weeks(epoch: date, as_of_week: int, max_cuts: int | None = MAX_CUTS) -> list[date]:
    """The model's refit weeks (4 weeks apart) with MIN_HISTORY_WEEKS weeks of data before them and
    HORIZON_WEEKS complete weeks after them up to as_of; the latest `max_cuts` of them."""
    weeks = [int(w) for w in refit_weeks(as_of_week) if MIN_HISTORY_WEEKS <= w <= as_of_week - HORIZON_WEEKS]
    return [epoch + timedelta(weeks=w) for w in weeks[-max_cuts if max_cuts else 0:]]


def flags_at(con: duckdb.DuckDBPyConnection, sample: pl.Series, weeks: pl.DataFrame, model: ReturnModel,
             cut: date) -> pl.DataFrame:
    """Both methods' flags on the sampled users invited by `cut`, from what was known by its end, and
    whether each still held a seat then."""
    window_end = week_end(cut)
    facts = user_facts(con, cut).filter(pl.col("user_id").is_in(sample.implode()))
    tickets = user_tickets(con, cut).filter(pl.col("user_id").is_in(sample.implode()))
    ours = score_at(facts, weeks, tickets, cut, model).select(
        "user_id", pl.col("status").cast(pl.String).is_in(FLAGGED).alias("ours"))
    return (
        facts.select("user_id", thirty_day_rule(facts, cut).alias("30_day_rule"),
                     ~(pl.col("deactivated_at") < window_end).fill_null(False).alias("seated"))
        .join(ours, on="user_id", how="left")
        .select(pl.lit(cut).alias("cut_week"), "user_id", pl.col("ours").fill_null(False), "30_day_rule", "seated")
    )


def outcomes(flags: pl.DataFrame, weeks: pl.DataFrame) -> pl.DataFrame:
    """Per cut and user: weeks silent at the cut, back within the horizon, gone (stopped STOPPED_WEEKS
    or more before the cut, not back, and still seated at the cut: a removed seat needs no flag)."""
    used = weeks.filter(pl.col("events") > 0).select("user_id", "week").sort("week")
    cut = pl.col("cut_week")
    came_back = (pl.col("next_week") <= cut + timedelta(weeks=HORIZON_WEEKS)).fill_null(False)
    return (
        flags.sort("cut_week")
        .join_asof(used.with_columns(pl.col("week").alias("last_week")), left_on="cut_week", right_on="week",
                   by="user_id", strategy="backward", check_sortedness=False)
        .drop("week")
        .join_asof(used.with_columns(pl.col("week").alias("next_week")), left_on="cut_week", right_on="week",
                   by="user_id", strategy="forward", allow_exact_matches=False, check_sortedness=False)
        .drop("week")
        .with_columns(
            ((cut - pl.col("last_week")).dt.total_days() // 7).alias("weeks_silent"),
            came_back.alias("came_back"),
            ((pl.col("last_week") <= cut - timedelta(weeks=STOPPED_WEEKS)).fill_null(False) & ~came_back
             & pl.col("seated")).alias("gone"),
        )
    )


def summarise(panel: pl.DataFrame, cuts: list[date]) -> pl.DataFrame:
    """The table's rows from the per cut and user panel: one per cut and method, in METHODS order."""
    previous = pl.DataFrame({"cut_week": cuts, "previous_cut": [None, *cuts][:len(cuts)]},
                            schema={"cut_week": pl.Date, "previous_cut": pl.Date})
    long = panel.unpivot(on=METHODS, index=["cut_week", "user_id", "weeks_silent", "came_back", "gone"],
                         variable_name="method", value_name="flagged")
    before = long.select("user_id", "method", pl.col("cut_week").alias("previous_cut"),
                         pl.col("flagged").alias("flagged_before"))
    flagged, first = pl.col("flagged"), pl.col("previous_cut").is_null()
    new = flagged & ~pl.col("flagged_before").fill_null(False)
    counted = pl.when(first).then(flagged).otherwise(new)  # whose silence the median is over
    return (
        long.join(previous, on="cut_week")
        .join(before, on=["user_id", "method", "previous_cut"], how="left")
        .group_by("cut_week", "method")
        .agg(
            first.all().alias("first"),
            pl.len().alias("users"),
            flagged.sum().alias("flagged"),
            (flagged & pl.col("came_back")).sum().alias("came_back"),
            new.sum().alias("new_flags"),
            (new & pl.col("came_back")).sum().alias("new_came_back"),
            ((flagged & pl.col("gone")).sum() / pl.col("gone").sum().replace(0, None)).alias("gone_recall"),
            pl.col("weeks_silent").filter(counted).median().cast(pl.Float64).alias("median_weeks_silent_when_flagged"),
        )
        .with_columns(pl.when(~pl.col("first")).then(pl.col("new_flags", "new_came_back")))
        .select(
            "cut_week",
            pl.col("method").cast(pl.Enum(METHODS)),
            pl.lit(HORIZON_WEEKS, dtype=pl.Int32).alias("horizon_weeks"),
            "users", "flagged", "came_back", "new_flags", "new_came_back", "gone_recall",
            "median_weeks_silent_when_flagged",
        )
        .sort("cut_week", "method")
        .with_columns(pl.col("method").cast(pl.String))
    )


def backtest(con: duckdb.DuckDBPyConnection, as_of: date, size: int = BACKTEST_USERS,
             max_cuts: int | None = MAX_CUTS) -> pl.DataFrame:
    """The flag_backtest rows of a build as of `as_of`: the sample scored at every cut, then judged."""
    sample = sample_users(con.sql("select distinct user_id from main.user_weeks").pl()["user_id"], size)
    weeks = con.sql(WEEKS_SQL, params={"as_of": as_of, "sample": sample.to_list()}).pl()
    history = active_weeks(weeks, as_of)
    cuts = cut_weeks(history.epoch, history.as_of, max_cuts)
    if not cuts:  # a history too short: no cut to score, no model to fit
        return summarise(outcomes(NO_FLAGS, weeks), cuts)
    model = fit_return_model(history)
    flags = pl.concat([flags_at(con, sample, weeks, model, cut) for cut in cuts])
    return summarise(outcomes(flags, weeks), cuts)


def write_flag_backtest(ctx: BuildContext) -> None:
    """Build stage: check past flags against what came next, into main.flag_backtest (empty when the
    history is too short for a cut with HORIZON_WEEKS weeks after it)."""
    rows = backtest(ctx.con, ctx.as_of)
    ctx.con.execute(TABLE_SQL)  # typed even when empty
    ctx.con.register("flag_backtest_frame", rows.to_arrow())
    ctx.con.execute("insert into main.flag_backtest by name select * from flag_backtest_frame")
    ctx.con.unregister("flag_backtest_frame")
