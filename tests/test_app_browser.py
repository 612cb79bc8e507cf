"""Each page renders in headless Chromium with no console errors; screenshots are kept."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, served


@pytest.fixture(scope="module")
def page_factory():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_overview_renders_without_console_errors(tiny_db: Path, page_factory) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with served(tiny_db) as url:
        page = page_factory.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url + "/")
        page.get_by_text("Data as of the week of 15 Jan 2024").wait_for(timeout=20_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
        assert errors == []
