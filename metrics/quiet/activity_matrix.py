"""The recent weeks of every user as dense arrays, so tests run over all users at once: a
slice of the weekly history, with the weeks that count for each user marked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from metrics.quiet.active_history import WeeklyHistory
from metrics.quiet.blocks import each


@dataclass(frozen=True)
class ActivityMatrix:
    """Users x weeks, oldest week first; the last column is the as_of week.

    `observed` is true where the week counts for the user: enrolled, and at or after
    the user's first active week (weeks before first use are onboarding, not baseline).
    """

    user_ids: pl.Series
    site_codes: np.ndarray  # (users,) index into site_ids
    site_ids: np.ndarray
    events: np.ndarray  # (users, weeks) whole counts (float32 while exact), 0 where not observed
    observed: np.ndarray  # (users, weeks) bool


def activity_matrix(history: WeeklyHistory, as_of: date, n_weeks: int) -> ActivityMatrix:
    """The last `n_weeks` weeks up to `as_of` (the history's as_of week) of every user in `history`,
    a block of users at a time on every core (it is made before either pass can start)."""
    first = -((history.epoch - as_of).days // 7) - n_weeks + 1  # the history's week of the first column
    # the history's weeks [low, high) fill the matrix; none before the history began, and none after
    # its as_of week (the last column stays empty for an as_of that is not a Monday)
    low, high = max(first, 0), min(first + n_weeks, history.as_of + 1)
    events = np.zeros((len(history.user_ids), n_weeks), dtype=history.events.dtype)
    observed = np.zeros(events.shape, dtype=bool)

    def fill(users: slice) -> None:
        block = events[users]
        block[:, low - first: high - first] = history.events[users, low:high]
        enrolled = np.zeros(block.shape, dtype=bool)
        enrolled[:, low - first: high - first] = history.enrolled[users, low:high]
        active_before = (history.events[users, : max(first, 0)] > 0).any(axis=1)
        # weeks before a user's first use are onboarding, not baseline
        seen = enrolled & (active_before[:, None] | np.logical_or.accumulate(block > 0, axis=1))
        observed[users] = seen
        block[~seen] = 0

    list(each(fill, history.blocks()))
    return ActivityMatrix(
        user_ids=history.user_ids,
        site_codes=history.site_codes,
        site_ids=history.site_ids,
        events=events,
        observed=observed,
    )
