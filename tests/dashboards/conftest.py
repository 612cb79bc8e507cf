"""Pages write to the reviews store on every view (the access log): in-process page tests get a
store of their own test's, never one beside the working directory."""
from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.review_store import use_store
from tests.support.serving import page_app


@pytest.fixture(autouse=True)
def reviews_path(tmp_path: Path) -> Path:
    """The store the in-process app writes to during this test."""
    path = tmp_path / "reviews.sqlite"
    use_store(page_app(), path)
    return path
