"""Where each flag stands, derived from the store's append-only actions."""
from __future__ import annotations

from datetime import date

import polars as pl

STATE_COLUMNS = ["user_id", "drop_week", "site_id", "state", "outcome", "snoozed_until", "status_when_reviewed",
                 "reviewer", "reviewed_at", "action_id"]


def standing_actions(actions: pl.DataFrame) -> pl.DataFrame:
    """The actions still in effect: neither an undo nor taken back by one."""
    undone = actions.filter(pl.col("action") == "undone")["undoes"].implode()
    return actions.filter((pl.col("action") != "undone") & ~pl.col("action_id").is_in(undone))


def flag_states(actions: pl.DataFrame) -> pl.DataFrame:
    """Per flag (user_id, drop_week) with an action still standing, the latest of them: `state` is
    `contacted` or `snoozed`. An `undone` action takes back the action it names, so the flag
    stands where it stood before (or nowhere)."""
    return (
        standing_actions(actions)
        .sort("action_id")
        .group_by("user_id", "drop_week", maintain_order=True)
        .last()
        .select("user_id", "drop_week", "site_id", pl.col("action").alias("state"), "outcome", "snoozed_until",
                pl.col("status").alias("status_when_reviewed"), "reviewer", pl.col("at").alias("reviewed_at"),
                "action_id")
        .sort("user_id", "drop_week")
    )


def reviewed_in_queue(flags: pl.DataFrame, states: pl.DataFrame, digests: pl.DataFrame, person: str,
                      today: date) -> pl.DataFrame:
    """`flags` (user_id, drop_week, status, ...: the build's flagged users at this person's sites)
    with where each stands for this person:
    - `review_state`: contacted, snoozed, or none;
    - `due`: not contacted, and not snoozed or the snooze ended by `today` or the status got
      worse since (quiet to silent_churn): the flag belongs in the queue;
    - `new`: due, never acted on by anyone, and in no digest this person received."""
    seen = digests.filter(pl.col("recipient") == person).select("user_id", "drop_week").unique()
    worse = (pl.col("status_when_reviewed") == "quiet") & (pl.col("status") == "silent_churn")
    snooze_over = pl.col("snoozed_until") <= today
    return (
        flags.join(states.select("user_id", "drop_week", "state", "snoozed_until", "status_when_reviewed"),
                   on=["user_id", "drop_week"], how="left")
        .join(seen.with_columns(pl.lit(True).alias("in_digest")), on=["user_id", "drop_week"], how="left")
        .with_columns(
            pl.col("state").fill_null("none").alias("review_state"),
            (pl.col("state").is_null() | ((pl.col("state") == "snoozed") & (snooze_over | worse))).alias("due"),
        )
        .with_columns((pl.col("due") & pl.col("state").is_null() & pl.col("in_digest").is_null()).alias("new"))
        .drop("state", "in_digest")
    )
