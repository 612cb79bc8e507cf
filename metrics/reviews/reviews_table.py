"""`reviews`: the store's actions, copied into the analytics file at build time, so that an
analyst can join what CSMs did with `user_status` and `user_weeks` in one notebook query.

Each contact also gets what came of it: whether the user used the product again in the 4 and
in the 8 weeks after the week of the contact (weeks C+1..C+4 and C+1..C+8; the contact's own
week may hold use from before the call). Null while those weeks are not all known at as_of,
so a recent contact is never counted as a user who did not come back.

The build only reads the store: without a store file the table is empty, and no file is
created (opening a missing store through ReviewStore would create one).
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from metrics.reviews.store import ReviewStore
from pipelines.build_context import BuildContext

__all__ = ["RETURN_WEEKS", "SCHEMA", "existing_store", "read_actions", "reviews_table", "returned_within", "week_of", "write_reviews"]

RETURN_WEEKS = (4, 8)
SCHEMA = {"action_id": pl.Int64, "user_id": pl.String, "drop_week": pl.Date, "site_id": pl.String,
          "status": pl.String, "reviewer": pl.String, "action": pl.String, "outcome": pl.String,
          "snoozed_until": pl.Date, "undoes": pl.Int64, "at": pl.Datetime("us"), "contact_week": pl.Date,
          **{f"active_within_{weeks}_weeks": pl.Boolean for weeks in RETURN_WEEKS}}


def existing_store(ctx: BuildContext) -> ReviewStore | None:
    """The build's reviews store, opened once per build; None when there is no store file (reading
    one must not leave a file behind)."""
    path = ctx.reviews_path
    return ctx.shared("reviews_store", lambda ctx: ReviewStore(path) if path and Path(path).is_file() else None)


def read_actions(ctx: BuildContext) -> pl.DataFrame | None:
    """Every action in the build's store, oldest first, read once per build; None without a store."""
    store = existing_store(ctx)
    return None if store is None else ctx.shared("review_actions", lambda ctx: store.actions())


def week_of(moment: pl.Expr) -> pl.Expr:
    """The Monday of a timestamp's week (weeks start on Monday, as everywhere in the build)."""
    return moment.dt.truncate("1w").dt.date()


def returned_within(starts: pl.DataFrame, user_weeks: pl.DataFrame, as_of: date, weeks: int) -> pl.Series:
    """Per row of `starts` (user_id, start_week): any use in the `weeks` weeks after start_week
    (start_week + 1 .. start_week + weeks); null when the last of them is after as_of.

    `user_weeks` holds user_id, week and events (main.user_weeks): a week missing from it (before
    the invitation) counts as no use."""
    used = user_weeks.filter(pl.col("events") > 0).select("user_id", "week")
    keyed = starts.select("user_id", "start_week").with_row_index("row")
    hits = (
        keyed.join(used, on="user_id")
        .filter((pl.col("week") > pl.col("start_week"))
                & (pl.col("week") <= pl.col("start_week") + pl.duration(weeks=weeks)))
        .select("row").unique()
        .with_columns(pl.lit(True).alias("hit"))
    )
    known = pl.col("start_week") + pl.duration(weeks=weeks) <= pl.lit(as_of)
    return (
        keyed.join(hits, on="row", how="left")
        .sort("row")
        .select(pl.when(known & pl.col("start_week").is_not_null())
                .then(pl.col("hit").fill_null(False)).alias(f"active_within_{weeks}_weeks"))
        .to_series()
    )


def reviews_table(actions: pl.DataFrame | None, user_weeks: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The `reviews` rows: each action as the store keeps it, and for a contact the week it fell in
    and whether the user came back within RETURN_WEEKS weeks of it."""
    if actions is None or actions.is_empty():
        return pl.DataFrame(schema=SCHEMA)
    rows = actions.with_columns(
        pl.when(pl.col("action") == "contacted").then(week_of(pl.col("at"))).alias("contact_week"))
    starts = rows.select("user_id", pl.col("contact_week").alias("start_week"))
    return rows.with_columns(
        returned_within(starts, user_weeks, as_of, weeks) for weeks in RETURN_WEEKS
    ).select(pl.col(name).cast(dtype) for name, dtype in SCHEMA.items())


def write_reviews(ctx: BuildContext) -> None:
    """Build stage: the store's actions, and what came of each contact, into main.reviews."""
    weeks = ctx.con.sql("select user_id, week, events from main.user_weeks where events > 0").pl()
    ctx.write_table("reviews", reviews_table(read_actions(ctx), weeks, ctx.as_of))
