"""What a digest says, from frames: risks that got worse, snoozes that came due once, both parts
saying the same thing, and every value from the data escaped in the HTML part."""
from __future__ import annotations

from datetime import date, datetime

import polars as pl

from metrics.reviews.digest import Links, csm_digest, risk_got_worse, snoozes_come_due

WEEK = date(2026, 3, 2)
LINKS = Links("https://radar.example/")


def test_risk_got_worse_only_where_the_previous_build_scored_the_site_better() -> None:
    current = pl.DataFrame({"site_id": ["a", "b", "c", "d"], "name": ["A", "B", "C", "D"],
                            "risk": ["high", "medium", "low", "high"]})
    previous = pl.DataFrame({"site_id": ["a", "b", "c"], "risk": ["low", "medium", "medium"]})
    worse = risk_got_worse(current, previous)
    # a: low -> high; b unchanged; c got better; d was not scored before, so it cannot have got worse
    assert worse.rows() == [("a", "A", "low", "high")]
    assert risk_got_worse(current, None) is None  # no previous digest: nothing to compare with


def test_a_snooze_comes_due_once() -> None:
    reviewed = pl.DataFrame({"user_id": ["due", "told", "snoozed_again", "waiting", "held"],
                             "drop_week": [WEEK] * 5, "review_state": ["snoozed"] * 5,
                             "due": [True, True, True, False, True], "held_back": [False] * 4 + [True]})
    states = pl.DataFrame({"user_id": ["due", "told", "snoozed_again", "waiting", "held"], "drop_week": [WEEK] * 5,
                           "reviewed_at": [datetime(2026, 3, 10)] * 2 + [datetime(2026, 3, 20)] + [datetime(2026, 3, 10)] * 2})
    digests = pl.DataFrame({"recipient": ["csm0", "csm0", "csm1"], "user_id": ["told", "snoozed_again", "due"],
                            "drop_week": [WEEK] * 3, "sent_at": [datetime(2026, 3, 16)] * 3})
    due = snoozes_come_due(reviewed, states, digests, "csm0")
    # told: csm0's digest of 16 Mar named it after the snooze; snoozed_again: snoozed anew after that
    # digest; due: only csm1 was told; waiting: not due; held: held back from every digest
    assert sorted(due["user_id"]) == ["due", "snoozed_again"]


def _flags(**values: list) -> pl.DataFrame:
    n = len(values["user_id"])
    return pl.DataFrame({"drop_week": [WEEK] * n, "site_id": ["s<1>"] * n, "site_name": ['North & "Co" <b>'] * n,
                         "status": ["silent_churn"] * n, "reason": ["No use <since> & no ticket."] * n, **values})


def test_both_parts_say_the_same_and_the_html_escapes_every_value() -> None:
    new = _flags(user_id=["u<script>alert(1)</script>", "u2"])
    snoozed = _flags(user_id=["u3"], snoozed_until=[date(2026, 3, 9)])
    digest = csm_digest("csm0@vendor.example", WEEK, new, snoozed, None, LINKS, first=True)
    assert digest.subject == "Adoption Radar: 2 new flags at your sites, week of 02 Mar 2026"
    assert "u<script>alert(1)</script> at North & \"Co\" <b>, silently churned since 02 Mar 2026" in digest.text
    assert "<script>" not in digest.html and "<b>" not in digest.html and "<since>" not in digest.html
    assert "u&lt;script&gt;alert(1)&lt;/script&gt; at North &amp; &quot;Co&quot; &lt;b&gt;" in digest.html
    assert 'href="https://radar.example/sites/s%3C1%3E"' in digest.html  # a site id is quoted into its link
    assert "https://radar.example/queue" in digest.text and "https://radar.example/queue" in digest.html
    assert "Snoozes that came due (1)" in digest.text and "snoozed until 09 Mar 2026" in digest.html
    assert digest.flags.rows() == [("u<script>alert(1)</script>", WEEK), ("u2", WEEK), ("u3", WEEK)]


def test_a_long_list_is_cut_at_the_queue_length_and_only_what_is_named_counts_as_told() -> None:
    new = _flags(user_id=[f"u{i:02}" for i in range(25)])
    digest = csm_digest("csm0@vendor.example", WEEK, new, new.clear().with_columns(snoozed_until=pl.lit(WEEK)),
                        None, LINKS, first=False)
    assert digest.subject.startswith("Adoption Radar: 25 new flags")
    assert "u19 at" in digest.text and "u20 at" not in digest.text and "and 5 more in your queue" in digest.text
    assert digest.flags.height == 20  # the 5 not named stay new for the next digest and in the queue


def test_a_flag_says_which_feature_the_user_stopped_first() -> None:
    new = _flags(user_id=["u1", "u2"], feature_stopped_first=["Order <entry>", None])
    digest = csm_digest("csm0@vendor.example", WEEK, new, _flags(user_id=[]), None, LINKS, first=True)
    line = next(line for line in digest.text.splitlines() if "u1 at" in line)
    assert line.endswith("No use <since> & no ticket. Stopped Order <entry> first.")
    assert "Stopped" not in next(line for line in digest.text.splitlines() if "u2 at" in line)
    assert "Stopped Order &lt;entry&gt; first." in digest.html
