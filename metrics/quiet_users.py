"""`user_status`: who went quiet, since when and why, one status per user.

Statuses, in the order they are decided (CONTRACT.md): deactivated, never_activated, new,
then for users whose use dropped (rate track or light track) ticketed_decline, silent_churn
or quiet, and active for everyone else.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import polars as pl

from metrics.light_users import light_user_scores
from metrics.rate_drops import rate_drops
from metrics.status_reasons import reason
from metrics.user_facts import user_facts, user_tickets

STATUSES = ["never_activated", "new", "active", "quiet", "silent_churn", "ticketed_decline", "deactivated"]
FLAGGED = ["quiet", "silent_churn"]

Q_RATE = 0.125  # false discovery rate of the rate track's list (measured: 0.07-0.09)
Q_LIGHT = 0.05  # Bayesian false discovery rate of the light track's list
MAX_RATE_RATIO = 0.5  # a drop must at least halve use to be worth a call
MAX_TAIL_RATIO = 0.75  # and use in the last two weeks must still be well below the baseline
LIGHT_RATE = 3.0  # events a week below which the rate test has too little power
NEW_WEEKS = 6  # weeks of use history needed to judge
TICKET_LEAD = timedelta(days=14)  # a ticket this long before the drop began still counts
NEVER_ACTIVATED_AFTER = timedelta(days=14)


def _with_drops(facts: pl.DataFrame, user_weeks: pl.DataFrame, as_of: date) -> pl.DataFrame:
    rate = rate_drops(user_weeks, as_of)
    heavy = pl.col("baseline_rate") >= LIGHT_RATE
    rate = rate.with_columns(
        (heavy & (pl.col("q_value") <= Q_RATE) & (pl.col("rate_ratio") <= MAX_RATE_RATIO)
         & (pl.col("tail_ratio") <= MAX_TAIL_RATIO)).fill_null(False).alias("is_drop"),
        pl.lit("rate").alias("track"),
    )
    light_ids = rate.filter(~heavy.fill_null(True))["user_id"]
    light = light_user_scores(user_weeks, as_of, light_ids, Q_LIGHT).with_columns(
        pl.col("p_alive").alias("p_value"), pl.lit("light").alias("track")
    )
    light_columns = ["p_value", "q_value", "is_drop", "drop_week", "track", "p_alive"]
    return (
        facts.join(rate, on="user_id", how="left")
        .join(light.select("user_id", *[pl.col(c).alias(f"light_{c}") for c in light_columns]), on="user_id",
              how="left")
        .with_columns(
            [
                pl.when(pl.col("light_track").is_not_null()).then(pl.col(f"light_{c}")).otherwise(pl.col(c)).alias(c)
                for c in ["p_value", "q_value", "is_drop", "drop_week", "track"]
            ]
        )
        .rename({"light_p_alive": "p_alive"})
        .drop([f"light_{c}" for c in light_columns if c != "p_alive"])
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
    window_end = datetime.combine(as_of + timedelta(weeks=1), datetime.min.time())
    new_since = datetime.combine(as_of - timedelta(weeks=NEW_WEEKS - 1), datetime.min.time())
    return (
        pl.when(pl.col("deactivated_at") < window_end).then(pl.lit("deactivated"))
        .when(pl.col("last_active_at").is_null() & (pl.col("invited_at") < window_end - NEVER_ACTIVATED_AFTER))
        .then(pl.lit("never_activated"))
        .when(pl.col("last_active_at").is_null() | (pl.col("first_active_at") >= new_since)).then(pl.lit("new"))
        .when(pl.col("is_drop") & pl.col("drop_ticket_at").is_not_null()).then(pl.lit("ticketed_decline"))
        .when(pl.col("is_drop") & (pl.col("last_active_at") < pl.col("drop_week").cast(pl.Datetime("us"))))
        .then(pl.lit("silent_churn"))
        .when(pl.col("is_drop")).then(pl.lit("quiet"))
        .when(pl.col("p_value").is_null() & pl.col("track").is_null()).then(pl.lit("new"))
        .otherwise(pl.lit("active"))
        .cast(pl.Enum(STATUSES))
    )


def score_users(facts: pl.DataFrame, user_weeks: pl.DataFrame, tickets: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The contract's user_status rows from the build's facts, weekly counts and tickets."""
    users = _ticket_since_drop(_with_drops(facts, user_weeks, as_of).with_columns(pl.col("is_drop").fill_null(False)),
                               tickets)
    users = users.with_columns(_status(as_of).alias("status"), pl.lit(as_of).alias("as_of"))
    tested = pl.col("status").is_in(["active", "quiet", "silent_churn", "ticketed_decline"])
    dropped = pl.col("status").is_in(["quiet", "silent_churn", "ticketed_decline"])
    users = users.with_columns(  # users who did not drop: the last weeks against the usual
        pl.when(dropped).then(pl.col("baseline_rate")).otherwise(pl.col("usual_rate")).alias("baseline_rate"),
        pl.when(dropped).then(pl.col("recent_rate")).otherwise(pl.col("lately_rate")).alias("recent_rate"),
    )
    return users.with_columns(reason(as_of).alias("reason")).select(
        "user_id",
        "site_id",
        "role",
        "as_of",
        "status",
        "last_active_at",
        "baseline_rate",
        "recent_rate",
        pl.when(dropped).then(pl.col("drop_week")).alias("drop_week"),
        pl.when(tested).then(pl.col("p_value")).alias("p_value"),
        pl.when(tested).then(pl.col("q_value")).alias("q_value"),
        "last_ticket_at",
        "trained",
        "reason",
        pl.when(tested).then(pl.col("track")).alias("track"),
    ).sort("user_id")


def write_user_status(con: duckdb.DuckDBPyConnection) -> None:
    """Build stage: read the weekly tables, score every user, write main.user_status."""
    [(as_of,)] = con.execute("select as_of from core.build_window").fetchall()
    user_weeks = con.sql("select user_id, site_id, week, events, active_days, is_enrolled from main.user_weeks").pl()
    status = score_users(user_facts(con, as_of), user_weeks, user_tickets(con, as_of), as_of)
    con.register("user_status_frame", status.with_columns(pl.col("status").cast(pl.String)).to_arrow())
    con.execute("create or replace table main.user_status as select * from user_status_frame")
    con.unregister("user_status_frame")
