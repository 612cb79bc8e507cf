"""Where each flag stands, derived from the store's append-only actions."""
from __future__ import annotations

import polars as pl

STATE_COLUMNS = ["user_id", "drop_week", "site_id", "state", "outcome", "snoozed_until", "status_when_reviewed",
                 "reviewer", "reviewed_at", "action_id"]


def flag_states(actions: pl.DataFrame) -> pl.DataFrame:
    """Per flag (user_id, drop_week) with an action still standing, the latest of them: `state` is
    `contacted` or `snoozed`. An `undone` action takes back the action it names, so the flag
    stands where it stood before (or nowhere)."""
    undone = actions.filter(pl.col("action") == "undone")["undoes"].implode()
    return (
        actions.filter((pl.col("action") != "undone") & ~pl.col("action_id").is_in(undone))
        .sort("action_id")
        .group_by("user_id", "drop_week", maintain_order=True)
        .last()
        .select("user_id", "drop_week", "site_id", pl.col("action").alias("state"), "outcome", "snoozed_until",
                pl.col("status").alias("status_when_reviewed"), "reviewer", pl.col("at").alias("reviewed_at"),
                "action_id")
        .sort("user_id", "drop_week")
    )
