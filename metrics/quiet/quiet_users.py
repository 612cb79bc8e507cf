"""`user_status`: who went quiet, since when and why, one status per user.

Two ways use ends, two tracks:
- the stop track (return_model): the user stopped entirely. Whether a silence is long enough
  to call is learnt from the data's own past, as it stood each week: how often users of
  the same rhythm came back from a silence that long. A stop once called stays called,
  with the same drop week (the week after the last use), until the user uses it again.
- the rate track (rate_drops): the user still uses it, but far less than their own
  baseline, a fade; tested against their own weeks, adjusted for what hit their site.

Statuses, in the order they are decided (CONTRACT.md): deactivated, never_activated, new,
then for users who stopped or faded ticketed_decline, silent_churn (stopped) or quiet
(faded), and active for everyone else.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from metrics.quiet.rate_drops import rate_drops
from metrics.quiet.active_history import WeeklyHistory, active_weeks
from metrics.quiet.blocks import beside
from metrics.quiet.return_model import ReturnModel, fit_return_model, silences_at
from metrics.quiet.status_reasons import with_reason
from metrics.vocabulary import STATUSES
from metrics.quiet.user_facts import user_facts, user_tickets
from pipelines.build_context import BuildContext, week_end


Q_RATE = 0.125  # false discovery rate of the rate track's list (measured: 0.07-0.09)
MAX_RATE_RATIO = 0.5  # a fade must at least halve use to be worth a call
MAX_TAIL_Z = -1.0  # and the last four weeks alone must still lean below it (a recovered dip does not)
LIGHT_RATE = 3.0  # events a week below which the rate test has too little power
Q_STOP = 0.2  # a stop is called once at most 1 in 5 users like them came back from such a silence
Q_CORROBORATED = 0.5  # or, for a heavy user's stop sudden at their own pace (p <= PACE_ALPHA), at most half did
PACE_ALPHA = 0.02
NEW_WEEKS = 4  # weeks since the first use before a user is judged: the least that holds MIN_SILENCE silent weeks
TICKET_LEAD = timedelta(days=14)  # a ticket this long before the drop began still counts
NEVER_ACTIVATED_AFTER = timedelta(days=14)


def _fades(history: WeeklyHistory, as_of: date) -> pl.DataFrame:
    """The rate track: who is still using it but far less, and who has enough use to be tested."""
    rate = rate_drops(history, as_of, min_rate=LIGHT_RATE / 2)
    tested = (pl.col("baseline_rate") >= LIGHT_RATE).fill_null(False)
    return rate.with_columns(
        tested.alias("rate_tested"),
        (tested & (pl.col("q_value") <= Q_RATE) & (pl.col("rate_ratio") <= MAX_RATE_RATIO)
         & (pl.col("tail_z") <= MAX_TAIL_Z)).fill_null(False).alias("is_fade"),
    )


def _stops(model: ReturnModel, as_of: date) -> pl.DataFrame:
    """The stop track: every activated user's current silence, whether it is a stop, and how their
    own use fell before it."""
    cut = model.history.week_of(as_of)
    silences = silences_at(model, cut, Q_STOP, Q_CORROBORATED, PACE_ALPHA, LIGHT_RATE)
    decline = silences.decline
    epoch = np.datetime64(model.history.epoch, "D")
    stop_week = decline.drop_week(silences.last_week)
    return pl.DataFrame(
        {
            "user_id": model.history.user_ids.gather(silences.user),
            "last_active_week": epoch + 7 * silences.last_week,
            "weeks_silent": silences.weeks_silent,
            "active_weeks_26": silences.active_26,
            "rhythm_weeks": silences.rate_weeks,
            "rate_26": silences.rate_26,
            "p_back": silences.p_back,
            "is_stop": silences.stopped,
            "stopped_by": silences.stopped_by.astype(str),
            "has_faded": decline.faded,
            "stop_week": epoch + 7 * stop_week,
            "stop_baseline_rate": np.where(decline.faded, decline.fade_baseline_rate, decline.stop_baseline_rate),
            "stop_recent_rate": np.where(decline.faded, decline.fade_events, 0.0) / np.maximum(cut - stop_week + 1, 1),
            "fade_week": epoch + 7 * decline.fade_week,
            "fade_baseline_rate": decline.fade_baseline_rate,
            "fade_recent_rate": decline.fade_events / np.maximum(cut - decline.fade_week + 1, 1),
        }
    ).with_columns(pl.col("last_active_week", "stop_week", "fade_week").cast(pl.Date))


def _tracks(users: pl.DataFrame) -> pl.DataFrame:
    """One drop per user, dated by the user's own counts (so the date stays put while they are silent).

    A stop: called by the stop track. A fade: while the user still uses it, the rate test (adjusted
    for their site's weeks, calibrated, false discovery controlled) finds one and the user's own
    counts up to their last use show it, lower than ever before; once they are silent, the verdict
    of their own counts up to their last week of use stands.
    """
    silent = pl.col("weeks_silent").fill_null(0) >= 1
    rate_drop = pl.col("is_fade").fill_null(False) & (pl.col("last_active_at") >= pl.col("drop_week").cast(pl.Datetime("us")))
    own_fade = pl.col("has_faded").fill_null(False) & (pl.col("fade_baseline_rate") >= LIGHT_RATE).fill_null(False)
    stop = pl.col("is_stop").fill_null(False)
    fade = own_fade & (silent | rate_drop) & ~stop
    rate = pl.col("rate_tested").fill_null(False)
    return users.with_columns(
        (stop | fade).alias("is_drop"),
        pl.when(stop).then(pl.lit("stop")).when(fade | rate).then(pl.lit("rate"))
        .when(pl.col("weeks_silent").is_not_null()).then(pl.lit("stop")).alias("track"),
        pl.when(stop).then(pl.col("stop_week")).when(fade).then(pl.col("fade_week")).alias("drop_week"),
        pl.when(stop).then(pl.col("stop_baseline_rate")).when(fade).then(pl.col("fade_baseline_rate"))
        .alias("drop_baseline_rate"),
        pl.when(stop).then(pl.col("stop_recent_rate")).when(fade).then(pl.col("fade_recent_rate")).alias("drop_recent_rate"),
    ).with_columns(
        pl.when(pl.col("track") == "rate").then(pl.col("p_value")).alias("p_value"),
        pl.when(pl.col("track") == "rate").then(pl.col("q_value")).otherwise(pl.col("p_back")).alias("q_value"),
    )


def _ticket_since_drop(users: pl.DataFrame, tickets: pl.DataFrame) -> pl.DataFrame:
    """The first ticket each dropping user filed from shortly before the drop on."""
    first = (
        users.filter(pl.col("is_drop")).select("user_id", "drop_week")
        .join(tickets, on="user_id")
        .filter(pl.col("created_at") >= pl.col("drop_week").cast(pl.Datetime("us")) - TICKET_LEAD)
        .sort("created_at")
        .group_by("user_id", maintain_order=True)
        .first()
        .select("user_id", pl.col("created_at").alias("drop_ticket_at"), pl.col("category").alias("drop_ticket_category"))
    )
    return users.join(first, on="user_id", how="left")


def _status(as_of: date) -> pl.Expr:
    window_end = week_end(as_of)
    new_since = datetime.combine(as_of - timedelta(weeks=NEW_WEEKS - 1), datetime.min.time())
    return (
        pl.when(pl.col("deactivated_at") < window_end).then(pl.lit("deactivated"))
        .when(pl.col("last_active_at").is_null() & (pl.col("invited_at") < window_end - NEVER_ACTIVATED_AFTER))
        .then(pl.lit("never_activated"))
        .when(pl.col("last_active_at").is_null() | (pl.col("first_active_at") >= new_since)).then(pl.lit("new"))
        .when(pl.col("is_drop") & pl.col("drop_ticket_at").is_not_null()).then(pl.lit("ticketed_decline"))
        .when(pl.col("is_drop") & (pl.col("track") == "stop")).then(pl.lit("silent_churn"))
        .when(pl.col("is_drop")).then(pl.lit("quiet"))
        .otherwise(pl.lit("active"))
        .cast(pl.Enum(STATUSES))
    )


def score_at(facts: pl.DataFrame, user_weeks: pl.DataFrame, tickets: pl.DataFrame, as_of: date,
             model: ReturnModel) -> pl.DataFrame:
    """The contract's user_status rows as of `as_of`, with a return model fitted up to as_of or later
    (it uses only what it knew by each week, so one model serves many past weeks)."""
    return _score(facts, active_weeks(user_weeks, as_of), tickets, as_of, lambda: model)


def score_users(facts: pl.DataFrame, user_weeks: pl.DataFrame, tickets: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The contract's user_status rows from the build's facts, weekly counts and tickets: one weekly
    history serves both tracks."""
    history = active_weeks(user_weeks, as_of)
    return _score(facts, history, tickets, as_of, lambda: fit_return_model(history))


def _score(facts: pl.DataFrame, history: WeeklyHistory, tickets: pl.DataFrame, as_of: date,
           model: Callable[[], ReturnModel]) -> pl.DataFrame:
    """score_at, from the weekly history up to as_of (the rate track's) and a return model (the stop
    track's, which may know later weeks). The two tracks run side by side (blocks.beside), the stop
    track, done first, joining its users to the facts while the rate track runs."""
    stops = beside(lambda: facts.join(_stops(model(), as_of), on="user_id", how="left"))
    fades = _fades(history, as_of)  # before waiting on the stop track, so the two overlap
    users = (
        stops.result().join(fades, on="user_id", how="left")
        .pipe(_tracks)
        .pipe(_ticket_since_drop, tickets)
    )
    users = users.with_columns(_status(as_of).alias("status"), pl.lit(as_of).alias("as_of"))
    judged = pl.col("status").is_in(["active", "quiet", "silent_churn", "ticketed_decline"])
    dropped = pl.col("status").is_in(["quiet", "silent_churn", "ticketed_decline"])
    users = users.with_columns(  # users who did not drop: the last weeks against the usual
        pl.when(dropped).then(pl.col("drop_baseline_rate")).otherwise(pl.col("usual_rate")).alias("baseline_rate"),
        pl.when(dropped).then(pl.col("drop_recent_rate")).otherwise(pl.col("lately_rate")).alias("recent_rate"),
    )
    return with_reason(users, as_of).select(
        "user_id",
        "site_id",
        "role",
        "as_of",
        "status",
        "last_active_at",
        "baseline_rate",
        "recent_rate",
        pl.when(dropped).then(pl.col("drop_week")).alias("drop_week"),
        pl.when(judged).then(pl.col("p_value")).alias("p_value"),
        pl.when(judged).then(pl.col("q_value")).alias("q_value"),
        "last_ticket_at",
        "trained",
        "reason",
        pl.when(judged).then(pl.col("track")).alias("track"),
    ).sort("user_id")


def write_user_status(ctx: BuildContext) -> None:
    """Build stage: read the weekly tables, score every user, write main.user_status."""
    con, as_of = ctx.con, ctx.as_of
    status = score_users(user_facts(con, as_of), ctx.shared("user_weeks", read_user_weeks), user_tickets(con, as_of), as_of)
    stops = con.sql("select user_id, feature as feature_stopped_first from core.feature_stops").pl()
    ctx.write_table("user_status", with_feature_stopped_first(status, stops).with_columns(pl.col("status").cast(pl.String)))


def with_feature_stopped_first(status: pl.DataFrame, stops: pl.DataFrame) -> pl.DataFrame:
    """For a user whose use fell (quiet, silent churn, ticketed decline), the feature they
    stopped first (core.feature_stops): what to train on when they are called."""
    declined = pl.col("status").cast(pl.String).is_in(["quiet", "silent_churn", "ticketed_decline"])
    return status.join(stops, on="user_id", how="left").with_columns(
        pl.when(declined).then(pl.col("feature_stopped_first")).alias("feature_stopped_first")
    )


def read_user_weeks(ctx: BuildContext) -> pl.DataFrame:
    """The weekly counts the scoring reads (each user's rows together, by week)."""
    return ctx.con.sql("select user_id, site_id, week, events, active_days, is_enrolled from main.user_weeks").pl()
