"""The tiny hand-made input, built: every expected value names the row that causes it.

Weeks start on Monday: 2024-01-01, 2024-01-08, 2024-01-15 and 2024-01-22.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.support import rows

W1, W2, W3 = date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)


def test_as_of_is_the_last_complete_week(tiny_db: Path) -> None:
    # the latest event, events/a.csv line 8 (2024-01-21T23:30-02:00), is Monday
    # 2024-01-22 01:30 UTC: that week has not ended, so the last complete one is W3
    assert rows(tiny_db, "select distinct as_of from build_runs") == [(W3,)]


def test_user_weeks(tiny_db: Path) -> None:
    got = rows(
        tiny_db,
        "select user_id, site_id, week, events, active_days, tickets, is_enrolled from user_weeks order by all",
    )
    assert got == [
        # u1, invited 2024-01-01 (users.csv line 2)
        ("u1", "s1", W1, 2, 1, 0, True),  # a.csv lines 2-3 (e1, e2); line 4 repeats e2
        ("u1", "s1", W2, 2, 2, 0, True),  # a.csv line 5 (Tue) and b.jsonl line 4 (Sun 23:59:59)
        ("u1", "s1", W3, 0, 0, 0, True),  # a.csv line 12 is unreadable; line 8 falls in the next week
        # u2, invited 2024-01-03 (users.csv line 3); a.csv line 11 predates that week
        ("u2", "s1", W1, 0, 0, 0, True),
        ("u2", "s1", W2, 1, 1, 1, True),  # a.csv line 6 (no offset means UTC); ticket t1
        ("u2", "s1", W3, 2, 2, 0, True),  # b.jsonl lines 1 and 3; line 2 repeats line 1 whole
        # u3, invited 2024-01-10T00:00+02:00 = 2024-01-09 22:00 UTC, deactivated 2024-01-20
        ("u3", "s2", W2, 0, 0, 0, True),
        ("u3", "s2", W3, 1, 1, 0, False),  # a.csv line 7; deactivated before the week ended
        # u6, invited 2024-01-16 (users.csv line 7), never used it
        ("u6", "s2", W3, 0, 0, 0, True),
    ]


def test_site_weeks(tiny_db: Path) -> None:
    got = rows(tiny_db, "select site_id, week, users, active_users, events, tickets from site_weeks order by all")
    assert got == [
        ("s1", W1, 2, 1, 2, 0),  # u1, u2 enrolled; only u1 active
        ("s1", W2, 2, 2, 3, 1),  # u1 2 events + u2 1; ticket t1 (tickets.jsonl line 1)
        ("s1", W3, 2, 1, 2, 0),  # u2's two search events
        ("s2", W2, 1, 0, 0, 0),  # go-live 2024-01-08; u3 invited that week
        ("s2", W3, 1, 0, 1, 1),  # u6 enrolled; u3's event counts, u3 no longer enrolled; t2 site ticket
        ("s3", W3, 0, 0, 0, 0),  # go-live 2024-01-15, no users
    ]


def test_quarantine_reasons(tiny_db: Path) -> None:
    got = rows(
        tiny_db,
        "select regexp_extract(source_file, 'tiny/(.*)$', 1), row_number, reason from quarantine order by all",
    )
    first_defined = {(file, row): reason for file, row, reason in got if reason.startswith("duplicate")}
    assert [row for row in got if not row[2].startswith("duplicate")] == [
        ("events/a.csv", 9, "user_id u9 is not in the users input"),
        ("events/a.csv", 10, "timestamp 'yesterday' is not an ISO 8601 timestamp"),
        ("events/a.csv", 11, "timestamp 2023-12-20 10:00:00 is before the week the user was invited "
                             "(2024-01-03 00:00:00)"),
        ("events/a.csv", 12, "unreadable row: too many columns (Expected Number of Columns: 5 Found: 6)"),
        ("events/a.csv", 13, "timestamp 2030-01-01T00:00:00Z is in the future (after the build started)"),
        ("sites.csv", 6, "licensed_seats -2 is negative"),
        ("tickets.jsonl", 3, "ticket has neither user_id nor site_id"),
        ("tickets.jsonl", 4, "unreadable row: not a JSON object"),
        ("trainings.csv", 5, "session_date '2024-01-32' is not a YYYY-MM-DD date"),
        ("trainings.csv", 6, "site_id s7 is not in the sites input"),
        ("users.csv", 5, "site_id s9 is not in the sites input"),
        ("users.csv", 6, "invited_at 'not-a-date' is not an ISO 8601 timestamp"),
        ("users.csv", 8, "user_id is missing"),
    ]
    # a repeated id names the row that defined it first
    assert sorted(first_defined) == [("sites.csv", 5), ("tickets.jsonl", 5)]
    assert first_defined["sites.csv", 5].startswith("duplicate site_id s1 (first defined at ")
    assert first_defined["sites.csv", 5].endswith("tiny/sites.csv row 2)")
    assert first_defined["tickets.jsonl", 5].startswith("duplicate ticket_id t1 (first defined at ")
    assert first_defined["tickets.jsonl", 5].endswith("tiny/tickets.jsonl row 1)")


def test_counts_reconcile(tiny_db: Path) -> None:
    # rows read: sites 5 + users 7 + a.csv 12 + b.jsonl 4 + tickets 5 + trainings 5 = 38
    [(loaded, quarantined, duplicates)] = rows(
        tiny_db, "select rows_loaded, rows_quarantined, duplicate_events from build_runs"
    )
    assert (loaded, quarantined) == (23, 15)
    assert duplicates == 2  # a.csv line 4 (event_id e2 again) and b.jsonl line 2 (whole row again)


def test_core_keeps_site_only_tickets_and_attendance(tiny_db: Path) -> None:
    assert rows(tiny_db, "select ticket_id, user_id, site_id from core.tickets order by all") == [
        ("t1", "u2", "s1"),  # tickets.jsonl line 1: the user's site
        ("t2", None, "s2"),  # line 2: belongs to the site
    ]
    assert rows(tiny_db, "select user_id, attended, is_site_session from core.trainings order by all") == [
        ("u1", True, False),  # trainings.csv line 3
        ("u2", False, False),  # line 4: invited, did not attend
        (None, True, True),  # line 2: a whole-site session
    ]
