"""Every user's history of use as sorted arrays of their active weeks, for questions over a
whole history (not a window): how long a silence is, how low use has ever been.

Only weeks with use are kept (a user of ten years who logs in monthly is 120 rows, not 520),
and sums over any stretch of weeks come from one cumulative sum and a binary search.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl


@dataclass(frozen=True)
class ActiveWeeks:
    """Every user's weeks with use, as week numbers from `epoch` (a Monday), sorted by user then week."""

    epoch: date
    user_ids: np.ndarray  # (users,) sorted
    user: np.ndarray  # (active weeks,) index into user_ids
    week: np.ndarray  # (active weeks,)
    events: np.ndarray  # (active weeks,) events that week
    enrolled_until: np.ndarray  # (users,) last week the user held a seat, up to as_of
    as_of: int  # week number of the as_of week

    def week_of(self, day: date) -> int:
        return (day - self.epoch).days // 7


def active_weeks(user_weeks: pl.DataFrame, as_of: date) -> ActiveWeeks:
    """From `user_weeks` (user_id, week, events, is_enrolled), the weeks with use up to as_of."""
    frame = user_weeks.lazy().filter(pl.col("week") <= as_of)
    epoch = frame.select(pl.col("week").min()).collect().item() or as_of
    week_code = (pl.col("week") - pl.lit(epoch)).dt.total_days() // 7
    users = (
        frame.group_by("user_id")
        .agg(week_code.filter(pl.col("is_enrolled")).max().fill_null(-1).alias("enrolled_until"))
        .sort("user_id")
        .with_row_index("user_code")
        .collect()
    )
    weeks = (
        frame.filter(pl.col("events") > 0)
        .join(users.lazy().select("user_id", "user_code"), on="user_id")
        .select("user_code", week_code.alias("week_code"), "events")
        .sort("user_code", "week_code")
        .collect()
    )
    return ActiveWeeks(
        epoch=epoch,
        user_ids=users["user_id"].to_numpy(),
        user=weeks["user_code"].to_numpy().astype(np.int64),
        week=weeks["week_code"].to_numpy().astype(np.int64),
        events=weeks["events"].to_numpy().astype(float),
        enrolled_until=users["enrolled_until"].to_numpy().astype(np.int64),
        as_of=(as_of - epoch).days // 7,
    )


def events_through(active: ActiveWeeks, values: np.ndarray, user: np.ndarray, week: np.ndarray) -> np.ndarray:
    """Each user's sum of `values` (one per active week) over weeks up to and including `week`."""
    stride = active.as_of + 2
    keys = active.user * stride + active.week
    cumulative = np.append(0.0, np.cumsum(values))
    through = np.searchsorted(keys, user * stride + np.clip(week, -1, active.as_of), side="right")
    return cumulative[through] - cumulative[np.searchsorted(keys, user * stride - 1, side="right")]




def lowest_stretch(active: ActiveWeeks, user: np.ndarray, length: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Each user's fewest events in any `length` consecutive weeks from their first use to the week
    before `before`; inf when their history before it is shorter than `length`."""
    stride = active.as_of + 2
    keys = active.user * stride + active.week
    first = active.week[np.searchsorted(keys, user * stride - 1, side="right").clip(max=len(keys) - 1)]
    span = int(np.max(before - first, initial=0))
    ends = first[:, None] + length[:, None] - 1 + np.arange(max(span, 1))[None, :]  # last week of each stretch
    valid = ends < before[:, None]
    u = np.broadcast_to(user[:, None], ends.shape)
    sums = events_through(active, active.events, u, ends) - events_through(active, active.events, u, ends - length[:, None])
    return np.where(valid, sums, np.inf).min(axis=1)
