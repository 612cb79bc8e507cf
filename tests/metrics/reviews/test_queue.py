"""A CSM's queue from the build's flags and the store: what needs them today, in the reader's
order, without held-back flags; "new for you" per site; snooze dates; what an undo takes back."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from metrics.reviews.holdback import SHARE_SETTING, WEEKS_SETTING, draw
from metrics.reviews.queue import (current_actions, last_action, new_per_site, read_reviews, review_queue, snooze_until,
                                   with_review_state)
from metrics.reviews.store import Action, ReviewStore

WEEK = date(2026, 3, 2)
TODAY = date(2026, 4, 1)
AS_OF = date(2026, 3, 30)


def flags() -> pl.DataFrame:
    """Worst site first, as queue_views.queue_flags orders them."""
    return pl.DataFrame({
        "user_id": ["w1", "w2", "w3", "b1", "b2"],
        "drop_week": [WEEK] * 5,
        "site_id": ["worst", "worst", "worst", "better", "better"],
        "status": ["silent_churn", "quiet", "quiet", "quiet", "quiet"],
    })


def test_the_queue_keeps_new_and_due_flags_worst_site_first(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    store.record(Action("w2", WEEK, "worst", "quiet", "csm0", "contacted", outcome="no_answer"))
    store.record(Action("b1", WEEK, "better", "quiet", "csm0", "snoozed", snoozed_until=date(2026, 4, 8)))
    store.record(Action("w3", WEEK, "worst", "quiet", "csm0", "snoozed", snoozed_until=date(2026, 3, 31)))
    reviewed = with_review_state(flags(), read_reviews(store), "csm0", TODAY, AS_OF)
    queue = review_queue(reviewed)
    # w2 contacted, b1 snoozed past today: out; w3's snooze ended yesterday: back, not new
    assert queue.select("user_id", "new").rows() == [("w1", True), ("w3", False), ("b2", True)]
    assert new_per_site(reviewed) == {"worst": 1, "better": 1}
    assert reviewed.filter(pl.col("user_id") == "w2")["outcome"].item() == "no_answer"
    assert reviewed.filter(pl.col("user_id") == "b1")["snoozed_until"].item() == date(2026, 4, 8)


def test_held_back_flags_stay_out_of_the_queue_and_are_never_new(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    store.set_setting(SHARE_SETTING, "0.5", "admin")
    store.set_setting(WEEKS_SETTING, "8", "admin")
    many = pl.DataFrame({"user_id": [f"u{i}" for i in range(200)], "drop_week": [WEEK] * 200,
                         "site_id": ["s"] * 200, "status": ["quiet"] * 200})
    reviewed = with_review_state(many, read_reviews(store), "csm0", TODAY, AS_OF)
    drawn = {user for user in many["user_id"] if draw(user, WEEK) < 0.5}
    assert set(reviewed.filter("held_back")["user_id"]) == drawn
    assert set(review_queue(reviewed)["user_id"]) == set(many["user_id"]) - drawn
    assert new_per_site(reviewed) == {"s": 200 - len(drawn)}


def test_snooze_choices_count_from_today() -> None:
    assert [snooze_until(choice, TODAY) for choice in ("1 week", "2 weeks", "a month")] == [
        date(2026, 4, 8), date(2026, 4, 15), date(2026, 5, 1)]
    with pytest.raises(KeyError):
        snooze_until("a year", TODAY)


def test_an_undo_takes_back_the_persons_latest_standing_action(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    first = store.record(Action("w1", WEEK, "worst", "quiet", "csm0", "contacted", outcome="no_answer"))
    second = store.record(Action("w2", WEEK, "worst", "quiet", "csm0", "snoozed", snoozed_until=TODAY))
    store.record(Action("b1", WEEK, "better", "quiet", "csm1", "contacted", outcome="not_a_concern"))
    assert last_action(store.actions(), "csm0")["action_id"] == second  # csm1's later action is theirs
    store.record(Action("w2", WEEK, "worst", "quiet", "csm0", "undone", undoes=second))
    assert last_action(store.actions(), "csm0")["action_id"] == first  # undoing again walks back
    store.record(Action("w1", WEEK, "worst", "quiet", "csm0", "undone", undoes=first))
    assert last_action(store.actions(), "csm0") is None


def test_the_actions_held_in_memory_follow_the_store_written_by_others(tmp_path: Path) -> None:
    """A process holds the store's actions and their flag states, and reads only what another
    writer (here another instance on the same file, as another process would be) appended since."""
    mine, other = ReviewStore(tmp_path / "r.sqlite"), ReviewStore(tmp_path / "r.sqlite")
    first = other.record(Action("w1", WEEK, "worst", "quiet", "csm0", "contacted", outcome="no_answer"))
    actions, states = current_actions(mine)
    assert actions["action_id"].to_list() == [first] and states["state"].to_list() == ["contacted"]
    assert current_actions(mine)[0] is actions  # nothing new: the same frame, not read again
    second = other.record(Action("w2", WEEK, "worst", "quiet", "csm1", "snoozed", snoozed_until=TODAY))
    other.record(Action("w1", WEEK, "worst", "quiet", "csm0", "undone", undoes=first))
    actions, states = current_actions(mine)
    assert actions.equals(mine.actions())
    assert states.select("user_id", "state").rows() == [("w2", "snoozed")]  # w1's contact taken back
    assert read_reviews(mine).states.equals(states) and last_action(actions, "csm1")["action_id"] == second


def test_a_store_replaced_under_the_same_path_is_read_again(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    store.record(Action("w1", WEEK, "worst", "quiet", "csm0", "contacted", outcome="no_answer"))
    assert current_actions(store)[0]["user_id"].to_list() == ["w1"]
    elsewhere = ReviewStore(tmp_path / "other.sqlite")
    elsewhere.record(Action("b1", WEEK, "better", "quiet", "csm0", "contacted", outcome="no_answer"))
    elsewhere.record(Action("b2", WEEK, "better", "quiet", "csm0", "contacted", outcome="not_a_concern"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'r.sqlite'}{suffix}").unlink(missing_ok=True)
    (tmp_path / "other.sqlite").rename(tmp_path / "r.sqlite")  # its action 1 is not the one held
    assert current_actions(store)[0]["user_id"].to_list() == ["b1", "b2"]


def test_actions_after_an_id_are_the_ones_recorded_since(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    ids = [store.record(Action(f"w{i}", WEEK, "worst", "quiet", "csm0", "contacted", outcome="no_answer"))
           for i in range(3)]
    assert store.actions(after=ids[0]).equals(store.actions().slice(1))
    assert store.actions(after=ids[-1]).is_empty()
