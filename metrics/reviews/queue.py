"""A CSM's review queue: the build's flags with where each stands for this person, the ones
that need them today (new or due, not held back), and what an undo takes back.

The store is read once per request (`read_reviews`; its actions are held in memory and only
the new ones read, `current_actions`); everything after is a function from frames to frames,
so the queue, the site pages' review state and their "new for you" counts all agree.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from metrics.reviews.flag_states import flag_states, reviewed_in_queue, standing_actions
from metrics.reviews.holdback import Holdback, held_back
from metrics.reviews.store import ReviewStore

QUEUE_LENGTH = 20  # today's work, short: the rest waits for these to be done
# Quick snooze choices, counted from today's date (what a CSM means by "a week"), in days.
SNOOZES = {"1 week": 7, "2 weeks": 14, "a month": 30}
OUTCOME_LABELS = {
    "reached_will_resume": "reached, will resume",
    "reached_workflow_problem": "reached, workflow problem",
    "reached_needs_training": "reached, needs training",
    "no_answer": "no answer",
    "left_organisation": "left the organisation",
    "not_a_concern": "not a concern",
}


@dataclass(frozen=True)
class Reviews:
    """What the store says of every flag, read once for a request."""

    actions: pl.DataFrame
    states: pl.DataFrame
    digests: pl.DataFrame
    holdback: Holdback


def read_reviews(store: ReviewStore) -> Reviews:
    actions, states = current_actions(store)
    return Reviews(actions, states, store.digests(), Holdback.from_store(store))


@dataclass(frozen=True)
class _Held:
    actions: pl.DataFrame
    states: pl.DataFrame


_held: weakref.WeakKeyDictionary[ReviewStore, _Held] = weakref.WeakKeyDictionary()
_catching_up = threading.Lock()


def current_actions(store: ReviewStore) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every action in the store and the flag states derived from them, as the store stands now.

    Held in memory per store (in the app: one per process) and checked against the store on every
    call, since other processes write to it too; only the actions recorded since are read."""
    with _catching_up:
        held = _held.get(store)
        actions = _caught_up(store, None if held is None else held.actions)
        if held is None or actions is not held.actions:
            held = _held[store] = _Held(actions, flag_states(actions))
        return held.actions, held.states


def _caught_up(store: ReviewStore, actions: pl.DataFrame | None) -> pl.DataFrame:
    """`actions`, read from `store` earlier, with those recorded since (the same frame when there
    are none). Actions are only appended, so the store's rows from the newest one held onwards
    tell it all; when they do not start with that one, this is not the store they were read
    from, and all are read again."""
    if actions is None or actions.is_empty():
        return store.actions()
    newest = actions.row(-1, named=True)
    since = store.actions(after=newest["action_id"] - 1)
    if since.is_empty() or since.row(0, named=True) != newest:
        return store.actions()
    return actions if since.height == 1 else pl.concat([actions, since.slice(1)])


def with_review_state(flags: pl.DataFrame, reviews: Reviews, person: str, today: date, as_of: date) -> pl.DataFrame:
    """`flags` (user_id, drop_week, status, ...) with review_state, outcome, snoozed_until, due,
    held_back and new. A held-back flag is never new: the experiment keeps it out of sight."""
    ordered = flags.with_row_index("flag_order")
    reviewed = (
        reviewed_in_queue(ordered, reviews.states, reviews.digests, person, today)
        .join(reviews.states.select("user_id", "drop_week", "outcome"), on=["user_id", "drop_week"], how="left")
        .sort("flag_order")  # joins may reorder; the queue's order is the reader's (worst site first)
        .drop("flag_order")
    )
    return reviewed.with_columns(held_back(reviewed, reviews.holdback, as_of)).with_columns(
        pl.col("new") & ~pl.col("held_back"))


def review_queue(reviewed: pl.DataFrame) -> pl.DataFrame:
    """The flags that need the person today, in the order given (worst site first)."""
    return reviewed.filter(pl.col("due") & ~pl.col("held_back"))


def new_per_site(reviewed: pl.DataFrame) -> dict[str, int]:
    """How many flags are new for the person, per site that has any."""
    return dict(reviewed.filter(pl.col("new")).group_by("site_id").len().iter_rows())


def snooze_until(choice: str, today: date) -> date:
    """The date a quick snooze choice ends (KeyError for anything but SNOOZES' choices)."""
    return today + timedelta(days=SNOOZES[choice])


def last_action(actions: pl.DataFrame, reviewer: str) -> dict[str, Any] | None:
    """The reviewer's latest action still standing (not itself an undo, not undone): what their
    undo takes back. Undoing again walks further back."""
    standing = standing_actions(actions).filter(pl.col("reviewer") == reviewer)
    return standing.sort("action_id").row(-1, named=True) if standing.height else None
