"""/training's "what helps" section: flagged users active again with and without outreach, from
the outreach_outcomes table the build writes, and the plain states of a file without it."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics.reviews.outcomes import outcome_rows
from tests.support.serving import find, page_dbs, page_module, request_for, text


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return page_dbs(tmp_path_factory.getbasetemp())


def render(db: Path):
    with request_for(db):
        return page_module("training").layout()


def with_outcomes(source: Path, target: Path) -> Path:
    """A copy whose outreach_outcomes come from 40 flags: 10 contacted (4 back), 30 not contacted (15
    back), among them a hold-back of 12 queued (9 back) against 12 held back (3 back)."""
    shutil.copy(source, target)
    flags = pl.DataFrame({
        "contact_week": [date(2026, 8, 3)] * 10 + [None] * 30,
        "outcome": ["no_answer"] * 6 + ["reached_will_resume"] * 4 + [None] * 30,
        "holdback_arm": [None] * 16 + ["in_queues"] * 12 + ["held_back"] * 12,
        "active_within_8_weeks": [True] * 2 + [False] * 4 + [True] * 2 + [False] * 2 + [True] * 3 + [False] * 3
                                 + [True] * 9 + [False] * 3 + [True] * 3 + [False] * 9,
    }, schema_overrides={"holdback_arm": pl.String, "outcome": pl.String})
    rows = outcome_rows(flags)
    with duckdb.connect(str(target)) as con:
        con.register("rows", rows.to_arrow())
        con.execute("create or replace table outreach_outcomes as select * from rows")
    return target


def test_the_section_shows_shares_intervals_the_caveat_and_the_holdback_effect(dbs: dict[str, Path],
                                                                                tmp_path: Path) -> None:
    training = page_module("training")
    tree = render(with_outcomes(dbs["built"], tmp_path / "outcomes.duckdb"))
    section = text(find(tree, training.TRAINING_OUTREACH))
    assert "What helps" in text(tree)
    chart = find(tree, training.TRAINING_OUTREACH_CHART).figure["data"][0]
    assert list(chart["y"]) == ["contacted", "contacted, no answer", "contacted, reached: will resume",
                                "not (yet) contacted"]
    assert list(chart["x"]) == pytest.approx([40.0, 100 / 3, 50.0, 50.0])  # not contacted: 3 + 9 + 3 of 30
    assert "4 of 10" in section and "CSMs choose whom to call" in section
    holdback = text(find(tree, training.TRAINING_HOLDBACK))
    assert holdback.startswith("Causal effect of outreach (randomised hold-back)")
    assert "75% of the time (9 of 12)" in holdback and "25% (3 of 12)" in holdback and "+50.0 percentage points" in holdback


def test_without_outcomes_the_section_says_so(dbs: dict[str, Path], tmp_path: Path) -> None:
    training = page_module("training")
    # the demo build found no reviews store: the table is there and empty
    assert "has been followed for 8 weeks yet" in text(find(render(dbs["built"]), training.TRAINING_OUTREACH))
    older = tmp_path / "older.duckdb"
    shutil.copy(dbs["built"], older)
    with duckdb.connect(str(older)) as con:
        con.execute("drop table outreach_outcomes")
    words = text(render(older))
    assert "outreach_outcomes table is missing" in words and "lacks a table or column" not in words
