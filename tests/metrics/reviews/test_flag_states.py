"""Where a flag stands for a CSM, from the store's actions and digests; the hold-back draw."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from metrics.reviews.flag_states import flag_states, reviewed_in_queue
from metrics.reviews.holdback import Holdback, held_back
from metrics.reviews.store import Action, ReviewStore

WEEK = date(2026, 3, 2)


def test_queue_state_for_one_csm(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    store.record(Action("contacted", WEEK, "s1", "quiet", "csm0", "contacted", outcome="no_answer"))
    store.record(Action("snoozed", WEEK, "s1", "quiet", "csm0", "snoozed", snoozed_until=date(2026, 4, 6)))
    store.record(Action("snooze_over", WEEK, "s1", "quiet", "csm0", "snoozed", snoozed_until=date(2026, 3, 30)))
    store.record(Action("got_worse", WEEK, "s1", "quiet", "csm0", "snoozed", snoozed_until=date(2026, 4, 6)))
    store.record_digest("csm0", "run1", pl.DataFrame({"user_id": ["digested"], "drop_week": [WEEK]}))
    store.record_digest("csm1", "run1", pl.DataFrame({"user_id": ["fresh"], "drop_week": [WEEK]}))
    flags = pl.DataFrame({
        "user_id": ["contacted", "snoozed", "snooze_over", "got_worse", "digested", "fresh", "redropped"],
        "drop_week": [WEEK] * 6 + [date(2026, 3, 23)],
        "status": ["quiet", "quiet", "quiet", "silent_churn", "quiet", "quiet", "quiet"],
    })
    # "redropped" was contacted about an earlier drop: a new drop is a new flag
    store.record(Action("redropped", date(2025, 11, 3), "s1", "quiet", "csm0", "contacted", outcome="no_answer"))
    seen = reviewed_in_queue(flags, flag_states(store.actions()), store.digests(), "csm0", today=date(2026, 4, 1))
    got = {user: (state, due, new) for user, state, due, new in seen.select("user_id", "review_state", "due", "new").rows()}
    assert got == {
        "contacted": ("contacted", False, False),
        "snoozed": ("snoozed", False, False),       # snoozed until after today
        "snooze_over": ("snoozed", True, False),    # back: the snooze ended
        "got_worse": ("snoozed", True, False),      # back: quiet when snoozed, silent churn now
        "digested": ("none", True, False),          # csm0 was told of it in a digest
        "fresh": ("none", True, True),              # only another CSM's digest named it
        "redropped": ("none", True, True),
    }


def test_the_hold_back_is_a_fixed_share_of_flags_for_its_weeks() -> None:
    flags = pl.DataFrame({"user_id": [f"u{i}" for i in range(4000)], "drop_week": [WEEK] * 4000})
    assert not held_back(flags, Holdback(0.0, 8), WEEK).any()
    inside = held_back(flags, Holdback(0.25, 8), date(2026, 4, 20))  # 7 weeks after the drop
    assert 0.22 < inside.mean() < 0.28
    assert inside.equals(held_back(flags, Holdback(0.25, 8), date(2026, 4, 20)))  # the same draw every time
    assert not held_back(flags, Holdback(0.25, 8), date(2026, 4, 27)).any()  # 8 weeks on: back in the queue
