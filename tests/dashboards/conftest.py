"""What the dashboards tests share: a store of each test's own for in-process pages (pages
write the access log on every view, never beside the working directory), and one headless
Chromium."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from dashboards.review_store import use_store
from tests.support.serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, page_app, require


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    require(Path(CHROMIUM))
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def reviews_path(tmp_path: Path) -> Path:
    """The store the in-process app writes to during this test."""
    path = tmp_path / "reviews.sqlite"
    use_store(page_app(), path)
    return path
