"""The recent weeks of every user as dense arrays, so tests run over all users at once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl


BLOCK_USERS = 16_384  # users per step of a pass over all users' weeks: small temporaries, reused memory


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
    users = (
        user_weeks.lazy()
        .group_by("user_id")
        .agg(pl.col("site_id").first(), ((pl.col("week") < first_week) & (pl.col("events") > 0)).any()
             .alias("active_before"))
        .sort("user_id")
        .with_row_index("user_code")
        .collect()
    )
    site_ids, site_codes = np.unique(users["site_id"].to_numpy(), return_inverse=True)
    cells = (
        user_weeks.lazy()
        .filter(pl.col("week") >= first_week, pl.col("week") <= as_of)
        .join(users.lazy().select("user_id", "user_code"), on="user_id")
        .select("user_code", ((pl.col("week") - pl.lit(first_week)).dt.total_days() // 7).alias("week_code"),
                "events", "active_days", "is_enrolled")
        .collect()
    )
    rows, cols = cells["user_code"].to_numpy(), cells["week_code"].to_numpy()

    def dense(column: str, dtype: type) -> np.ndarray:
        values = np.zeros((users.height, n_weeks), dtype=dtype)
        values[rows, cols] = cells[column].to_numpy()
        return values

    events, enrolled = dense("events", float), dense("is_enrolled", bool)
    # weeks before a user's first use are onboarding, not baseline
    used = users["active_before"].to_numpy()[:, None] | (np.cumsum(events > 0, axis=1) > 0)
    observed = enrolled & used
    return ActivityMatrix(
        user_ids=users["user_id"].to_numpy(),
        site_codes=site_codes.astype(np.int64),
        site_ids=site_ids,
        weeks=[first_week + timedelta(weeks=i) for i in range(n_weeks)],
        events=np.where(observed, events, 0.0),
        active_days=np.where(observed, dense("active_days", float), 0.0),
        observed=observed,
    )
