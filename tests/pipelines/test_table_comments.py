"""Every contract table and column is in the file and carries a COMMENT, and the README's
data dictionary is exactly what the file's comments say."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from metrics.readers.data_dictionary import markdown
from metrics.readers.store import reading
from tests.support import ROOT
from tests.support.demos import DemoCache

README = ROOT / "README.md"

# CONTRACT.md, "Output tables": at least these columns
CONTRACT = {
    "user_weeks": "user_id, site_id, week, events, active_days, tickets",
    "site_weeks": "site_id, week, users, active_users, events, tickets",
    "user_status": "user_id, site_id, role, as_of, status, last_active_at, baseline_rate, recent_rate, drop_week, "
                   "p_value, q_value, last_ticket_at, trained, reason",
    "site_health": "site_id, name, owner, as_of, licensed_seats, users, active_users, adoption_rate, quiet_users, "
                   "silent_churn_users, never_activated_users, tickets_per_active_user, trained_share, health_score, "
                   "risk, drivers",
    "training_effect": "outcome, event_week, estimate, ci_low, ci_high, n_units, method",
    "training_tests": "test, statistic, p_value, ci_low, ci_high, n_units, method",
    "quarantine": "source_file, row_number, reason, raw",
    "reviews": "user_id, drop_week, site_id, reviewer, action, outcome, snoozed_until, at",
    "build_runs": "run_id, started_at, finished_at, as_of, input_files, rows_loaded, rows_quarantined, status",
    "flag_backtest": "cut_week, method, horizon_weeks, flagged, came_back, gone_recall, median_weeks_silent_when_flagged",
    "user_journey": "user_id, site_id, role, invited_at, activated_at, first_value_at, habitual_at, phase, "
                    "tickets_before_activation, tickets_before_first_value",
    "journey_funnel": "site_id, role, invite_month, invited, activated, first_value, habitual, still_active, "
                      "median_days_to_activation, median_days_to_first_value, tickets_per_user_by_phase",
    "feature_adoption": "site_id, feature, as_of, users, users_recent, share_recent, share_before, portfolio_share",
}


@pytest.fixture(scope="module")
def demo_db(demos: DemoCache) -> Path:
    return demos(seed=5, users=400, sites=10).db


@pytest.mark.parametrize("table", CONTRACT)
def test_contract_table_and_columns_are_commented(demo_db: Path, table: str) -> None:
    with reading(demo_db) as con:
        [(table_comment,)] = con.execute(
            "select comment from duckdb_tables() where schema_name = 'main' and table_name = ?", [table]
        ).fetchall() or [(None,)]
        columns = dict(con.execute(
            "select column_name, comment from duckdb_columns() where schema_name = 'main' and table_name = ?", [table]
        ).fetchall())
    assert table_comment, f"{table} has no comment"
    assert set(CONTRACT[table].split(", ")) <= set(columns), f"{table} lacks contract columns"
    assert [c for c, comment in columns.items() if not comment] == [], f"{table} has uncommented columns"


def test_readme_data_dictionary_is_generated_from_the_comments(demo_db: Path) -> None:
    section = re.search(r"<!-- data-dictionary:start -->\n(.*?)<!-- data-dictionary:end -->", README.read_text(), re.S)
    assert section, "README has no generated data dictionary section"
    with reading(demo_db) as con:
        assert section.group(1) == markdown(con), "regenerate it: python -m metrics.readers.data_dictionary data/adoption.duckdb"
