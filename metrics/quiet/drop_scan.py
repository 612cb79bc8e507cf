"""Did each user's use drop below their own baseline? A scan over possible drop starts.

For every candidate start c from 3 to `max_recent` weeks back, the user's activity since c is
compared with up to `max_baseline` weeks before c, each week weighted by its calendar factor
(a site-wide dip lowers what is expected, not the user's standing). Use drops in two ways,
fewer weeks with any use and less work in the weeks that have some, and a week's use is
modelled as exactly that hurdle: whether the week is active (Bernoulli), and if so how many
events (negative binomial, one burstiness shape for everyone). The two parts' likelihoods
factor, so the likelihood-ratio test of "either part fell" is the sum of two one-sided
deviances, whose null law is chi-bar-squared (a quarter at 0, half chi2_1, a quarter chi2_2):
- presence: active weeks since c against before, the two-sample Bernoulli deviance; a stop
  is all presence (no active recent week, so nothing to say about work);
- work: calendar-adjusted events per active week, the two-sample NB deviance. Its variance
  mu + mu^2/k grows with the rate, as bursts do, and idle weeks do not enter it.
A window's z is the normal quantile of its chi-bar-squared tail (so a window where only
presence can be tested is not penalised for the missing part), and the user's z the lowest
over windows; it is calibrated by running the same scan on the users' own weeks shuffled
(rate_drops). The joint test replaces the lowest of three separate z's (events, active days,
log intensity): a fade moves both parts a little, which one test of both sees and the
minimum of separate tests, each paying for the other's multiplicity, does not.
Every quantity comes from cumulative sums over weeks, so each candidate start costs a few
operations per user, all users at once.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy.special import log_ndtr, ndtri_exp

from metrics.quiet.activity_matrix import ActivityMatrix
from metrics.quiet.blocks import BLOCK_USERS, each, joined, ranges

MIN_RECENT_WEEKS = 3  # one or two quiet weeks are a vacation as often as a drop: not evidence enough
MAX_RECENT = 12
MAX_BASELINE = 26
MIN_BASELINE_WEEKS = 6
MIN_BASELINE_ACTIVE_WEEKS = 4  # weeks with use, for the work signal's baseline mean
MIN_SHAPE_WEEKS = 6  # active weeks a user needs to inform the pooled burstiness
TAIL_WEEKS = 4  # the window that says whether use is still down now
# joint statistics this close to a user's largest are evaluated as well (lowest_joint_z): far
# wider than the special functions' rounding, far narrower than any difference that matters
NEAR_RELATIVE, NEAR_ABSOLUTE = 1e-9, 1e-12

S = TypeVar("S")


@dataclass(frozen=True)
class DropScan:
    z: np.ndarray  # most negative z over candidate starts and signals; nan where untestable
    recent_weeks: np.ndarray  # weeks since the change point (the as_of week included)
    baseline_rate: np.ndarray  # events per observed week before the start
    recent_rate: np.ndarray  # events per observed week since the start
    rate_ratio: np.ndarray  # recent / baseline event rate, calendar-adjusted
    tail_z: np.ndarray  # the joint z of the last TAIL_WEEKS weeks alone; nan where untestable


class Windows:
    """Sums over each candidate start's recent weeks and the baseline weeks before it."""

    def __init__(self, n_weeks: int, max_recent: int = MAX_RECENT, max_baseline: int = MAX_BASELINE) -> None:
        self.recent_weeks = np.arange(MIN_RECENT_WEEKS, max_recent + 1)
        self.split = n_weeks - self.recent_weeks
        self.base_start = np.maximum(self.split - max_baseline, 0)
        self.n_weeks = n_weeks

    def sums(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(recent, baseline) sums of (weeks, users) values, each (starts, users), from one running
        sum over weeks: a week at a time, each step one operation over all users."""
        cumulative = np.zeros((self.n_weeks + 1, values.shape[1]))
        for week in range(self.n_weeks):
            np.add(cumulative[week], values[week], out=cumulative[week + 1])
        at_split = cumulative[self.split]
        return cumulative[self.n_weeks] - at_split, at_split - cumulative[self.base_start]


@dataclass(frozen=True)
class CountSignal:
    """Counts (events, or active weeks as 0/1) with their calendar-weighted exposure."""

    counts: np.ndarray  # (weeks, users)
    exposure: np.ndarray  # (weeks, users): calendar factor where observed, else 0


@dataclass(frozen=True)
class WorkSignal:
    """Calendar-adjusted events in each observed week with any use: negative binomial, pooled shape.
    Its weeks (observed, at least one event) are the presence signal's counts, summed once for both."""

    adjusted: np.ndarray  # (weeks, users): events / calendar factor where active, else 0
    shape: float  # k in Var = mu + mu^2 / k, everyone's median


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(y > 0, y, 1.0)), 0.0)


def signed_root_deviance(recent: np.ndarray, baseline: np.ndarray, share: np.ndarray) -> np.ndarray:
    """z for `recent` of `recent + baseline` counts, expected share `share` under no change."""
    total = recent + baseline
    expected_recent, expected_baseline = total * share, total * (1 - share)
    deviance = 2 * (
        _xlogy(recent, recent) - _xlogy(recent, expected_recent)
        + _xlogy(baseline, baseline) - _xlogy(baseline, expected_baseline)
    )
    return np.sign(recent - expected_recent) * np.sqrt(np.maximum(deviance, 0.0))


def _adjusted(events: np.ndarray, active: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Events over the calendar factor in weeks with use, 0 in the others (factors are positive, so
    dividing everywhere and choosing is safe, and cheaper than a masked division)."""
    return np.where(active, events / factors, 0.0)


@dataclass(frozen=True)
class Signals:
    """Every user's scan inputs, made a block of users at a time (`inputs`) from the activity matrix
    and each signal's calendar factors: all users' at once would be several users x weeks arrays."""

    matrix: ActivityMatrix
    event_factors: np.ndarray  # (sites, weeks), for events
    presence_factors: np.ndarray  # for weeks with use
    work_factors: np.ndarray  # for events in weeks with use
    work_shape: float  # k in Var = mu + mu^2 / k of events per week with use, everyone's median

    def inputs(self, users: np.ndarray) -> ScanInputs:
        """The inputs of these users, weeks by users."""
        observed = np.ascontiguousarray(self.matrix.observed[users].T)
        events = np.ascontiguousarray(self.matrix.events[users].T)
        sites = self.matrix.site_codes[users]
        active = observed & (events > 0)

        def weekly(factors: np.ndarray) -> np.ndarray:
            """Each user's site's factors, weeks by users."""
            return np.take(factors, sites, axis=0).T

        return ScanInputs(
            observed,
            CountSignal(events, weekly(self.event_factors) * observed),
            CountSignal(active, weekly(self.presence_factors) * observed),
            WorkSignal(_adjusted(events, active, weekly(self.work_factors)), self.work_shape),
        )


def signals(matrix: ActivityMatrix, event_factors: np.ndarray, presence_factors: np.ndarray,
            work_factors: np.ndarray) -> Signals:
    """The scan's signals with these calendar factors. The work signal's NB shape by moments, median
    over users (robust to the few whose history holds a drop, whose spread is no burstiness)."""

    def inverse_shape(users: slice) -> np.ndarray:
        observed, events = matrix.observed[users], matrix.events[users]
        active = observed & (events > 0)
        adjusted = _adjusted(events, active, work_factors[matrix.site_codes[users]])
        n = active.sum(axis=1)
        total, squares = adjusted.sum(axis=1), (adjusted**2).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = total / n
            return np.where(n >= MIN_SHAPE_WEEKS, ((squares - total**2 / n) / (n - 1) - mean) / mean**2, np.nan)

    inverse = np.concatenate(list(each(inverse_shape, ranges(len(matrix.user_ids), BLOCK_USERS))))
    pooled = np.nanmedian(inverse) if np.isfinite(inverse).any() else np.nan
    return Signals(matrix, event_factors, presence_factors, work_factors,
                   float(1.0 / pooled) if pooled > 1e-3 else 1e3)


@dataclass(frozen=True)
class CountSums:
    """A count signal's recent and baseline sums of counts and exposure, each (starts, users)."""

    y_recent: np.ndarray
    y_base: np.ndarray
    e_recent: np.ndarray
    e_base: np.ndarray


def count_sums(signal: CountSignal, windows: Windows) -> CountSums:
    return CountSums(*windows.sums(signal.counts), *windows.sums(signal.exposure))


def _bernoulli_loglik(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    return _xlogy(k, p) + _xlogy(n - k, 1.0 - p)


def _presence_z(sums: CountSums) -> np.ndarray:
    """Signed root of the two-sample Bernoulli deviance of active weeks among calendar-weighted weeks."""
    n_r, n_b = sums.e_recent, sums.e_base
    k_r, k_b = np.minimum(sums.y_recent, n_r), np.minimum(sums.y_base, n_b)  # a factor < 1 can leave k > n
    with np.errstate(divide="ignore", invalid="ignore"):
        p_r, p_b = k_r / n_r, k_b / n_b
        p = (k_r + k_b) / (n_r + n_b)
        deviance = 2 * (_bernoulli_loglik(k_r, n_r, p_r) + _bernoulli_loglik(k_b, n_b, p_b)
                        - _bernoulli_loglik(k_r, n_r, p) - _bernoulli_loglik(k_b, n_b, p))
        z = np.sign(p_r - p_b) * np.sqrt(np.maximum(deviance, 0.0))
    return np.where((n_r > 0) & (n_b > 0), z, np.inf)


def _nb_profile(n: np.ndarray, total: np.ndarray, k: float) -> np.ndarray:
    """NB log-likelihood at the MLE of the mean (total / n), dropping terms free of the mean."""
    mean = total / np.maximum(n, 1e-12)
    return n * k * np.log(k / (k + mean)) + _xlogy(total, mean / (k + mean))


def _work_z(signal: WorkSignal, active: CountSums, windows: Windows) -> np.ndarray:
    """Signed root of the two-sample NB deviance of events per active week (shape known), from the
    presence signal's sums (its counts are the active weeks)."""
    n_r, n_b = active.y_recent, active.y_base
    s_r, s_b = windows.sums(signal.adjusted)
    k = signal.shape
    deviance = 2 * (_nb_profile(n_r, s_r, k) + _nb_profile(n_b, s_b, k) - _nb_profile(n_r + n_b, s_r + s_b, k))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.sign(s_r / n_r - s_b / n_b) * np.sqrt(np.maximum(deviance, 0.0))
    return np.where((n_r >= 1) & (n_b >= MIN_BASELINE_ACTIVE_WEEKS), z, np.inf)


def _joint_statistic(presence: np.ndarray, work: np.ndarray) -> np.ndarray:
    """S, the sum of the squared negative parts (a part that cannot be tested adds nothing)."""
    fell_p = np.minimum(np.where(np.isfinite(presence), presence, 0.0), 0.0)
    fell_w = np.minimum(np.where(np.isfinite(work), work, 0.0), 0.0)
    return fell_p**2 + fell_w**2


def lowest_joint_z(presence: np.ndarray, work: np.ndarray, testable: np.ndarray) -> np.ndarray:
    """Each user's lowest joint_z over the `testable` starts (inf where none), from (starts, users) parts.

    joint_z falls as S grows within each of its two forms (with a work part, or presence alone), so
    only the starts whose S is the largest of their form need its special functions: a tenth of
    the cost. Those within a hair of the largest are evaluated too, so rounding in the special
    functions cannot make the answer differ from the lowest of all.
    """
    statistic = _joint_statistic(presence, work)
    both = np.isfinite(work)
    lowest = np.full(presence.shape[1], np.inf)
    near = np.zeros(presence.shape, dtype=bool)
    for form, work_part in ((testable & both, 0.0), (testable & ~both, np.inf)):
        largest = np.where(form, statistic, -np.inf).max(axis=0)
        close = form & (statistic >= largest - (NEAR_RELATIVE * largest + NEAR_ABSOLUTE))
        # no fall in either part (S = 0, most users at most starts) has one z per form
        at_zero = joint_z(np.zeros(1), np.full(1, work_part))[0]
        lowest = np.where((close & (statistic == 0)).any(axis=0), np.minimum(lowest, at_zero), lowest)
        near |= close & (statistic > 0)
    z = np.full(presence.shape, np.inf)
    z[near] = joint_z(presence[near], work[near])
    return np.minimum(lowest, z.min(axis=0))


def joint_z(presence: np.ndarray, work: np.ndarray) -> np.ndarray:
    """The one-sided LR test of "presence or work fell" as a z, from its chi-bar-squared tail.

    With both parts testable, P(S > s) = P(chi2_1 > s) / 2 + P(chi2_2 > s) / 4 for S the sum of
    the squared negative parts; with presence alone (no active recent week), P(chi2_1 > s) / 2.
    A z of inf means untestable (no presence test); a rise in both parts gives z = 0.
    """
    statistic = _joint_statistic(presence, work)
    one_part = log_ndtr(-np.sqrt(statistic))  # log(P(chi2_1 > s) / 2)
    log_tail = np.where(np.isfinite(work), np.logaddexp(one_part, np.log(0.25) - statistic / 2), one_part)
    return np.where(np.isfinite(presence), ndtri_exp(np.minimum(log_tail, np.log(0.5))), np.inf)


@dataclass(frozen=True)
class ScanInputs:
    """What the scan reads, weeks by users (so a running sum over weeks is one operation a week):
    which weeks count, events (the rates and the change point), and the hurdle's two parts."""

    observed: np.ndarray  # (weeks, users) bool
    events: CountSignal
    presence: CountSignal  # weeks with use (0/1) with their own calendar factors
    work: WorkSignal

    def mapped(self, take: Callable[[np.ndarray], np.ndarray]) -> ScanInputs:
        """The same inputs with `take` applied to every (weeks, users) array."""

        def counts(signal: CountSignal) -> CountSignal:
            return CountSignal(take(signal.counts), take(signal.exposure))

        work = self.work
        return ScanInputs(take(self.observed), counts(self.events), counts(self.presence),
                          WorkSignal(take(work.adjusted), work.shape))

    def shuffled(self, keys: np.ndarray) -> ScanInputs:
        """These histories with their weeks in random order: no change, yet just as bursty. Each user's
        weeks go in the order of their row of `keys` (users x weeks, uniform random numbers)."""
        n_weeks, n_users = self.observed.shape
        order = np.argsort(keys, axis=1).T  # each user's weeks in a random order
        taken = order * n_users + np.arange(n_users)  # where each (week, user) is taken from
        return self.mapped(lambda values: np.take(values, taken))

    def of(self, users: slice) -> ScanInputs:
        """These inputs of some of the users."""
        return self.mapped(lambda values: values[:, users])


def scan_for_drops(inputs: Callable[[S], ScanInputs], blocks: list[S], max_recent: int = MAX_RECENT,
                   max_baseline: int = MAX_BASELINE) -> DropScan:
    """The lowest joint z over starts is the test; the drop week is the change point.

    Users are taken a block at a time (`inputs` makes a block's inputs: see blocks.py).
    """
    return joined(each(lambda block: _scan_block(inputs(block), max_recent, max_baseline), blocks))


def _scan_block(inputs: ScanInputs, max_recent: int, max_baseline: int) -> DropScan:
    windows = Windows(inputs.observed.shape[0], max_recent, max_baseline)
    weeks_recent, weeks_base = windows.sums(inputs.observed)
    events = count_sums(inputs.events, windows)
    active = count_sums(inputs.presence, windows)
    presence, work = _presence_z(active), _work_z(inputs.work, active, windows)
    testable = np.isfinite(presence) & (weeks_base >= MIN_BASELINE_WEEKS) & (weeks_recent >= 1)
    y_recent, y_base, e_recent, e_base = events.y_recent, events.y_base, events.e_recent, events.e_base
    # The change point: the start where events fall furthest below expectation (maximum likelihood
    # for a drop in a Poisson rate). The start with the lowest z is often later, after a drop's
    # first uneven weeks, which would date the drop, and the tickets that count, too late.
    fall = signed_root_deviance(y_recent, y_base, e_recent / np.maximum(e_recent + e_base, 1e-12))
    start = np.argmin(np.where(testable, fall, np.inf), axis=0)
    users = np.arange(len(start))

    def at_start(values: np.ndarray) -> np.ndarray:
        return values[start, users]

    tested = testable.any(axis=0)
    base_rate = at_start(y_base) / np.maximum(at_start(e_base), 1e-12)
    tail_start = int(np.clip(TAIL_WEEKS - windows.recent_weeks[0], 0, len(windows.recent_weeks) - 1))
    tail = np.where(testable[tail_start], joint_z(presence[tail_start], work[tail_start]), np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        return DropScan(
            z=np.where(tested, lowest_joint_z(presence, work, testable), np.nan),
            recent_weeks=np.where(tested, windows.recent_weeks[start], np.nan),
            baseline_rate=np.where(tested, at_start(y_base) / np.maximum(at_start(weeks_base), 1), np.nan),
            recent_rate=np.where(tested, at_start(y_recent) / np.maximum(at_start(weeks_recent), 1), np.nan),
            rate_ratio=np.where(tested, at_start(y_recent) / at_start(e_recent) / base_rate, np.nan),
            tail_z=np.where(tested & np.isfinite(tail), tail, np.nan),
        )
