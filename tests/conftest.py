"""Session fixtures: the hand-made tiny input built once, and the demo cache.

The helpers themselves live in tests/support/.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.build import build
from tests.support import TINY
from tests.support.demos import DemoCache, fingerprint

pytest_plugins = ["pytester"]  # test_demo_cache runs a session inside the session


@pytest.fixture(scope="session")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tiny input built without models; shared, so read it only (copy_db to change it)."""
    db = tmp_path_factory.mktemp("tiny") / "tiny.duckdb"
    build(TINY, db)
    built = fingerprint(db)
    yield db
    assert fingerprint(db) == built, "a test wrote to the shared tiny_db: copy it first (tests.support.copy_db)"


@pytest.fixture(scope="session")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCache]:
    """`demos(seed=23, users=1200, sites=20)`: a demo's input and its file, built once per session."""
    cache = DemoCache(tmp_path_factory.mktemp("demos"))
    yield cache
    changed = cache.changed()
    assert not changed, f"tests wrote to shared demo files: {changed}; copy them first (tests.support.copy_db)"
