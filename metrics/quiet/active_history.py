"""Every user's weekly history as one dense users x weeks array, built once per scoring.

The build's user_weeks already holds a row per user and week, so a dense array of the same
weeks costs memory of that order (four bytes a cell), and every question about a user's past
becomes arithmetic along a row: the return model's spells, a user's own decline and the lowest
stretch of their history (sums over any weeks, from one cumulative sum per row), and the rate
scan's recent weeks (a slice) all read this one structure instead of arranging the rows again.
Questions are asked a block of users at a time (`Rows`; see blocks.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import polars as pl

from metrics.quiet.blocks import BLOCK_CELLS, MIN_BLOCK_USERS, each, ranges

EXACT_FLOAT32 = 2**24  # counts below this are exact in float32; a history with more is kept in float64
ROW_CHUNK = 2**20  # user_weeks rows spread into the dense history at a time: small temporaries


@dataclass(frozen=True)
class Rows:
    """Some users' weeks (a row each, oldest week first), with sums over any of their weeks.

    Sums come from one cumulative sum per row in float64, so a sum of whole counts is exact
    whatever order it is taken in.
    """

    events: np.ndarray  # (users, weeks)
    enrolled: np.ndarray  # (users, weeks) bool

    @cached_property
    def used(self) -> np.ndarray:
        """(users, weeks) bool: weeks with any use."""
        return self.events > 0

    @cached_property
    def by_week(self) -> np.ndarray:
        """(weeks, users) the events laid out weeks first: a week of every user side by side, as the
        running sums and the passes a week at a time read them."""
        return np.ascontiguousarray(self.events.T)

    @cached_property
    def used_by_week(self) -> np.ndarray:
        """(weeks, users) bool: `used`, laid out weeks first."""
        return self.by_week > 0

    @cached_property
    def first_week(self) -> np.ndarray:
        """Each user's first week with use; the number of weeks for a user who never used it."""
        return np.where(self.used.any(axis=1), self.used.argmax(axis=1), self.events.shape[1])

    @cached_property
    def enrolled_until(self) -> np.ndarray:
        """Each user's last week with a seat, -1 for none."""
        last = self.enrolled.shape[1] - 1 - self.enrolled[:, ::-1].argmax(axis=1)
        return np.where(self.enrolled.any(axis=1), last, -1)

    @cached_property
    def cumulative(self) -> np.ndarray:
        """(users, weeks + 1) events up to each week: column w + 1 holds weeks 0 to w."""
        return _cumulative(self.by_week)

    @cached_property
    def cumulative_squares(self) -> np.ndarray:
        """As `cumulative`, of each week's events squared (a baseline's own variance)."""
        return _cumulative(np.square(self.by_week, dtype=np.float64))

    @cached_property
    def cumulative_used(self) -> np.ndarray:
        """As `cumulative`, of weeks with use."""
        return _cumulative(self.used_by_week, dtype=np.int64)

    @cached_property
    def latest_use(self) -> np.ndarray:
        """(weeks, users) each user's latest week with use up to each week, -1 for none: a running
        maximum, a week at a time (int32: several times faster to take and compare than int64)."""
        used = self.used_by_week
        # the week where used, -1 where not
        return accumulate_weeks(np.maximum, used * np.arange(1, len(used) + 1, dtype=np.int32)[:, None] - np.int32(1))

    def through(self, cumulative: np.ndarray, row: np.ndarray, week: np.ndarray) -> np.ndarray:
        """Each row's sum of a `cumulative` over weeks up to and including `week`: 0 before the
        first week, everything after the last. Looked up in the sums as they lie (weeks first), one
        flat index a value."""
        users, weeks = self.events.shape
        return cumulative.T.reshape(-1)[(np.clip(week, -1, weeks - 1) + 1) * users + row]

    def between(self, cumulative: np.ndarray, row: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Each row's sum over weeks `first` to `last`, both included."""
        return self.through(cumulative, row, last) - self.through(cumulative, row, first - 1)

    def last_use(self, cut: int) -> np.ndarray:
        """Each user's last week with use up to week `cut`, -1 for none."""
        return self.latest_use[min(cut, self.events.shape[1] - 1)].astype(np.int64)

    def longest_gap(self, cut: int) -> np.ndarray:
        """Each user's most silent weeks between two uses, up to week `cut`: the most weeks since the
        latest use at any week from the first use to the last (a gap there ends by the last use)."""
        latest = self.latest_use[: cut + 1]
        week = np.arange(len(latest), dtype=np.int32)[:, None]
        return np.where((latest >= 0) & (week <= latest[-1]), week - latest, 0).max(axis=0, initial=0).astype(np.int64)

    def lowest_stretch(self, row: np.ndarray, length: np.ndarray, before: np.ndarray) -> np.ndarray:
        """Each row's fewest events in any `length` consecutive weeks from their first use to the
        week before `before`; inf when their history before it is shorter than `length`."""
        first = self.first_week[row]
        span = int(np.max(before - first, initial=0))
        ends = first[:, None] + length[:, None] - 1 + np.arange(max(span, 1))[None, :]  # last week of each stretch
        sums = self.between(self.cumulative, row[:, None], ends - length[:, None] + 1, ends)
        return np.where(ends < before[:, None], sums, np.inf).min(axis=1)


def accumulate_weeks(ufunc: np.ufunc, by_week: np.ndarray) -> np.ndarray:
    """`by_week` (weeks, users) accumulated along the weeks by `ufunc`, in place: a week at a time over
    all users (a cumsum along each short row costs a call per row, and along the weeks' axis, 1.6 ms
    a block against 1.1). A reversed view accumulates from the last week."""
    for week in range(1, len(by_week)):
        ufunc(by_week[week - 1], by_week[week], out=by_week[week])
    return by_week


def _cumulative(by_week: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """(users, weeks + 1) running sums of (weeks, users) values; the same sums, laid out weeks first
    (`.T` of the result reads them so)."""
    out = np.zeros((by_week.shape[0] + 1, by_week.shape[1]), dtype=dtype)
    out[1:] = by_week
    return accumulate_weeks(np.add, out).T


@dataclass(frozen=True, eq=False)
class WeeklyHistory:
    """Users x weeks from `epoch` (the first week in the data) to the as_of week, users sorted by id."""

    epoch: date
    user_ids: pl.Series  # (users,) sorted; polars strings, which the frames made from it are
    site_ids: np.ndarray  # (sites,) sorted
    site_codes: np.ndarray  # (users,) index into site_ids: the site of the user's first row
    events: np.ndarray  # (users, weeks) events each week, 0 where the user had no row
    enrolled: np.ndarray  # (users, weeks) bool: a row, and the user held a seat that week
    as_of: int  # week number of the as_of week (the last column)

    def week_of(self, day: date) -> int:
        return (day - self.epoch).days // 7

    def blocks(self) -> list[slice]:
        """The users a block at a time."""
        return ranges(len(self.user_ids), max(BLOCK_CELLS // self.events.shape[1], MIN_BLOCK_USERS))

    def rows(self, users: slice) -> Rows:
        return Rows(self.events[users], self.enrolled[users])


def _users(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """(frame, where each user's rows end, each user's number in id order), users in frame order.

    The build writes user_weeks with each user's rows together: then the runs of one id are the
    users, and only their first ids need sorting. Any other frame is sorted first (stably, so a
    user's first row stays first)."""
    runs = frame["user_id"].rle()
    ids = runs.struct.field("value")
    if ids.n_unique() < len(ids):
        return _users(frame.sort("user_id", maintain_order=True))
    number = np.empty(len(ids), dtype=np.int64)
    number[ids.arg_sort().to_numpy()] = np.arange(len(ids))
    return frame, np.cumsum(runs.struct.field("len").to_numpy(), dtype=np.int64), number


def _per_row(ends: np.ndarray, values: np.ndarray, rows: slice) -> np.ndarray:
    """Each of these rows' value of its user (`values` a user, users in frame order), from where
    each user's rows end."""
    first, last = np.searchsorted(ends, [rows.start, rows.stop - 1], side="right")
    starts = np.concatenate([[rows.start], ends[first:last]])
    stops = np.concatenate([ends[first:last], [rows.stop]])
    return np.repeat(values[first:last + 1], stops - starts)


def _site_codes(sites: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The distinct sites sorted, and each user's index among them: the few distinct sites sorted,
    and every user's looked up (a hash lookup, not a sort of every user's site)."""
    ids = sites.unique().sort()
    if sites.null_count():  # a user without a site: ranked as it always was
        return ids.to_numpy(), (sites.rank("dense") - 1).to_numpy().astype(np.int64)
    codes = sites.replace_strict(ids, pl.int_range(len(ids), eager=True, dtype=pl.Int64), return_dtype=pl.Int64)
    return ids.to_numpy(), codes.to_numpy().astype(np.int64)


def active_weeks(user_weeks: pl.DataFrame, as_of: date) -> WeeklyHistory:
    """From `user_weeks` (user_id, site_id, week, events, is_enrolled; one row per user and week),
    every user's history up to the as_of week. Without a site_id (the return model needs none),
    everyone is at one site. The rows are spread into the dense arrays a chunk at a time, the chunks
    side by side on every core."""
    site = pl.col("site_id") if "site_id" in user_weeks.columns else pl.lit("").alias("site_id")
    frame = user_weeks.select("user_id", site, "week", "events", "is_enrolled")
    if frame.height and frame["week"].max() > as_of:
        frame = frame.filter(pl.col("week") <= as_of)
    epoch = frame["week"].min() or as_of
    frame, ends, number = _users(frame)
    first_rows = np.empty(len(number), dtype=np.int64)
    first_rows[number] = ends - np.diff(ends, prepend=0)  # each user's first row, users in id order
    sites = frame["site_id"].gather(first_rows)
    days = frame["week"].to_physical().to_numpy()
    counts = frame["events"]
    counts = (counts.fill_null(0) if counts.null_count() else counts).to_numpy()
    n_weeks = (as_of - epoch).days // 7 + 1
    exact = len(counts) == 0 or max(-counts.min(), counts.max()) < EXACT_FLOAT32
    events = np.zeros((len(number), n_weeks), dtype=np.float32 if exact else np.float64)
    enrolled = np.zeros((len(number), n_weeks), dtype=bool)
    row_cell = number * n_weeks  # each user's first cell

    def spread(rows: slice) -> None:
        """These rows into their cells: each (user, week) has one row, so chunks can go side by side.
        The counts are converted before they are spread (a plain copy per cell is the faster scatter)."""
        cell = _per_row(ends, row_cell, rows) + (days[rows] - (epoch - date(1970, 1, 1)).days) // 7
        events.reshape(-1)[cell] = counts[rows].astype(events.dtype)
        enrolled.reshape(-1)[cell] = frame["is_enrolled"][rows].fill_null(False).to_numpy()

    list(each(spread, [slice(start, min(start + ROW_CHUNK, len(days))) for start in range(0, len(days), ROW_CHUNK)]))
    site_ids, site_codes = _site_codes(sites)
    return WeeklyHistory(
        epoch=epoch,
        user_ids=frame["user_id"].gather(first_rows),
        site_ids=site_ids,
        site_codes=site_codes,
        events=events,
        enrolled=enrolled,
        as_of=n_weeks - 1,
    )
