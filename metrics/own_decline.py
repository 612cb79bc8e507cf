"""Whether, and since when, a user's own use was falling by their last use: from their counts alone.

A user who stopped or faded is flagged with the week their use began to fall. That week must not
move while they stay silent, so it is found from the user's own weekly counts up to their last
use, nothing else (no calendar factors or portfolio fits, which a later build refits): the
start, at most DECLINE_WEEKS back, of the stretch up to the last use where events fall furthest
below the weeks before, if that stretch is a fade (use at most halved, z <= -3 against the
baseline with the user's own over-dispersion); the week after the last use if not.
A fade counts as a drop only when unprecedented: fewer events than in any as long stretch of
the user's history before it (a user who has been this low before and came back is within
their usual ups and downs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metrics.active_history import ActiveWeeks, events_through, lowest_stretch
from metrics.drop_scan import signed_root_deviance

DECLINE_WEEKS = 12  # how long before the last use a fade may have begun
MIN_FADE_WEEKS = 2  # weeks of use a fade needs before the last
BASELINE_WEEKS = (6, 26)  # the weeks before it that it is measured against, at least and at most
FADE_Z = -2.0
FADE_RATIO = 0.5


@dataclass(frozen=True)
class Decline:
    fade_week: np.ndarray  # the likeliest first week of a fade that reaches the last use, significant or not
    faded: np.ndarray  # that fade is significant, and lower than any as long stretch of use before it
    fade_baseline_rate: np.ndarray  # events per week in the weeks before fade_week
    fade_events: np.ndarray  # events from fade_week to the last use
    stop_baseline_rate: np.ndarray  # events per week in the (at most 26) weeks up to the last use

    def drop_week(self, last_week: np.ndarray) -> np.ndarray:
        """When a stop began: with the fade if there was one, else the week after the last use."""
        return np.where(self.faded, self.fade_week, last_week + 1)


def own_decline(active: ActiveWeeks, user: np.ndarray, last_week: np.ndarray) -> Decline:
    """For each user, the decline up to `last_week`, their last week with use."""
    least, most = BASELINE_WEEKS
    weeks = np.arange(1, DECLINE_WEEKS + 1)[None, :]  # weeks of use counted as the fade, the last included
    start = last_week[:, None] + 1 - weeks
    first_week = active.week[np.searchsorted(active.user, user, side="left")]
    base_from = np.maximum(first_week[:, None], start - most)
    u = np.broadcast_to(user[:, None], start.shape)

    def between(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        return events_through(active, values, u, high) - events_through(active, values, u, low - 1)

    fade = between(active.events, start, np.broadcast_to(last_week[:, None], start.shape))
    base = between(active.events, base_from, start - 1)
    base_squares = between(active.events**2, base_from, start - 1)
    weeks_base = start - base_from
    mean = base / np.maximum(weeks_base, 1)
    dispersion = np.maximum((base_squares - weeks_base * mean**2) / np.maximum(mean * (weeks_base - 1), 1e-12), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = signed_root_deviance(fade, base, weeks / np.maximum(weeks + weeks_base, 1)) / np.sqrt(dispersion)
    possible = (weeks >= MIN_FADE_WEEKS) & (weeks_base >= least)
    candidate = possible & (z <= FADE_Z) & (fade <= FADE_RATIO * mean * weeks)
    best = np.where(possible, z, np.inf).argmin(axis=1)  # the likeliest start, significant or not
    rows = np.arange(len(user))
    found = candidate[rows, best]
    fade_start, fade_weeks = start[rows, best], weeks[0, best]
    lowest = np.full(len(user), np.inf)
    lowest[found] = lowest_stretch(active, user[found], fade_weeks[found], fade_start[found])
    return Decline(
        fade_week=fade_start,
        faded=found & (fade[rows, best] < lowest),
        fade_baseline_rate=mean[rows, best],
        fade_events=fade[rows, best],
        stop_baseline_rate=_rate_before(active, user, last_week + 1, first_week),
    )


def _rate_before(active: ActiveWeeks, user: np.ndarray, week: np.ndarray, first_week: np.ndarray) -> np.ndarray:
    """Events per week in the (at most 26) weeks before `week`, since the first use."""
    since = np.maximum(first_week, week - BASELINE_WEEKS[1])
    events = events_through(active, active.events, user, week - 1) - events_through(active, active.events, user, since - 1)
    return events / np.maximum(week - since, 1)
