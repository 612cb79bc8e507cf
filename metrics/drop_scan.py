"""Did each user's use drop below their own baseline? A scan over possible drop starts.

For every candidate start c from 3 to `max_recent` weeks back, the user's activity since c is
compared with up to `max_baseline` weeks before c, each week weighted by its calendar factor
(a site-wide dip lowers what is expected, not the user's standing). Three signals, because
use drops in two ways, fewer weeks with any use and less work in the weeks that have some:
- active days and events: given the total, the recent count is binomial under "no change";
  its signed root deviance, divided by the user's over-dispersion (quasi-Poisson), is a z;
  active days are hardly over-dispersed, so they are sensitive to a stop;
- intensity: log events per active week, recent weeks against baseline weeks (a t-test with
  the user's own spread, shrunk towards everyone's). Bursts are multiplicative, so on the log
  scale a fade to a third stands out, and idle weeks, which bury a fade in the events signal,
  do not enter it at all.
A window's z is the lowest of the three, and the user's z the lowest over windows; it is
calibrated by running the same scan on the users' own weeks shuffled (rate_drops).
Every quantity comes from cumulative sums over weeks, so each candidate start costs a few
operations per user, all users at once.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from metrics.activity_matrix import BLOCK_USERS, ActivityMatrix

MIN_RECENT_WEEKS = 3  # one or two quiet weeks are a vacation as often as a drop: not evidence enough
MAX_RECENT = 12
MAX_BASELINE = 26
MIN_BASELINE_WEEKS = 6
MIN_BASELINE_ACTIVE_WEEKS = 4  # weeks with use, for the spread of the intensity signal
DISPERSION_PRIOR_DF = 8.0  # shrink each user's dispersion (or spread) towards everyone's median
TAIL_WEEKS = 2


@dataclass(frozen=True)
class DropScan:
    z: np.ndarray  # most negative z over candidate starts and signals; nan where untestable
    recent_weeks: np.ndarray  # weeks since the change point (the as_of week included)
    baseline_rate: np.ndarray  # events per observed week before the start
    recent_rate: np.ndarray  # events per observed week since the start
    rate_ratio: np.ndarray  # recent / baseline event rate, calendar-adjusted
    tail_ratio: np.ndarray  # the same for the last TAIL_WEEKS weeks only


class Windows:
    """Sums over each candidate start's recent weeks and the baseline weeks before it."""

    def __init__(self, n_weeks: int, max_recent: int = MAX_RECENT, max_baseline: int = MAX_BASELINE) -> None:
        self.recent_weeks = np.arange(MIN_RECENT_WEEKS, max_recent + 1)
        self.split = n_weeks - self.recent_weeks
        self.base_start = np.maximum(self.split - max_baseline, 0)
        self.n_weeks = n_weeks

    def sums(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(recent, baseline) sums, each (users, starts), from one cumulative sum over weeks."""
        cumulative = np.zeros((values.shape[0], self.n_weeks + 1))
        np.cumsum(values, axis=1, out=cumulative[:, 1:])
        at_split = cumulative[:, self.split]
        return cumulative[:, [self.n_weeks]] - at_split, at_split - cumulative[:, self.base_start]


@dataclass(frozen=True)
class CountSignal:
    """Counts tested by the conditional binomial deviance, scaled by quasi-Poisson dispersion."""

    counts: np.ndarray  # (users, weeks)
    exposure: np.ndarray  # (users, weeks): calendar factor where observed, else 0
    pooled_dispersion: float  # everyone's median, the prior each user's own is shrunk towards


@dataclass(frozen=True)
class IntensitySignal:
    """Log of calendar-adjusted events in each observed week with any use; nothing elsewhere."""

    log_rate: np.ndarray  # (users, weeks), 0 where not active
    active: np.ndarray  # (users, weeks) bool: observed and at least one event
    pooled_variance: float


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


def _squared_over_exposure(signal: CountSignal) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(signal.exposure > 0, signal.counts**2 / np.where(signal.exposure > 0, signal.exposure, 1.0),
                        0.0)


def _pearson(y: np.ndarray, e: np.ndarray, y2_over_e: np.ndarray) -> np.ndarray:
    """Pearson statistic around the user's calendar-adjusted rate, from sums: sum(y^2/e)/rate - sum(y)."""
    rate = y / np.maximum(e, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rate > 0, y2_over_e / np.where(rate > 0, rate, 1.0) - y, 0.0)


def count_signal(counts: np.ndarray, factors: np.ndarray, matrix: ActivityMatrix) -> CountSignal:
    exposure = factors[matrix.site_codes] * matrix.observed
    signal = CountSignal(counts, exposure, 1.0)
    pearson = _pearson(counts.sum(axis=1), exposure.sum(axis=1), _squared_over_exposure(signal).sum(axis=1))
    df = matrix.observed.sum(axis=1) - 1.0
    return CountSignal(counts, exposure, float(np.nanmedian(np.where(df > 0, pearson / np.maximum(df, 1), np.nan))))


def intensity_signal(events: np.ndarray, factors: np.ndarray, matrix: ActivityMatrix) -> IntensitySignal:
    active = matrix.observed & (events > 0)
    with np.errstate(divide="ignore"):
        log_rate = np.where(active, np.log(np.where(active, events, 1.0) / factors[matrix.site_codes]), 0.0)
    n = active.sum(axis=1)
    total, squares = log_rate.sum(axis=1), (log_rate**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(n > 2, (squares - total**2 / n) / (n - 1), np.nan)
    return IntensitySignal(log_rate, active, float(np.nanmedian(variance)))


@dataclass(frozen=True)
class CountSums:
    """A count signal's recent and baseline sums of counts and exposure, each (users, starts)."""

    y_recent: np.ndarray
    y_base: np.ndarray
    e_recent: np.ndarray
    e_base: np.ndarray


def count_sums(signal: CountSignal, windows: Windows) -> CountSums:
    return CountSums(*windows.sums(signal.counts), *windows.sums(signal.exposure))


def _count_z(signal: CountSignal, sums: CountSums, windows: Windows, weeks_base: np.ndarray) -> np.ndarray:
    _, y2e_base = windows.sums(_squared_over_exposure(signal))
    df = weeks_base - 1.0
    prior = DISPERSION_PRIOR_DF * signal.pooled_dispersion
    dispersion = np.maximum(
        (_pearson(sums.y_base, sums.e_base, y2e_base) + prior) / (np.maximum(df, 0) + DISPERSION_PRIOR_DF), 1.0
    )
    share = sums.e_recent / np.maximum(sums.e_recent + sums.e_base, 1e-12)
    testable = (sums.y_base > 0) & (sums.e_recent > 0)
    return np.where(testable, signed_root_deviance(sums.y_recent, sums.y_base, share) / np.sqrt(dispersion), np.inf)


def t_as_z(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """The normal quantile of Student's t, by Wallace's (1959) approximation: within 0.03 of
    exact for df >= 10 out to z = -5, and a tenth of the cost of the exact transform."""
    return np.sign(t) * (8 * df + 1) / (8 * df + 3) * np.sqrt(df * np.log1p(t**2 / df))


def _intensity_z(signal: IntensitySignal, windows: Windows) -> np.ndarray:
    n_recent, n_base = windows.sums(signal.active)
    v_recent, v_base = windows.sums(signal.log_rate)
    _, v2_base = windows.sums(signal.log_rate**2)
    testable = (n_recent >= 1) & (n_base >= MIN_BASELINE_ACTIVE_WEEKS)
    n_recent, n_base = np.maximum(n_recent, 1), np.maximum(n_base, 2)
    df = n_base - 1
    spread = np.maximum(v2_base - v_base**2 / n_base, 0.0)
    variance = (spread + DISPERSION_PRIOR_DF * signal.pooled_variance) / (df + DISPERSION_PRIOR_DF)
    t = (v_recent / n_recent - v_base / n_base) / np.sqrt(variance * (1 / n_recent + 1 / n_base))
    z = t_as_z(t, df + DISPERSION_PRIOR_DF)
    return np.where(testable, z, np.inf)


@dataclass(frozen=True)
class ScanInputs:
    """What the scan reads: which weeks count, and the three signals (events also give the rates)."""

    observed: np.ndarray  # (users, weeks) bool
    events: CountSignal
    days: CountSignal
    intensity: IntensitySignal

    def mapped(self, take: Callable[[np.ndarray], np.ndarray]) -> ScanInputs:
        """The same inputs with `take` applied to every (users, weeks) array."""

        def counts(signal: CountSignal) -> CountSignal:
            return CountSignal(take(signal.counts), take(signal.exposure), signal.pooled_dispersion)

        intensity = self.intensity
        return ScanInputs(take(self.observed), counts(self.events), counts(self.days),
                          IntensitySignal(take(intensity.log_rate), take(intensity.active), intensity.pooled_variance))

    def shuffled(self, rows: np.ndarray, rng: np.random.Generator) -> ScanInputs:
        """Histories of these users with their weeks in random order: no change, yet just as bursty."""
        order = np.argsort(rng.random((len(rows), self.observed.shape[1])), axis=1)
        return self.mapped(lambda values: np.take_along_axis(values[rows], order, axis=1))


def scan_for_drops(inputs: ScanInputs, max_recent: int = MAX_RECENT, max_baseline: int = MAX_BASELINE) -> DropScan:
    """The lowest z over starts and signals is the test; the drop week is the change point.

    Users are taken a block at a time: every temporary then fits in memory the allocator
    reuses, instead of fresh pages for each of many arrays of all users.
    """
    n_users = inputs.observed.shape[0]
    blocks = [_scan_block(inputs.mapped(lambda values, rows=slice(i, i + BLOCK_USERS): values[rows]),
                          max_recent, max_baseline) for i in range(0, n_users, BLOCK_USERS)]
    return DropScan(**{name: np.concatenate([getattr(block, name) for block in blocks]) if blocks else np.zeros(0)
                       for name in DropScan.__dataclass_fields__})


def _scan_block(inputs: ScanInputs, max_recent: int, max_baseline: int) -> DropScan:
    windows = Windows(inputs.observed.shape[1], max_recent, max_baseline)
    weeks_recent, weeks_base = windows.sums(inputs.observed)
    events = count_sums(inputs.events, windows)
    z = np.minimum.reduce([
        _count_z(inputs.events, events, windows, weeks_base),
        _count_z(inputs.days, count_sums(inputs.days, windows), windows, weeks_base),
        _intensity_z(inputs.intensity, windows),
    ])
    z = np.where((weeks_base >= MIN_BASELINE_WEEKS) & (weeks_recent >= 1), z, np.inf)
    y_recent, y_base, e_recent, e_base = events.y_recent, events.y_base, events.e_recent, events.e_base
    # The change point: the start where events fall furthest below expectation (maximum likelihood
    # for a drop in a Poisson rate). The start with the lowest z is often later, after a drop's
    # first uneven weeks, which would date the drop, and the tickets that count, too late.
    fall = signed_root_deviance(y_recent, y_base, e_recent / np.maximum(e_recent + e_base, 1e-12))
    start = np.argmin(np.where(np.isfinite(z), fall, np.inf), axis=1)[:, None]

    def at_start(values: np.ndarray) -> np.ndarray:
        return np.take_along_axis(values, start, axis=1)[:, 0]

    tested = np.isfinite(z).any(axis=1)
    base_rate = at_start(y_base) / np.maximum(at_start(e_base), 1e-12)
    y_tail = inputs.events.counts[:, -TAIL_WEEKS:].sum(axis=1)
    e_tail = inputs.events.exposure[:, -TAIL_WEEKS:].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return DropScan(
            z=np.where(tested, z.min(axis=1), np.nan),
            recent_weeks=np.where(tested, windows.recent_weeks[start[:, 0]], np.nan),
            baseline_rate=np.where(tested, at_start(y_base) / np.maximum(at_start(weeks_base), 1), np.nan),
            recent_rate=np.where(tested, at_start(y_recent) / np.maximum(at_start(weeks_recent), 1), np.nan),
            rate_ratio=np.where(tested, at_start(y_recent) / at_start(e_recent) / base_rate, np.nan),
            tail_ratio=np.where(tested, y_tail / e_tail / base_rate, np.nan),
        )
