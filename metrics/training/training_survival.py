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
are the struggling ones). The hazard ratio runs in calendar weeks, because the window,
the detection delay, holidays and releases are calendar things, with a Cox term per site:
each site keeps its own level of risk, all share the calendar's shape, and the ratio
compares a site's weeks after its training with its weeks before, against the same weeks
at other sites, a difference-in-differences on the hazard. (Strata per site would put
each site on its own calendar clock, on which every user of a site is trained at the same
moment: nothing would be left to compare. On the first-use clock, strata per site compare
users who started later with those who started at go-live, which is a different question.)
"""
from __future__ import annotations

from dataclasses import dataclass
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
    "HazardRatio",
    "MIN_AT_RISK",
    "first_training_weeks",
    "hazard_ratio",
    "read_risk_intervals",
    "risk_intervals",
    "survival_curves",
    "write_training_survival",
]

GROUPS = ["not_yet_trained", "trained"]
MIN_AT_RISK = 10  # curve points with fewer users at risk are noise, and left out
CONFIRM_WEEKS = 4  # weeks of evidence a drop needs before the scan can confirm it
Z_95 = float(stats.norm.ppf(0.975))

FIRST_TRAINING_SQL = """
-- A site's first training week: the Monday of its first whole-site session or first
-- attended user session, up to the end of the as_of week. Shared with the event study.
select
    trainings.site_id,
    min(date_trunc('week', trainings.session_date))::date as first_training_week
from core.trainings as trainings
where trainings.attended
    and trainings.session_date < (select window_end from core.build_window)
group by trainings.site_id
"""

USERS_SQL = """
-- Users who ever used the product, with what ends their time at risk.
with first_use as (
    select user_id, min(week) as first_week
    from main.user_weeks
    where events > 0
    group by user_id
)

select
    user_status.user_id,
    user_status.site_id,
    user_status.status,
    user_status.drop_week,
    first_use.first_week,
    date_trunc('week', users.deactivated_at)::date as deactivated_week
from main.user_status as user_status
inner join first_use on user_status.user_id = first_use.user_id
inner join core.users as users on user_status.user_id = users.user_id
"""


@dataclass(frozen=True)
class HazardRatio:
    """Cox hazard ratio of going silent, trained vs not (yet) trained, with its 95% CI."""

    estimate: float
    ci_low: float
    ci_high: float
    n_users: int
    n_events: int


def first_training_weeks(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """site_id, first_training_week for every site trained by the end of the as_of week."""
    return con.sql(FIRST_TRAINING_SQL).pl()


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


def hazard_ratio(intervals: pl.DataFrame) -> HazardRatio | None:
    """Cox model of going silent on being trained, in calendar weeks, with a term per
    site (Efron ties); a row is at risk in (calendar_start, calendar_stop]. (statsmodels'
    PHReg would count it at risk at calendar_start too, which puts a user at risk twice
    in the week their site was trained, once untrained and once trained, and biased the
    ratio low: a geometric mean of 0.73 over demos without an effect, 1.03 now.)

    Sites without an event are left out: their term would run off to minus infinity,
    which is the same as leaving them out. Only sites trained within the window compare
    before with after; None when those hold no event on one side, because the estimate
    would then run off to 0 or infinity (monotone likelihood), no number to show.
    """
    with_events = intervals.filter(pl.col("event").any().over("site_id"))
    switching = with_events.filter(pl.col("trained").n_unique().over("site_id") == 2)
    if switching.filter(pl.col("event"))["trained"].n_unique() < 2:
        return None
    log_hr, se = _fit_site_cox(*_risk_set_counts(with_events))
    return HazardRatio(
        estimate=float(np.exp(log_hr)),
        ci_low=float(np.exp(log_hr - Z_95 * se)),
        ci_high=float(np.exp(log_hr + Z_95 * se)),
        n_users=with_events["user_id"].n_unique(),
        n_events=int(with_events["event"].sum()),
    )


def _risk_set_counts(intervals: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """At risk and going silent at each calendar week with an event, by site and
    trained: two arrays of event weeks x sites x (untrained, trained).

    The model's covariates are the site and whether trained, so the partial likelihood
    depends on the rows only through these counts: fitting on them is exact, and takes
    a few thousand cells where the rows are one per user and the site terms made a
    row-level fit (statsmodels' PHReg) cost rows x sites^2 per iteration.
    """
    site = np.unique(intervals["site_id"].to_numpy(), return_inverse=True)[1]
    trained = intervals["trained"].to_numpy().astype(int)
    first = intervals["calendar_start"].min()  # weeks from it: array positions
    start, stop = ((intervals[c] - first).to_numpy() for c in ("calendar_start", "calendar_stop"))
    event = intervals["event"].to_numpy()
    grid = (site.max() + 1, 2, stop.max() + 2)
    entered, left, failed = np.zeros(grid), np.zeros(grid), np.zeros(grid)
    np.add.at(entered, (site, trained, start + 1), 1)  # at risk from the week after start
    np.add.at(left, (site, trained, stop + 1), 1)  # up to and including stop
    np.add.at(failed, (site[event], trained[event], stop[event]), 1)
    at_risk = np.cumsum(entered - left, axis=2)
    weeks = np.unique(stop[event])
    return np.moveaxis(at_risk[:, :, weeks], 2, 0), np.moveaxis(failed[:, :, weeks], 2, 0)


def _fit_site_cox(at_risk: np.ndarray, failed: np.ndarray, tol: float = 1e-10) -> tuple[float, float]:
    """Log hazard ratio of being trained and its standard error, by Newton's method on
    the Efron partial likelihood of counts from `_risk_set_counts`.

    Parameters: the trained term, then a term for every site but the first. Efron's
    handling of d tied events in a week replaces the risk set's sum by its sum less
    j/d of the events' sum, j = 0..d-1: one term per event (events x sites x 2).
    """
    n_failed = failed.sum(axis=(1, 2)).astype(int)
    week = np.repeat(np.arange(n_failed.size), n_failed)
    share_gone = np.concatenate([np.arange(d) / d for d in n_failed])
    terms = at_risk[week] - share_gone[:, None, None] * failed[week]
    observed = failed.sum(axis=0)
    params = np.zeros(observed.shape[0])
    for _ in range(100):
        score, information = _score_and_information(params, terms, observed)
        step = np.linalg.solve(information, score)
        before = _log_likelihood(params, terms, observed)
        while _log_likelihood(params + step, terms, observed) < before and np.abs(step).max() > tol:
            step /= 2  # far from the optimum a full Newton step can overshoot
        params = params + step
        if np.abs(step).max() < tol:
            break
    else:
        raise RuntimeError("the Cox model of going silent did not converge")
    variance = np.linalg.solve(information, np.eye(params.size)[0])[0]
    return float(params[0]), float(np.sqrt(variance))


def _linear_predictor(params: np.ndarray) -> np.ndarray:
    """Sites x (untrained, trained): the site's term, plus the trained term when trained."""
    site_terms = np.concatenate([[0.0], params[1:]])
    return site_terms[:, None] + np.array([0.0, params[0]])[None, :]


def _log_likelihood(params: np.ndarray, terms: np.ndarray, observed: np.ndarray) -> float:
    eta = _linear_predictor(params)
    shift = eta.max()
    at_risk = np.log((terms * np.exp(eta - shift)).sum(axis=(1, 2))) + shift
    return float((observed * eta).sum() - at_risk.sum())


def _score_and_information(
    params: np.ndarray, terms: np.ndarray, observed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and observed information of the log partial likelihood.

    Each term's weights give the covariates' expected value over its risk set (the
    trained share and each site's share); the information is the sum over terms of
    their covariance, built from those shares without a row-level design matrix.
    """
    eta = _linear_predictor(params)
    weights = terms * np.exp(eta - eta.max())
    share = weights / weights.sum(axis=(1, 2))[:, None, None]
    expected = share.sum(axis=0)
    score = np.concatenate([[(observed - expected)[:, 1].sum()], (observed - expected).sum(axis=1)[1:]])
    mean_covariates = np.column_stack([share[:, :, 1].sum(axis=1), share.sum(axis=2)[:, 1:]])
    information = -mean_covariates.T @ mean_covariates
    sites = np.arange(1, params.size)
    information[0, 0] += expected[:, 1].sum()
    information[0, sites] += expected[1:, 1]
    information[sites, 0] += expected[1:, 1]
    information[sites, sites] += expected.sum(axis=1)[1:]
    return score, information


def read_risk_intervals(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """`risk_intervals` of the build's users as of its as_of week."""
    [(as_of,)] = con.execute("select as_of from core.build_window").fetchall()
    return risk_intervals(con.sql(USERS_SQL).pl(), first_training_weeks(con), as_of)


def write_training_survival(ctx: BuildContext) -> None:
    """Build stage: write main.training_survival, the curves of the training page."""
    ctx.write_table("training_survival", survival_curves(read_risk_intervals(ctx.con)))
