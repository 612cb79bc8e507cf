"""The opt-in randomised hold-back: a set share of new flags is kept out of queues and digests
for a set number of weeks, so that the difference in return rates between flags worked and
flags held back is the causal effect of outreach (CSMs otherwise choose whom to call).

Off unless the store's settings say otherwise. Which flags are held back is a fixed function
of the flag (a hash of user and drop week), so every process, build and digest agrees, and a
flag's draw never changes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from metrics.reviews.store import ReviewStore

SHARE_SETTING, WEEKS_SETTING = "holdback_share", "holdback_weeks"


@dataclass(frozen=True)
class Holdback:
    share: float  # 0 (off) to below 1
    weeks: int

    @classmethod
    def from_store(cls, store: ReviewStore) -> Holdback:
        share, weeks = store.setting(SHARE_SETTING), store.setting(WEEKS_SETTING)
        return cls(float(share) if share else 0.0, int(weeks) if weeks else 0)


def draw(user_id: str, drop_week: date) -> float:
    """The flag's fixed uniform draw in [0, 1)."""
    digest = hashlib.sha256(f"{user_id}|{drop_week.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def held_back(flags: pl.DataFrame, holdback: Holdback, as_of: date) -> pl.Series:
    """Per flag (user_id, drop_week): drawn into the hold-back and still inside its weeks at as_of."""
    if holdback.share <= 0 or holdback.weeks <= 0 or flags.is_empty():
        return pl.Series("held_back", [False] * flags.height, dtype=pl.Boolean)
    drawn = [draw(user, week) < holdback.share for user, week in flags.select("user_id", "drop_week").rows()]
    ends = flags["drop_week"] + timedelta(weeks=holdback.weeks)
    return (pl.Series(drawn, dtype=pl.Boolean) & (ends > as_of)).alias("held_back")
