"""Did each user's use drop below their own baseline? A scan over possible drop starts.

For every candidate start c from 3 to `max_recent` weeks back, the user's activity since c is
compared with up to `max_baseline` weeks before c, each week weighted by its calendar factor
(a site-wide dip lowers what is expected, not the user's standing). Given the total, the
recent count is binomial under "no change"; its signed root deviance, divided by the user's
over-dispersion (quasi-Poisson), is a z-score. Two signals are tested: events (sensitive to a
fade, but bursty) and active days (hardly over-dispersed, so sensitive to a stop); a window's
z is the lower of the two.
The start with the most negative z is the user's drop week. The loop is over the handful of
candidate weeks; every step inside is over all users at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metrics.activity_matrix import ActivityMatrix

MIN_RECENT_WEEKS = 3  # one or two quiet weeks are a vacation as often as a drop: not evidence enough
MAX_RECENT = 12
MAX_BASELINE = 26
MIN_BASELINE_WEEKS = 6
DISPERSION_PRIOR_DF = 8.0  # shrink each user's dispersion towards everyone's median
TAIL_WEEKS = 2


@dataclass(frozen=True)
class DropScan:
    z: np.ndarray  # most negative z over candidate starts and signals; nan where untestable
    recent_weeks: np.ndarray  # weeks since the chosen start (the as_of week included)
    baseline_rate: np.ndarray  # events per observed week before the start
    recent_rate: np.ndarray  # events per observed week since the start
    rate_ratio: np.ndarray  # recent / baseline event rate, calendar-adjusted
    tail_ratio: np.ndarray  # the same for the last TAIL_WEEKS weeks only


@dataclass(frozen=True)
class Signal:
    counts: np.ndarray  # (users, weeks)
    exposure: np.ndarray  # (users, weeks): calendar factor where observed, else 0
    pooled_dispersion: float  # everyone's median, the prior each user's own is shrunk towards


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


def _sums(values: np.ndarray, start: int, stop: int) -> np.ndarray:
    return values[:, max(start, 0):stop].sum(axis=1)


def _pearson(signal: Signal, observed: np.ndarray, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson statistic and its degrees of freedom around the user's calendar-adjusted rate."""
    start = max(start, 0)
    y, e, m = signal.counts[:, start:stop], signal.exposure[:, start:stop], observed[:, start:stop]
    mean = (y.sum(axis=1) / np.maximum(e.sum(axis=1), 1e-12))[:, None] * e
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = np.where(m & (mean > 0), (y - mean) ** 2 / np.where(mean > 0, mean, 1.0), 0.0)
    return pearson.sum(axis=1), m.sum(axis=1) - 1.0


def make_signal(counts: np.ndarray, factors: np.ndarray, matrix: ActivityMatrix) -> Signal:
    exposure = factors[matrix.site_codes] * matrix.observed
    pearson, df = _pearson(Signal(counts, exposure, 1.0), matrix.observed, 0, counts.shape[1])
    return Signal(counts, exposure, float(np.nanmedian(np.where(df > 0, pearson / np.maximum(df, 1), np.nan))))


def _window_z(signal: Signal, observed: np.ndarray, split: int, base_start: int) -> np.ndarray:
    n_weeks = signal.counts.shape[1]
    y_recent, e_recent = _sums(signal.counts, split, n_weeks), _sums(signal.exposure, split, n_weeks)
    y_base, e_base = _sums(signal.counts, base_start, split), _sums(signal.exposure, base_start, split)
    pearson, df = _pearson(signal, observed, base_start, split)
    prior = DISPERSION_PRIOR_DF * signal.pooled_dispersion
    dispersion = np.maximum((pearson + prior) / (np.maximum(df, 0) + DISPERSION_PRIOR_DF), 1.0)
    share = e_recent / np.maximum(e_recent + e_base, 1e-12)
    testable = (y_base > 0) & (e_recent > 0)
    return np.where(testable, signed_root_deviance(y_recent, y_base, share) / np.sqrt(dispersion), np.inf)


def scan_for_drops(
    matrix: ActivityMatrix,
    signals: list[Signal],
    max_recent: int = MAX_RECENT,
    max_baseline: int = MAX_BASELINE,
) -> DropScan:
    events, observed = matrix.events, matrix.observed
    event_exposure = signals[0].exposure
    n_users, n_weeks = events.shape
    best = {name: np.full(n_users, np.nan) for name in DropScan.__dataclass_fields__}
    best["z"] = np.full(n_users, np.inf)
    for k in range(MIN_RECENT_WEEKS, max_recent + 1):
        split, base_start = n_weeks - k, n_weeks - k - max_baseline
        weeks_recent, weeks_base = _sums(observed, split, n_weeks), _sums(observed, base_start, split)
        z = np.minimum.reduce([_window_z(s, observed, split, base_start) for s in signals])
        z = np.where((weeks_base >= MIN_BASELINE_WEEKS) & (weeks_recent >= 1), z, np.inf)
        y_base, e_base = _sums(events, base_start, split), _sums(event_exposure, base_start, split)
        base_rate = y_base / np.maximum(e_base, 1e-12)
        tail = n_weeks - min(TAIL_WEEKS, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            updates = {
                "z": z,
                "recent_weeks": np.full(n_users, float(k)),
                "baseline_rate": y_base / np.maximum(weeks_base, 1),
                "recent_rate": _sums(events, split, n_weeks) / np.maximum(weeks_recent, 1),
                "rate_ratio": _sums(events, split, n_weeks) / _sums(event_exposure, split, n_weeks) / base_rate,
                "tail_ratio": _sums(events, tail, n_weeks) / _sums(event_exposure, tail, n_weeks) / base_rate,
            }
        better = z < best["z"]
        for name, value in updates.items():
            best[name] = np.where(better, value, best[name])
    best["z"] = np.where(np.isfinite(best["z"]), best["z"], np.nan)
    return DropScan(**best)
