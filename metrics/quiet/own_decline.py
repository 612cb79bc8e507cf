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

from metrics.quiet.active_history import Rows
from metrics.quiet.drop_scan import signed_root_deviance

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


def own_decline(rows: Rows, row: np.ndarray, last_week: np.ndarray) -> Decline:
    """For each of these users (a row of `rows` each), the decline up to `last_week`, their last
    week with use."""
    least, most = BASELINE_WEEKS
    weeks = np.arange(1, DECLINE_WEEKS + 1)[None, :]  # weeks of use counted as the fade, the last included
    start = last_week[:, None] + 1 - weeks
    first_week = rows.first_week[row]
    base_from = np.maximum(first_week[:, None], start - most)
    each_row = row[:, None]
    before_start = rows.through(rows.cumulative, each_row, start - 1)
    fade = rows.through(rows.cumulative, row, last_week)[:, None] - before_start
    base = before_start - rows.through(rows.cumulative, each_row, base_from - 1)
    base_squares = rows.between(rows.cumulative_squares, each_row, base_from, start - 1)
    weeks_base = start - base_from
    mean = base / np.maximum(weeks_base, 1)
    dispersion = np.maximum((base_squares - weeks_base * mean**2) / np.maximum(mean * (weeks_base - 1), 1e-12), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = signed_root_deviance(fade, base, weeks / np.maximum(weeks + weeks_base, 1)) / np.sqrt(dispersion)
    possible = (weeks >= MIN_FADE_WEEKS) & (weeks_base >= least)
    candidate = possible & (z <= FADE_Z) & (fade <= FADE_RATIO * mean * weeks)
    best = np.where(possible, z, np.inf).argmin(axis=1)  # the likeliest start, significant or not
    each = np.arange(len(row))
    found = candidate[each, best]
    fade_start, fade_weeks = start[each, best], weeks[0, best]
    lowest = np.full(len(row), np.inf)
    lowest[found] = rows.lowest_stretch(row[found], fade_weeks[found], fade_start[found])
    return Decline(
        fade_week=fade_start,
        faded=found & (fade[each, best] < lowest),
        fade_baseline_rate=mean[each, best],
        fade_events=fade[each, best],
        stop_baseline_rate=_rate_before(rows, row, last_week + 1, first_week),
    )


def _rate_before(rows: Rows, row: np.ndarray, week: np.ndarray, first_week: np.ndarray) -> np.ndarray:
    """Events per week in the (at most 26) weeks before `week`, since the first use."""
    since = np.maximum(first_week, week - BASELINE_WEEKS[1])
    return rows.between(rows.cumulative, row, since, week - 1) / np.maximum(week - since, 1)
