"""How often silent users come back, learnt from the data's own past, as it stood each week.

Whether a silence means a user is gone depends on the data's rhythm: three silent weeks
are news for a clinician who uses the product daily and nothing for an admin who logs in
monthly; and on the product: in one portfolio most users who go quiet for a month come
back, in another few do. So the model is not assumed: it is learnt from what users of the
same rhythm did after silences of each length, in this data, before each week.

The model is a discrete-time hazard of return. A spell of silence starts after each active
week L; in its k-th week (week L+k) the user either comes back or stays silent. Per rhythm
band, logit P(back in week k | silent k-1 weeks) = b0 + b1 log k + b2 log^2 k (the chance of
a return falls as a silence lengthens, because those who are gone stop returning), fitted
by maximum likelihood on the counts of silent weeks and returns, shrunk towards the
portfolio's curve where a band has little data. From it, the chance that a user silent s
weeks is back within the horizon: 1 - prod_{k=s+1..s+H} (1 - h(k)).

Point in time: the model of week t is fitted on the weeks up to t only, and a user is
stopped once the model of some week during their silence said that their silence was long
enough. So a flag never comes undone while the user stays silent, a rebuild with later data
gives the same answer for earlier weeks, and the flag_backtest scores past weeks with the
model that was known then.
"""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, fields

import numpy as np
from scipy.special import betaln, expit

from metrics.quiet.active_history import Rows, WeeklyHistory, accumulate_weeks
from metrics.quiet.blocks import each, joined
from metrics.quiet.own_decline import Decline, own_decline
from metrics.vocabulary import HORIZON_WEEKS

MAX_K = 80  # silences longer than this share one return rate
MAX_SILENCE = 52  # silent a year: stopped, whatever the model says
HALF_YEAR = 26  # silent half a year, longer than any earlier gap of the user's: stopped
MIN_SILENCE = 3  # one or two silent weeks are a vacation as often as a drop
SUDDEN_WEEKS = 12  # a stop is sudden when the user's own pace makes it clear within this many weeks
PRIOR_TRIALS = 20.0  # weight, in silent weeks, of the portfolio's curve in a band's fit
NEWTON_STEPS = 100  # at most: the curves converge in about ten
LINE_SEARCH_STEPS = 8  # halvings of a step that would lower the penalised likelihood
RIDGE = 0.5
REFIT_WEEKS = 4  # the model is refitted every this many weeks (the backtest's cut points fall on refits)

# rhythm bands: a user's first use alone, else weeks with use in the 26 up to the last
# (1, 2, 3-4, 5-8, 9-16, 17-26) x fewer or at least HEAVY_EVENTS events in a week with use
ACTIVE_WEEK_EDGES = np.array([2, 3, 5, 9, 17])
HEAVY_EVENTS = 3.0
N_BANDS = 1 + 2 * (len(ACTIVE_WEEK_EDGES) + 1)


@dataclass(frozen=True)
class Rhythm:
    """A user's rhythm at an active week L: what a silence after L is judged by."""

    band: np.ndarray  # rhythm band at L
    active_26: np.ndarray  # weeks with use in the 26 up to L
    rate_weeks: np.ndarray  # weeks of those 26 since the first use: all 26 for a user of half a year
    rate_26: np.ndarray  # events per week in those weeks


def rhythm_band(n_used: np.ndarray, active_26: np.ndarray, events_per_active_week: np.ndarray) -> np.ndarray:
    """The band of a user at an active week: first use alone, else how many of the 26 weeks up to
    it they used it x how much they did when they did (a heavy user's silence says more)."""
    level = np.searchsorted(ACTIVE_WEEK_EDGES, active_26, side="right")
    return np.where(n_used == 1, 0, 1 + 2 * level + (events_per_active_week >= HEAVY_EVENTS))


def _last_26(rows: Rows, row: np.ndarray, week: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weeks with use, and events, in the 26 weeks up to `week`."""
    return (rows.between(rows.cumulative_used, row, week - 25, week),
            rows.between(rows.cumulative, row, week - 25, week))


def _band(n_used: np.ndarray, active_26: np.ndarray, events_26: np.ndarray) -> np.ndarray:
    """rhythm_band from weeks with use so far and weeks with use and events in the last 26."""
    return rhythm_band(n_used, active_26, events_26 / np.maximum(active_26, 1))


def rhythm_at(rows: Rows, row: np.ndarray, week: np.ndarray) -> Rhythm:
    """The rhythm of users (rows of `rows`) at `week`, one of their active weeks."""
    active_26, events_26 = _last_26(rows, row, week)
    rate_weeks = np.minimum(week - rows.first_week[row] + 1, 26)
    band = _band(rows.through(rows.cumulative_used, row, week), active_26, events_26)
    return Rhythm(band, active_26, rate_weeks, events_26 / rate_weeks)


NEVER = np.iinfo(np.int32).max  # the next use of a user who has none


def _band_table() -> np.ndarray:
    """rhythm_band of every (weeks with use in 26, heavy, first use, week with use) at once, at
    ((active_26 * 2 + heavy) * 2 + first) * 2 + used (a lookup per week instead of a search);
    N_BANDS, a band of its own, for a week without use."""
    active_26, heavy, first, used = np.unravel_index(np.arange(27 * 2 * 2 * 2), (27, 2, 2, 2))
    return np.where(used, rhythm_band(np.where(first, 1, 2), active_26, heavy * HEAVY_EVENTS), N_BANDS)


BAND_TABLE = _band_table()


@dataclass(frozen=True)
class Tally:
    """Spells counted by start week, band (N_BANDS: weeks without use, no spell), length (capped at
    MAX_K) and whether a return ended them; and silences of MAX_K weeks and more by the week their
    last slot opens (+1) and closes (-1 the week after), and by the week of their return."""

    spells: np.ndarray  # (weeks, bands + 1, MAX_K + 1, 2): [..., 1] those ended by a return
    long_open: np.ndarray  # (weeks + 1, bands)
    long_back: np.ndarray  # (weeks, bands)

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def _next_use(used: np.ndarray) -> np.ndarray:
    """(weeks, users) each user's next week with use after each week, NEVER for none: a running
    minimum of the weeks with use, a week at a time from the last."""
    week = np.arange(len(used), dtype=np.int32)[:, None]
    with_use = NEVER - used * (NEVER - week)  # the week where used, NEVER where not
    after = np.empty_like(with_use)
    after[:-1], after[-1] = with_use[1:], NEVER
    accumulate_weeks(np.minimum, after[::-1])
    return after


def _trailing(cumulative: np.ndarray, weeks: int) -> np.ndarray:
    """(weeks, users) the sums of a weeks-first cumulative (`Rows.cumulative.T`) over the `weeks`
    weeks up to each week."""
    return cumulative[1:] - cumulative[np.maximum(np.arange(1, len(cumulative)) - weeks, 0)]


def _tally(rows: Rows, as_of: int) -> Tally:
    """The silence after every active week of these users as seen at as_of (to the next active week,
    or to the end of the seat or as_of), tallied with the user's rhythm at its start: at every week
    at once, laid out weeks first, the weeks without use in a band that is dropped (no cell
    gathered, no search)."""
    used = rows.used_by_week
    n_weeks, n_users = used.shape
    week = np.arange(n_weeks, dtype=np.int32)[:, None]
    next_use = _next_use(used)
    end = np.minimum(rows.enrolled_until, as_of).astype(np.int32)
    returned = next_use <= end
    length = np.maximum(np.minimum(next_use, end) - week, 0)
    cumulative_used = rows.cumulative_used.T
    active_26 = _trailing(cumulative_used, 26)
    heavy = _trailing(rows.cumulative.T, 26) / np.maximum(active_26, 1) >= HEAVY_EVENTS
    band = BAND_TABLE[((active_26 * 2 + heavy) * 2 + (cumulative_used[1:] == 1)) * 2 + used]
    cell = ((week * (N_BANDS + 1) + band) * (MAX_K + 1) + np.minimum(length, MAX_K)) * 2 + returned
    long = np.flatnonzero(used & (length >= MAX_K))
    start, band, length, returned = long // n_users, band.ravel()[long], length.ravel()[long], returned.ravel()[long]
    return Tally(
        np.bincount(cell.ravel(), minlength=n_weeks * (N_BANDS + 1) * (MAX_K + 1) * 2).reshape(
            n_weeks, N_BANDS + 1, MAX_K + 1, 2),
        (np.bincount((start + MAX_K) * N_BANDS + band, minlength=(n_weeks + 1) * N_BANDS)
         - np.bincount((start + length + 1) * N_BANDS + band, minlength=(n_weeks + 1) * N_BANDS)
         ).reshape(n_weeks + 1, N_BANDS),
        np.bincount((start + length)[returned] * N_BANDS + band[returned],
                    minlength=n_weeks * N_BANDS).reshape(n_weeks, N_BANDS),
    )


def _trial_counts(history: WeeklyHistory) -> tuple[np.ndarray, np.ndarray]:
    """(weeks, bands, MAX_K) silent weeks at risk and returns, by the calendar week they were seen.

    Silence k of a spell is week start+k; k >= MAX_K share the last slot. A spell is at risk in
    its k-th week when it lasted at least k weeks, so the counts come from the spells tallied by
    start, band and length (a reverse cumulative sum over length), each k shifted k weeks on.
    """
    n_weeks = history.as_of + 1
    t = functools.reduce(operator.add, each(lambda users: _tally(history.rows(users), history.as_of), history.blocks()))
    returned = t.spells[:, :N_BANDS, :, 1]
    spells = t.spells[:, :N_BANDS, :, 0] + returned
    lasted = np.cumsum(spells[:, :, ::-1], axis=2)[:, :, ::-1]  # spells of at least each length
    at_risk = np.zeros((n_weeks, N_BANDS, MAX_K))
    back = np.zeros((n_weeks, N_BANDS, MAX_K))
    for k in range(1, MAX_K):
        at_risk[k:, :, k - 1] = lasted[:-k, :, k]
        back[k:, :, k - 1] = returned[:-k, :, k]
    # silences of MAX_K weeks and more: one week at risk each week from start+MAX_K to the end
    at_risk[:, :, -1] = np.cumsum(t.long_open, axis=0)[:n_weeks]
    back[:, :, -1] = t.long_back
    return at_risk, back


def _design() -> np.ndarray:
    """A band's curve in the length of the silence: logit h = b0 + b1 log k + b2 log^2 k."""
    log_k = np.log(np.arange(1, MAX_K + 1))
    return np.column_stack([np.ones(MAX_K), log_k, log_k**2])


def _portfolio_design() -> np.ndarray:
    """All bands at once, (bands x K, params): the same curve in log k, shifted and tilted by how
    many weeks a band used it (log of the band's middle) and by heavy use, with first use alone
    apart. A band with little data is shrunk towards this curve at its own place among the others,
    not towards the average user: regular users come back more often than one-off ones."""
    band = np.arange(N_BANDS)
    middles = np.array([1.0, 2.0, 3.5, 6.5, 12.5, 21.5])
    level = np.log(np.where(band == 0, 1.0, middles[np.maximum(band - 1, 0) // 2]))
    heavy = (band >= 1) & ((band - 1) % 2 == 1)
    first = band == 0
    curve = _design()
    columns = [curve, level[:, None, None] * curve[None, :, :2], heavy[:, None, None] * curve[None, :, :1],
               first[:, None, None] * curve[None, :, :2]]
    return np.concatenate([np.broadcast_to(c, (N_BANDS, MAX_K, c.shape[-1])) for c in columns], axis=2).reshape(
        N_BANDS * MAX_K, -1)


def fit_logit_curves(at_risk: np.ndarray, back: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Penalised maximum-likelihood logit curves, one per leading index: (..., K) counts -> (..., params).

    Binomial GLMs with a handful of parameters each, thousands of them (a band at each week):
    Newton-Raphson on all at once, each step shortened as far as a line search finds it best. A
    weak normal prior on all but the intercept (sd 1/sqrt(RIDGE)) keeps the optimum finite where
    the data cannot pin a curve down (a week with few silences, all ended at once), so the
    objective is strictly concave and every fit converges to its one optimum.
    """
    beta = np.zeros(at_risk.shape[:-1] + (design.shape[1],))
    beta[..., 0] = -2.0
    penalty = RIDGE * np.diag(np.r_[0.0, np.ones(design.shape[1] - 1)])

    def objective(b: np.ndarray) -> np.ndarray:
        eta = b @ design.T
        return (back * eta - at_risk * np.logaddexp(0.0, eta)).sum(axis=-1) - 0.5 * np.einsum(
            "...p,pq,...q->...", b, penalty, b)

    current = objective(beta)
    for _ in range(NEWTON_STEPS):
        p = expit(beta @ design.T)
        gradient = (back - at_risk * p) @ design - beta @ penalty
        weighted = (at_risk * p * (1 - p))[..., None] * design  # (..., K, params)
        hessian = np.swapaxes(weighted, -1, -2) @ design + penalty + 1e-9 * np.eye(design.shape[1])
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        length = np.ones(current.shape)
        for _halving in range(LINE_SEARCH_STEPS):  # shorten only the steps that made things worse
            reached = objective(beta + length[..., None] * step)
            worse = reached < current
            if not worse.any():
                break
            length = np.where(worse, length / 2, length)
        step = np.where((reached >= current)[..., None], length[..., None] * step, 0.0)
        beta, current = beta + step, np.maximum(reached, current)
        if np.abs(step).max(initial=0.0) < 1e-9:
            break
    return beta


@dataclass(frozen=True, eq=False)  # compared and hashed by identity, so its judgements can be cached
class ReturnModel:
    """Per week (as it stood then) and rhythm band: the chance of being back within the horizon."""

    history: WeeklyHistory
    p_back: np.ndarray  # (weeks, bands, MAX_SILENCE + 1): P(use within HORIZON_WEEKS | silent s weeks)

    @functools.lru_cache(maxsize=4)
    def stopped_since(self, q: float) -> np.ndarray:
        """(weeks, bands): the latest spell start a model up to each week had judged stopped at `q`.

        A silence of s weeks is judged stopped by week t's model when s >= MIN_SILENCE and
        P(back) <= q; a spell that started at L is stopped at week t when some week t' <= t
        judged t' - L enough. The running maximum over weeks makes that one comparison.
        """
        silence = np.arange(MAX_SILENCE + 1)
        enough = (self.p_back <= q) & (silence >= MIN_SILENCE)
        needed = np.where(enough.any(axis=2), enough.argmax(axis=2), 10 * MAX_SILENCE)
        return np.maximum.accumulate(np.arange(len(self.p_back))[:, None] - needed, axis=0)


def refit_weeks(as_of: int) -> np.ndarray:
    """The weeks the model is refitted, every REFIT_WEEKS from the first of the data, on the data up
    to each (a grid fixed by the data's first week, so later builds refit the same weeks)."""
    return np.arange(REFIT_WEEKS - 1, as_of + 1, REFIT_WEEKS)


def fit_return_model(history: WeeklyHistory) -> ReturnModel:
    """The return curves as they stood each week up to as_of: the latest refit at or before it."""
    n_weeks = history.as_of + 1
    at_risk, back = _trial_counts(history)
    refits = refit_weeks(history.as_of)
    at_risk, back = np.cumsum(at_risk, axis=0)[refits], np.cumsum(back, axis=0)[refits]  # what each refit knew
    design, portfolio = _design(), _portfolio_design()
    flat = (len(refits), 1, N_BANDS * MAX_K)
    pooled = fit_logit_curves(at_risk.reshape(flat), back.reshape(flat), portfolio)
    prior_rate = expit(pooled @ portfolio.T).reshape(at_risk.shape)
    seen = at_risk.sum(axis=1, keepdims=True) > 0  # the prior speaks only where silences were seen
    prior = PRIOR_TRIALS * seen / np.maximum(seen.sum(axis=2, keepdims=True), 1)
    beta = fit_logit_curves(at_risk + prior, back + prior * prior_rate, design)
    hazard = expit(beta @ design.T)
    # a return can only grow less likely as a silence goes on: the curve is made non-increasing
    hazard = np.minimum.accumulate(np.clip(hazard, 0.0, 0.999), axis=2)
    log_stay = np.log1p(-hazard)
    stay = np.concatenate([np.zeros(hazard.shape[:2] + (1,)), np.cumsum(log_stay, axis=2)], axis=2)
    silence = np.arange(MAX_SILENCE + 1)
    top = silence + HORIZON_WEEKS
    beyond = np.maximum(top - MAX_K, 0)
    stay_to_top = stay[:, :, np.minimum(top, MAX_K)] + beyond * log_stay[:, :, -1:]
    p_back = 1.0 - np.exp(stay_to_top - stay[:, :, silence])
    # each week judged by the latest refit at or before it; weeks before the first refit know nothing
    latest = np.searchsorted(refits, np.arange(n_weeks), side="right") - 1
    nothing = np.ones((1,) + p_back.shape[1:])
    return ReturnModel(history, np.concatenate([nothing, p_back])[latest + 1])


@dataclass(frozen=True)
class Silences:
    """Each activated user's current silence at a cut week, and whether they have stopped."""

    user: np.ndarray  # index into WeeklyHistory.user_ids
    last_week: np.ndarray  # the last active week up to the cut
    decline: Decline  # how the user's own use fell up to last_week
    weeks_silent: np.ndarray  # 0 when active in the cut week
    active_26: np.ndarray  # weeks with use in the 26 up to last_week
    rate_weeks: np.ndarray  # weeks of those 26 since the first use
    rate_26: np.ndarray  # events per week in those weeks
    longest_gap: np.ndarray  # most silent weeks between two uses up to last_week
    p_back: np.ndarray  # the cut week's model: P(use within HORIZON_WEEKS | this silence)
    stopped: np.ndarray  # the stop rules below, any of them
    stopped_by: np.ndarray  # "model", "sudden", "year", "half_year" or "" (the first that holds)


def own_pace_p(active_26: np.ndarray, rate_weeks: np.ndarray, weeks_silent: np.ndarray) -> np.ndarray:
    """The chance of so many silent weeks in a row at the user's own pace: weeks with use a Bernoulli
    draw at a rate known from a used weeks of the n seen (uniform prior), so the beta-binomial
    predictive B(a + 1, n - a + 1 + s) / B(a + 1, n - a + 1): a short history vouches for little."""
    idle = rate_weeks - active_26 + 1.0
    return np.exp(betaln(active_26 + 1.0, idle + np.maximum(weeks_silent, 0)) - betaln(active_26 + 1.0, idle))


def silences_at(model: ReturnModel, cut: int, q: float, q_corroborated: float, pace_alpha: float,
                heavy_rate: float) -> Silences:
    """Every activated user's silence as of week number `cut` (<= the model's as_of).

    A user has stopped when one of these held during the silence (each, once true, stays true
    while the silence goes on, so a stop is never undone without a new use):
    - model: the data's past says at most `q` of users like them come back from such a silence;
    - sudden: for a heavy user (at least `heavy_rate` events a week), within SUDDEN_WEEKS of silence
      the silence became unlikely at their own pace (own_pace_p <= pace_alpha) and the model of that
      week said at most `q_corroborated` of users like them come back: a regular user's stop, early;
    - year: silent a year; half_year: silent half a year, longer than any gap they had before.
    """
    history = model.history
    seen = joined(each(lambda users: _silence(history.rows(users), users.start, cut), history.blocks()))
    start, band, rhythm = seen.last_week, seen.rhythm.band, seen.rhythm
    weeks_silent = cut - start
    silent = weeks_silent >= 1
    early = np.minimum(weeks_silent, SUDDEN_WEEKS)  # the rule holds at some s <= SUDDEN_WEEKS iff it does there
    heavy = silent & (rhythm.rate_26 >= heavy_rate)
    unlikely = np.zeros(len(start), dtype=bool)  # at their own pace: asked of the silent heavy users only
    unlikely[heavy] = own_pace_p(rhythm.active_26[heavy], rhythm.rate_weeks[heavy], early[heavy]) <= pace_alpha
    rules = {
        "model": silent & (model.stopped_since(q)[cut, band] >= start),
        "sudden": heavy & unlikely & (model.stopped_since(q_corroborated)[start + early, band] >= start),
        "year": weeks_silent >= MAX_SILENCE,
        "half_year": (weeks_silent >= HALF_YEAR) & (weeks_silent > seen.longest_gap),
    }
    stopped_by = np.full(len(start), "", dtype=object)
    for name, holds in reversed(rules.items()):
        stopped_by = np.where(holds, name, stopped_by)
    return Silences(
        user=seen.user,
        last_week=start,
        decline=seen.decline,
        weeks_silent=weeks_silent,
        active_26=rhythm.active_26,
        rate_weeks=rhythm.rate_weeks,
        rate_26=rhythm.rate_26,
        longest_gap=seen.longest_gap,
        p_back=model.p_back[cut, band, np.minimum(weeks_silent, MAX_SILENCE)],
        stopped=stopped_by != "",
        stopped_by=stopped_by,
    )


@dataclass(frozen=True)
class _Seen:
    """What a block of users' own weeks say of their silence at a cut, before any model."""

    user: np.ndarray  # index into WeeklyHistory.user_ids
    last_week: np.ndarray
    rhythm: Rhythm
    longest_gap: np.ndarray
    decline: Decline


def _silence(rows: Rows, first_user: int, cut: int) -> _Seen:
    last = rows.last_use(cut)
    row = np.flatnonzero(last >= 0)
    return _Seen(first_user + row, last[row], rhythm_at(rows, row, last[row]), rows.longest_gap(cut)[row],
                 own_decline(rows, row, last[row]))
