"""`training_survival`: do users at trained sites go silent less often?

Training is a time-varying covariate: a user's weeks before their site's first training
week count as untrained and only the weeks from it on as trained (a "trained" group fixed
at the start would credit training with the weeks users had to survive to be trained:
immortal-time bias). Each user is split into at most two intervals at risk, (start,
stop], which Kaplan-Meier with delayed entry (Simon & Makuch 1984) and a Cox model in
counting-process form read directly.

The event is going silent: the drop week of a user whose status is quiet or
silent_churn (the flag a CSM acts on; a partial fade is the usual road to a full stop).
A ticketed decline is not silent, so it ends the user's time at risk without an event;
so does a removed seat.

When a user can be seen going silent: the drop scan looks for drop starts in the last
MAX_RECENT weeks only, and after MIN_BASELINE_WEEKS of use. Weeks before that window
could never show an event, so a user's time at risk starts (delayed entry) at the later
of the window's first week and MIN_BASELINE_WEEKS after first use. At the other end, a
drop that began in the last CONFIRM_WEEKS weeks has had too few weeks to be confirmed
yet; counting those weeks would make whichever group holds more recent weeks (the trained
one: training comes late in a site's life) look safer, so time at risk ends before them.

Two clocks. The curves run in weeks since a user's first use, what a CSM asks ("how many
are still with us N weeks in"); they are conditional on not having gone silent before the
window, and they compare groups that differ in more than training (sites trained first
are the struggling ones). The hazard ratio (`training_tests`, a `SiteCox` model) runs in
calendar weeks, because the window, the detection delay, holidays and releases are
calendar things, with a Cox term per site: each site keeps its own level of risk, all
share the calendar's shape, and the ratio compares a site's weeks after its training with
its weeks before, against the same weeks at other sites, a difference-in-differences on
the hazard. (Strata per site would put
each site on its own calendar clock, on which every user of a site is trained at the same
moment: nothing would be left to compare. On the first-use clock, strata per site compare
users who started later with those who started at go-live, which is a different question.)
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

from metrics.quiet.drop_scan import MAX_RECENT, MIN_BASELINE_WEEKS
from metrics.vocabulary import FLAGGED
from pipelines.build_context import BuildContext

__all__ = [
    "CONFIRM_WEEKS",
    "GROUPS",
    "MIN_AT_RISK",
    "first_training_weeks",
    "read_risk_intervals",
    "risk_intervals",
    "survival_curves",
    "write_training_survival",
]

GROUPS = ["not_yet_trained", "trained"]
MIN_AT_RISK = 10  # curve points with fewer users at risk are noise, and left out
CONFIRM_WEEKS = 4  # weeks of evidence a drop needs before the scan can confirm it
Z_95 = float(stats.norm.ppf(0.975))


def first_training_weeks(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """site_id, first_training_week for every site trained by the end of the as_of week
    (the SQL model core.first_training_weeks)."""
    return con.sql("select site_id, first_training_week from core.first_training_weeks").pl()


def _weeks_between(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_days() // 7


def risk_intervals(users: pl.DataFrame, first_training: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Counting-process rows: user_id, site_id, trained, start, stop, event,
    calendar_start, calendar_stop.

    `users` has user_id, site_id, status, drop_week, first_week (first week of use) and
    deactivated_week. A row is at risk in (start, stop], in weeks since first use, or
    (calendar_start, calendar_stop] in weeks since the window's first week; `event` says
    whether it ends in the user going silent. A user contributes an untrained row up to
    the site's first training week and a trained row from it on.
    """
    window_start = as_of - timedelta(weeks=MAX_RECENT - 1)
    window_end = as_of - timedelta(weeks=CONFIRM_WEEKS - 1)  # exclusive
    silent = pl.col("status").is_in(FLAGGED) & (pl.col("drop_week") < window_end)
    since_window = {
        "entry": pl.max_horizontal(pl.lit(window_start), pl.col("first_week") + pl.duration(weeks=MIN_BASELINE_WEEKS)),
        "exit": pl.min_horizontal(
            pl.when(silent).then(pl.col("drop_week") + pl.duration(weeks=1))
            .when(pl.col("status") == "ticketed_decline").then(pl.col("drop_week"))
            .when(pl.col("status") == "deactivated").then(pl.col("deactivated_week")),
            pl.lit(window_end),
        ),
        "trained_from": pl.col("first_training_week"),
        "first_use": pl.col("first_week"),
    }
    spans = (
        users.lazy()
        .join(first_training.lazy(), on="site_id", how="left")
        .select(
            "user_id", "site_id", silent.alias("is_silent"),
            *[_weeks_between(moment, pl.lit(window_start)).alias(name) for name, moment in since_window.items()],
        )
        .filter(pl.col("exit") > pl.col("entry"))
    )
    untrained = spans.select(
        "user_id", "site_id", "first_use", pl.lit(False).alias("trained"), pl.col("entry").alias("calendar_start"),
        pl.min_horizontal("exit", "trained_from").alias("calendar_stop"),
        (pl.col("is_silent") & (pl.col("trained_from").is_null() | (pl.col("exit") <= pl.col("trained_from"))))
        .alias("event"),
    )
    trained = spans.filter(pl.col("trained_from").is_not_null()).select(
        "user_id", "site_id", "first_use", pl.lit(True).alias("trained"),
        pl.max_horizontal("entry", "trained_from").alias("calendar_start"), pl.col("exit").alias("calendar_stop"),
        pl.col("is_silent").alias("event"),
    )
    return (
        pl.concat([untrained, trained])
        .filter(pl.col("calendar_stop") > pl.col("calendar_start"))
        .select(
            "user_id", "site_id", "trained",
            (pl.col("calendar_start") - pl.col("first_use")).alias("start"),
            (pl.col("calendar_stop") - pl.col("first_use")).alias("stop"),
            "event", "calendar_start", "calendar_stop",
        )
        .sort("user_id", "start")
        .collect()
    )


def survival_curves(intervals: pl.DataFrame) -> pl.DataFrame:
    """Kaplan-Meier curves with delayed entry, one per group: group, week, survival,
    ci_low, ci_high, n_at_risk.

    `week` counts weeks since first use; survival is the share not yet gone silent by
    then. Intervals are pointwise 95%, on the log(-log) scale so they stay in [0, 1].
    Weeks with fewer than MIN_AT_RISK users at risk are left out.
    """
    return pl.concat(
        [_curve(intervals.filter(pl.col("trained") == (group == "trained")), group) for group in GROUPS]
    )


def _curve(rows: pl.DataFrame, group: str) -> pl.DataFrame:
    start, stop, event = (rows[c].to_numpy() for c in ("start", "stop", "event"))
    weeks = np.arange(start.min() + 1, stop.max() + 1) if rows.height else np.arange(0)
    # at risk in week t: start < t <= stop
    at_risk = np.searchsorted(np.sort(start), weeks, side="left") - np.searchsorted(np.sort(stop), weeks, side="left")
    survival, se = np.ones(weeks.size), np.zeros(weeks.size)
    if event.any():
        fit = SurvfuncRight(stop, event.astype(float), entry=start)
        # the step function just after each week: the last event time at or before it
        step = np.searchsorted(fit.surv_times, weeks, side="right") - 1
        seen = step >= 0
        survival[seen] = fit.surv_prob[step[seen]]
        se[seen] = fit.surv_prob_se[step[seen]]
    low, high = _log_log_interval(survival, se)
    return pl.DataFrame(
        {"group": group, "week": weeks, "survival": survival, "ci_low": low, "ci_high": high, "n_at_risk": at_risk},
        schema={"group": pl.String, "week": pl.Int64, "survival": pl.Float64, "ci_low": pl.Float64,
                "ci_high": pl.Float64, "n_at_risk": pl.Int64},
    ).filter(pl.col("n_at_risk") >= MIN_AT_RISK)


def _log_log_interval(survival: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise interval for S from Greenwood's se, through log(-log S) (Kalbfleisch &
    Prentice); where S is 1 (no event yet) or 0 the interval collapses to the point."""
    inner = (survival > 0) & (survival < 1)
    log_s = np.log(np.where(inner, survival, 0.5))
    half = Z_95 * se / np.where(inner, survival * np.abs(log_s), 1.0)
    low = np.where(inner, survival ** np.exp(half), survival)
    high = np.where(inner, survival ** np.exp(-half), survival)
    return low, high


def read_risk_intervals(ctx: BuildContext) -> pl.DataFrame:
    """`risk_intervals` of the build's users as of its as_of week, once per build: the
    curves and the hazard ratio (`training_tests`) both read them."""
    return ctx.shared(
        "risk_intervals",
        lambda ctx: risk_intervals(ctx.con.sql("select * from core.users_at_risk").pl(), first_training_weeks(ctx.con),
                                   ctx.as_of),
    )


def write_training_survival(ctx: BuildContext) -> None:
    """Build stage: write main.training_survival, the curves of the training page."""
    ctx.write_table("training_survival", survival_curves(read_risk_intervals(ctx)))
