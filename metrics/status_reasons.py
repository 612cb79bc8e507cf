"""One plain sentence per user saying why they have their status, for a CSM to act on."""
from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from metrics.rate_drops import LATELY_WEEKS


def _day(column: str | pl.Expr) -> pl.Expr:
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.dt.strftime("%-d %b %Y")


def _per_week(column: str) -> pl.Expr:
    rate = pl.col(column)
    return (
        pl.when(rate < 0.95).then(pl.lit("less than once"))
        .when(rate < 1.5).then(pl.lit("about once"))
        .otherwise(pl.format("~{} times", rate.round(0).cast(pl.Int64)))
    )


def _weeks(expr: pl.Expr) -> pl.Expr:
    """'1 week' or 'N weeks'."""
    n = expr.cast(pl.Int64)
    return pl.when(n == 1).then(pl.lit("1 week")).otherwise(pl.format("{} weeks", n))


def reason(as_of: date) -> pl.Expr:
    window_end = pl.lit(as_of + timedelta(weeks=1)).cast(pl.Datetime("us"))
    weeks_since_drop = _weeks((pl.lit(as_of) - pl.col("drop_week")).dt.total_days() // 7 + 1)
    weeks_silent = _weeks((window_end - pl.col("last_active_at")).dt.total_days() // 7)
    light = pl.col("track") == "light"
    likely = pl.format("{}%", (pl.col("p_alive") * 100).round(0).cast(pl.Int64))
    status = pl.col("status")
    return (
        pl.when(status == "deactivated")
        .then(pl.format("Seat removed on {}.", _day("deactivated_at")))
        .when(status == "never_activated")
        .then(pl.format("Invited on {}; has never used the product.", _day("invited_at")))
        .when((status == "new") & pl.col("last_active_at").is_null())
        .then(pl.format("Invited on {}; too soon to judge.", _day("invited_at")))
        .when(status == "new")
        .then(pl.format("First used it on {}; too little history to judge yet.", _day("first_active_at")))
        .when((status == "silent_churn") & light)
        .then(pl.format(
            "Used it now and then ({} a week) until {}; silent for {} since, longer than their usual gaps "
            "(still active: {} likely); no ticket.",
            _per_week("baseline_rate"), _day("last_active_at"), weeks_silent, likely,
        ))
        .when(status == "silent_churn")
        .then(pl.format(
            "Used it {} a week until {}; not at all in the {} since; no ticket.",
            _per_week("baseline_rate"), _day("last_active_at"), weeks_silent,
        ))
        .when(status == "quiet")
        .then(pl.format(
            "Used it {} a week until {}; {} a week in the {} since; no ticket.",
            _per_week("baseline_rate"), _day(pl.col("drop_week") - pl.duration(days=1)),
            _per_week("recent_rate"), weeks_since_drop,
        ))
        .when(status == "ticketed_decline")
        .then(pl.format(
            "Use fell from {} to {} a week from {}; filed a {} ticket on {}, so support knows.",
            _per_week("baseline_rate"), _per_week("recent_rate"), _day("drop_week"),
            pl.col("drop_ticket_category").fill_null("support"), _day("drop_ticket_at"),
        ))
        .when(light)
        .then(pl.format("Light but regular user ({} a week); {} likely still active.", _per_week("baseline_rate"),
                        likely))
        .when(pl.col("recent_rate") < 0.7 * pl.col("baseline_rate"))
        .then(pl.format(
            "Using it less lately ({} a week in the last {} weeks, usually {}), within their usual ups and downs.",
            _per_week("recent_rate"), pl.lit(LATELY_WEEKS), _per_week("baseline_rate"),
        ))
        .when(pl.col("recent_rate").is_not_null())
        .then(pl.format(
            "Using it {} a week in the last {} weeks, in line with the usual {}.", _per_week("recent_rate"),
            pl.lit(LATELY_WEEKS), _per_week("baseline_rate"),
        ))
        .otherwise(pl.lit("Has used it, but too little of late to test against their own baseline."))
    )
