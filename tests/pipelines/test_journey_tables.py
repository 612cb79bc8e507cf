"""The hand-made journey input (tests/fixtures/journey), built: one user at every phase, and
every expected value names the rows that cause it.

Weeks start on Monday: W1 2024-03-04, W2 03-11, W3 03-18, W4 03-25, W5 04-01. The last event
(events.csv line 16, 2024-04-08) falls in W6, which has not ended: as_of is W5 and the window
ends 2024-04-08 00:00.
"""
from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

import metrics
from tests.support import FIXTURES, adoption, rows

JOURNEY = FIXTURES / "journey"
MARCH, APRIL = date(2024, 3, 1), date(2024, 4, 1)


def _build(folder: Path, db: Path) -> Path:
    result = adoption("build", "--input", str(folder), "--db", str(db))
    assert result.returncode == 0, result.stderr
    return db


@pytest.fixture(scope="module")
def journey_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(JOURNEY, tmp_path_factory.mktemp("journey") / "journey.duckdb")


@pytest.fixture(scope="module")
def without_features_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("no-features") / "input"
    shutil.copytree(JOURNEY, folder, ignore=shutil.ignore_patterns("features.csv"))
    return _build(folder, folder.parent / "journey.duckdb")


def test_every_user_reaches_the_phase_their_rows_say(journey_db: Path) -> None:
    got = rows(journey_db, "select user_id, activated_at, first_value_at, habitual_at, phase, is_pending, "
                           "tickets_before_activation, tickets_before_first_value from user_journey order by user_id")
    t = datetime
    assert got == [
        # events.csv line 2 is a save, a key action (features.csv line 3); active W1, W2, W3 (lines 2-4):
        # habitual at the first event of W3; still active at as_of (line 6, W5)
        ("j1", t(2024, 3, 4, 10), t(2024, 3, 4, 10), t(2024, 3, 19, 10), "still_active", False, 0, 0),
        # the same journey (lines 7-9), but deactivated 2024-04-05 (users.csv line 3): habitual, not still active
        ("j2", t(2024, 3, 4, 11), t(2024, 3, 4, 11), t(2024, 3, 20, 10), "habitual", False, 0, 0),
        # first use line 10, first key action line 11 (W2); no event after: 56 days to become habitual not up
        ("j3", t(2024, 3, 5, 10), t(2024, 3, 12, 11), None, "first_value", True, 0, 0),
        # only opens (lines 12-14): its 28 days to a key action ended 2024-04-02; ticket k2 (tickets.csv line 3)
        ("j4", t(2024, 3, 5, 10), None, None, "activated", False, 0, 1),
        # invited 2024-03-06 (users.csv line 6), never used it, ticket k1 (tickets.csv line 2) before any use
        ("j5", None, None, None, "invited", False, 1, 1),
        # invited 2024-04-03 (users.csv line 7): still in time to activate
        ("j6", None, None, None, "invited", True, 0, 0),
        # a search only (line 15): not a key action
        ("j7", t(2024, 3, 4, 12), None, None, "activated", False, 0, 0),
    ]


def test_a_second_mapping_of_an_event_name_is_quarantined(journey_db: Path) -> None:
    got = rows(journey_db, "select row_number, reason from quarantine where source_file like '%features.csv'")
    assert got == [(5, f"event_name save is already mapped by row 3 of {JOURNEY / 'features.csv'}")]


def test_the_funnel_counts_users_still_in_time_as_pending(journey_db: Path) -> None:
    got = rows(journey_db, "select site_id, role, invite_month, invited, activated, first_value, habitual, "
                           "still_active, activation_pending, first_value_pending, habitual_pending, activation_rate, "
                           "first_value_rate, habitual_rate, activation_complete, first_value_complete, "
                           "habitual_complete from journey_funnel order by all")
    assert got == [
        # j3, j4, j5: j5 failed to activate; j4 failed to reach first value; j3 still in time to become habitual
        ("s1", "clinician", MARCH, 3, 2, 1, 0, 0, 0, 0, 1, 2 / 3, 1 / 2, None, True, True, False),
        # j6 was invited 5 days before the window ended: pending, so no activation rate yet
        ("s1", "clinician", APRIL, 1, 0, 0, 0, 0, 1, 0, 0, None, None, None, False, False, False),
        # j1 and j2; j2 is deactivated
        ("s1", "nurse", MARCH, 2, 2, 2, 2, 1, 0, 0, 0, 1.0, 1.0, 1.0, True, True, True),
        ("s2", "admin", MARCH, 1, 1, 0, 0, 0, 0, 0, 0, 1.0, 0.0, None, True, True, True),
    ]


def test_the_funnel_counts_tickets_by_the_phase_they_were_filed_in(journey_db: Path) -> None:
    got = dict(((site, role, month), tickets) for site, role, month, tickets in rows(
        journey_db, "select site_id, role, invite_month, tickets_per_user_by_phase from journey_funnel"))
    # k1 (j5, before any use), k2 (j4, after first use), k3 (j1, 2024-03-21: habitual since 03-19)
    assert got[("s1", "clinician", MARCH)] == [
        {"phase": "invited", "category": "login", "tickets": 1, "per_user": 1 / 3},
        {"phase": "activated", "category": "how_to", "tickets": 1, "per_user": 1 / 3},
    ]
    assert got[("s1", "nurse", MARCH)] == [{"phase": "habitual", "category": "bug", "tickets": 1, "per_user": 0.5}]
    assert got[("s2", "admin", MARCH)] == []


def test_median_days_per_step(journey_db: Path) -> None:
    got = rows(journey_db, "select median_days_to_activation, median_days_to_first_value, median_days_to_habitual "
                           "from journey_funnel where site_id = 's1' and role = 'nurse'")
    # both invited 09:00 and active at 10:00 / 11:00 (1.5 h); first use was a key action; habitual 15 days
    # 0 h and 15 days 23 h later
    assert got == [pytest.approx((1.5 / 24, 0.0, (15 * 24 + 0 + 15 * 24 + 23) / 2 / 24))]


def test_feature_adoption_against_the_portfolio(journey_db: Path) -> None:
    got = rows(journey_db, "select site_id, feature, users, users_recent, share_recent, users_before, share_before, "
                           "portfolio_share from feature_adoption order by all")
    assert got == [
        # seats at the window's end: j1, j3, j4, j5, j6 (j2 left 04-05); Charting in W2-W5 by j1, j3, j4;
        # seats on 03-11: j1-j5, of whom j1, j2 (save), j3, j4 (open) used Charting in W1
        ("s1", "Charting", 5, 3, 0.6, 5, 0.8, 0.5),
        ("s1", "Search", 5, 0, 0.0, 5, 0.0, 0.0),
        ("s2", "Charting", 1, 0, 0.0, 1, 0.0, 0.5),
        # j7 searched in W1 only (line 15)
        ("s2", "Search", 1, 0, 0.0, 1, 1.0, 0.0),
    ]


def test_without_features_first_value_is_not_defined(without_features_db: Path) -> None:
    journey = rows(without_features_db, "select user_id, first_value_at, habitual_at, phase, "
                                        "tickets_before_first_value from user_journey where user_id in ('j1', 'j3')")
    # habitual counts from the week of activation instead: j3 was active in W1 and W2 only
    assert journey == [("j1", None, datetime(2024, 3, 19, 10), "still_active", None),
                       ("j3", None, None, "activated", None)]
    funnel = rows(without_features_db, "select first_value, first_value_pending, first_value_rate, "
                                       "first_value_complete from journey_funnel")
    assert set(funnel) == {(None, None, None, None)}
    assert rows(without_features_db, "select count(*) from feature_adoption") == [(0,)]


def test_the_notebook_adds_the_funnel_up_by_any_key(journey_db: Path) -> None:
    with duckdb.connect(str(journey_db), read_only=True) as con:
        by_site = metrics.journey_funnel(con, by="site_id")
        by_role = metrics.journey_funnel(con, by=["role"], sites=["s1"])
        with pytest.raises(ValueError, match="by must be among"):
            metrics.journey_funnel(con, by="week")
    assert by_site.select("site_id", "invited", "activated", "first_value", "activation_pending").rows() == [
        ("s1", 6, 4, 3, 1), ("s2", 1, 1, 0, 0)]
    # s1 clinicians: 2 of 3 past their window activated (j6 pending); 1 of 2 reached first value
    assert by_role.select("role", "activation_rate", "first_value_rate").rows() == [
        ("clinician", 2 / 3, 1 / 2), ("nurse", 1.0, 1.0)]
