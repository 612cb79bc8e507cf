"""The analysts' worked notebook runs clean on a demo build while the app serves it."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support import ROOT
from tests.support.demos import DemoCache
from tests.support.serving import served

NOTEBOOK = ROOT / "notebooks" / "cohorts.ipynb"


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_db(demos: DemoCache) -> Path:
    return demos(seed=23, users=1200, sites=20).db  # the quiet-user tests' demo; the notebook only reads it


def test_notebook_runs_while_the_app_serves_the_file(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("ADOPTION_DB", str(demo_db))
    with served(demo_db):
        NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    figures = [o for cell in notebook.cells for o in cell.get("outputs", []) if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) == 4  # retention by cohort, by role, training before/after, the journey by role
    tables = [o["data"]["text/plain"] for cell in notebook.cells for o in cell.get("outputs", []) if "text/plain" in o.get("data", {})]
    assert any("went_quiet" in table for table in tables)
    assert any("first_value_rate" in table for table in tables)
