"""The recent weeks of every user as dense arrays, so tests run over all users at once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl


@dataclass(frozen=True)
class ActivityMatrix:
    """Users x weeks, oldest week first; the last column is the as_of week.

    `observed` is true where the week counts for the user: enrolled, and at or after
    the user's first active week (weeks before first use are onboarding, not baseline).
    """

    user_ids: np.ndarray
    site_codes: np.ndarray  # (users,) index into site_ids
    site_ids: np.ndarray
    weeks: list[date]
    events: np.ndarray  # (users, weeks) float
    active_days: np.ndarray  # (users, weeks) float: days with any event, far less bursty than events
    observed: np.ndarray  # (users, weeks) bool

    @property
    def n_users(self) -> int:
        return len(self.user_ids)


def activity_matrix(user_weeks: pl.DataFrame, as_of: date, n_weeks: int) -> ActivityMatrix:
    """Arrange `user_weeks` (user_id, site_id, week, events, active_days, is_enrolled) for the last n_weeks."""
    first_week = as_of - timedelta(weeks=n_weeks - 1)
    first_active = (
        user_weeks.filter(pl.col("events") > 0)
        .group_by("user_id")
        .agg(pl.col("week").min().alias("first_active_week"))
    )
    users = user_weeks.select("user_id", "site_id").unique("user_id").sort("user_id").with_row_index("user_code")
    site_ids, site_codes = np.unique(users["site_id"].to_numpy(), return_inverse=True)
    cells = (
        user_weeks.lazy()
        .filter(pl.col("week") >= first_week, pl.col("week") <= as_of)
        .join(users.lazy().select("user_id", "user_code"), on="user_id")
        .join(first_active.lazy(), on="user_id", how="left")
        .with_columns(((pl.col("week") - pl.lit(first_week)).dt.total_days() // 7).alias("week_code"))
        .with_columns(
            (pl.col("is_enrolled") & (pl.col("week") >= pl.col("first_active_week")).fill_null(False))
            .alias("is_observed")
        )
        .select("user_code", "week_code", "events", "active_days", "is_observed")
        .collect()
    )
    rows, cols = cells["user_code"].to_numpy(), cells["week_code"].to_numpy()
    observed = np.zeros((users.height, n_weeks), dtype=bool)
    observed[rows, cols] = cells["is_observed"].to_numpy()

    def dense(column: str) -> np.ndarray:
        values = np.zeros((users.height, n_weeks))
        values[rows, cols] = cells[column].to_numpy()
        return np.where(observed, values, 0.0)

    return ActivityMatrix(
        user_ids=users["user_id"].to_numpy(),
        site_codes=site_codes.astype(np.int64),
        site_ids=site_ids,
        weeks=[first_week + timedelta(weeks=i) for i in range(n_weeks)],
        events=dense("events"),
        active_days=dense("active_days"),
        observed=observed,
    )
