"""One plain sentence per user saying why they have their status, for a CSM to act on.

Every clause must be true of the user's own history: a rate is compared with a baseline
only when both exist, "within their usual ups and downs" only for users the rate test
looked at, and a silent user is described by their silence, never by a rate of late.
"""
from __future__ import annotations

from datetime import date

import polars as pl

from metrics.quiet.rate_drops import LATELY_WEEKS


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


def _percent(column: str) -> pl.Expr:
    share = pl.col(column)
    return pl.when(share < 0.005).then(pl.lit("under 1%")).otherwise(pl.format("{}%", (share * 100).round(0).cast(pl.Int64)))


def _rhythm() -> pl.Expr:
    """How the user used it up to their last use: 'once, on <day>', 'every week of the N up to
    <day>', or 'in A of the N weeks up to <day>' (N at most 26, counted from the first use)."""
    up_to = pl.format("the {} up to {} ({} a week)", _weeks(pl.col("rhythm_weeks")), _day("last_active_at"),
                      _per_week("rate_26"))
    return (
        pl.when(pl.col("first_active_at").dt.date() >= pl.col("last_active_week"))
        .then(pl.format("once, on {}", _day("last_active_at")))
        .when(pl.col("active_weeks_26") >= pl.col("rhythm_weeks")).then(pl.format("every week of {}", up_to))
        .otherwise(pl.format("in {} of {}", pl.col("active_weeks_26"), up_to))
    )


def _why_stopped() -> pl.Expr:
    """The rule that called the stop, as the second half of a sentence."""
    silent = _weeks(pl.col("weeks_silent"))
    by = pl.col("stopped_by")
    return (
        pl.when(by == "year").then(pl.format("not at all in the {} since, over a year", silent))
        .when(by == "half_year").then(pl.format("not at all in the {} since, longer than any break before", silent))
        .when(by == "sudden").then(pl.format(
            "not at all in the {} since, sudden at their pace, and {} of users like them came back from such a "
            "silence", silent, _percent("p_back")))
        .otherwise(pl.format("not at all in the {} since, and {} of users like them came back from such a silence",
                             silent, _percent("p_back")))
    )


Sentences = list[tuple[pl.Expr, pl.Expr]]  # (when, sentence) pairs: the first whose `when` holds says it


def _active(rate_tested: pl.Expr) -> Sentences:
    """Why an active user is not flagged: their silence is still short, or their use is as usual."""
    recent, usual = pl.col("recent_rate"), pl.col("baseline_rate")
    lately = pl.lit(LATELY_WEEKS)
    return [
        (pl.col("weeks_silent") >= 1, pl.format(
            "Last used it on {}, {} ago; {} of users like them came back from a silence that long, too many to "
            "call it a stop.", _day("last_active_at"), _weeks(pl.col("weeks_silent")), _percent("p_back"))),
        (usual.is_null() | (usual == 0),
         pl.format("Using it {} a week in the last {} weeks, after little or no use before.", _per_week("recent_rate"),
                   lately)),
        ((recent < 0.7 * usual) & rate_tested, pl.format(
            "Using it less lately ({} a week in the last {} weeks, usually {}), within their usual ups and downs.",
            _per_week("recent_rate"), lately, _per_week("baseline_rate"))),
        (recent < 0.7 * usual,
         pl.format("Using it less lately ({} a week in the last {} weeks, usually {}).", _per_week("recent_rate"),
                   lately, _per_week("baseline_rate"))),
        (recent > 1.5 * usual,
         pl.format("Using it more than usual ({} a week in the last {} weeks, usually {}).",
                   _per_week("recent_rate"), lately, _per_week("baseline_rate"))),
        (pl.lit(True), pl.format("Using it {} a week in the last {} weeks, in line with the usual {}.",
                                 _per_week("recent_rate"), lately, _per_week("baseline_rate"))),
    ]


def _sentences(as_of: date) -> Sentences:
    """Every sentence, from the columns score_at builds (status, track, dates, rates, the silence)."""
    weeks_since_drop = _weeks((pl.lit(as_of) - pl.col("drop_week")).dt.total_days() // 7 + 1)
    stopped = pl.col("track") == "stop"
    status = pl.col("status")
    return [
        (status == "deactivated", pl.format("Seat removed on {}.", _day("deactivated_at"))),
        (status == "never_activated", pl.format("Invited on {}; has never used the product.", _day("invited_at"))),
        ((status == "new") & pl.col("last_active_at").is_null(),
         pl.format("Invited on {}; too soon to judge.", _day("invited_at"))),
        (status == "new", pl.format("First used it on {}; too little history to judge yet.", _day("first_active_at"))),
        (status == "silent_churn", pl.format("Used it {}; {}; no ticket.", _rhythm(), _why_stopped())),
        (status == "quiet", pl.format(
            "Used it {} a week until {}; {} a week in the {} since; no ticket.",
            _per_week("baseline_rate"), _day(pl.col("drop_week") - pl.duration(days=1)),
            _per_week("recent_rate"), weeks_since_drop,
        )),
        ((status == "ticketed_decline") & stopped, pl.format(
            "Used it {}; not since; filed a {} ticket on {}, so support knows.", _rhythm(),
            pl.col("drop_ticket_category").fill_null("support"), _day("drop_ticket_at"),
        )),
        (status == "ticketed_decline", pl.format(
            "Use fell from {} to {} a week from {}; filed a {} ticket on {}, so support knows.",
            _per_week("baseline_rate"), _per_week("recent_rate"), _day("drop_week"),
            pl.col("drop_ticket_category").fill_null("support"), _day("drop_ticket_at"),
        )),
        *_active(pl.col("rate_tested").fill_null(False)),
    ]


def with_reason(users: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """`users` with their `reason`. Each sentence is written for its own users only: as one
    when-then chain, polars would write every sentence for every user and keep one."""
    sentences = _sentences(as_of)
    which = pl.when(sentences[0][0]).then(0)
    for number, (when, _) in enumerate(sentences[1:], 1):
        which = which.when(when).then(number)
    numbered = users.lazy().with_columns(which.alias("_sentence"), pl.int_range(pl.len()).alias("_row"))
    written = pl.concat([numbered.filter(pl.col("_sentence") == number).select("_row", sentence.alias("reason"))
                         for number, (_, sentence) in enumerate(sentences)]).sort("_row").collect()
    return users.with_columns(written["reason"])
