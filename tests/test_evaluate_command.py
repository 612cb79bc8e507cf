"""`adoption evaluate` as a user runs it: its numbers agree with the file and the planted truth."""
from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.conftest import adoption, built_demo, rows

SILENT = ["silent_stop", "silent_fade"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("evaluate")
    built_demo(folder, users=1200, sites=20, seed=23)
    return folder


def _row(output: str, method: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(f"│ {method}"))
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_evaluate_prints_what_the_file_and_the_truth_say(demo: Path) -> None:
    result = adoption("evaluate", "--input", str(demo / "input"), "--db", str(demo / "adoption.duckdb"))
    assert result.returncode == 0, result.stderr
    truth = pl.read_csv(demo / "input" / "truth.csv", schema_overrides={"drop_week": pl.String})
    status = pl.DataFrame(rows(demo / "adoption.duckdb", "select user_id, status from user_status"),
                          schema=["user_id", "status"], orient="row")
    joined = truth.join(status, on="user_id")
    flagged = joined.filter(pl.col("status").is_in(["quiet", "silent_churn"]))
    true_positives = flagged["kind"].is_in(SILENT).sum()
    droppers = joined["kind"].is_in(SILENT).sum()

    _, n_flagged, precision, recall, delay, by_kind, detected = _row(result.stdout, "ours")
    assert int(n_flagged) == flagged.height
    assert float(precision) == pytest.approx(true_positives / flagged.height, abs=5e-4)
    assert float(recall) == pytest.approx(true_positives / droppers, abs=5e-4)
    assert detected.endswith(f"of {droppers:,}")
    stops, fades = (float(weeks) for weeks in by_kind.split(" / "))
    assert 0 <= stops <= fades <= 12  # drops are planted 4-12 weeks back; stops are the quicker to see

    rule = _row(result.stdout, "30-day")
    assert float(rule[3]) < float(recall)  # the rule misses the fades
    assert float(rule[2]) < float(precision)  # and flags light users who are fine


def test_evaluate_without_truth_is_a_clear_error(demo: Path, tmp_path: Path) -> None:
    result = adoption("evaluate", "--input", str(tmp_path), "--db", str(demo / "adoption.duckdb"))
    assert result.returncode == 2
    assert "truth.csv" in result.stderr and "Traceback" not in result.stderr
