"""The app in headless Chromium, as its users meet it: every page renders with no console
errors, and a customer success manager's morning works end to end. Screenshots of every
page go to tests/artifacts/ (gitignored) for a person to look at."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support import rows
from tests.support.serving import (
    ARTIFACTS,
    FORMULA_ROLE,
    MARKUP_CATEGORY,
    MARKUP_NAME,
    page_dbs,
    served,
)

pytestmark = pytest.mark.slow
TIMEOUT = 20_000
FLAGGED = "status in ('quiet', 'silent_churn')"


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return page_dbs(tmp_path_factory.getbasetemp())




@pytest.fixture(scope="module")
def url(dbs: dict[str, Path]) -> Iterator[str]:
    with served(dbs["full"]) as base:
        yield base


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab that records console errors; the test asserts there were none."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.errors = []
    tab.on("console", lambda message: tab.errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    yield tab
    context.close()


def worst_site(db: Path) -> str:
    [(site_id,)] = rows(db, "select site_id from site_health order by list_position(['high', 'medium', 'low'], risk), "
                            "health_score, site_id limit 1")
    return site_id


def visit(page: Page, address: str, heading: str, charts: int = 0) -> None:
    """Open a page and wait until its heading and its charts are drawn."""
    page.goto(address)
    page.locator("h1", has_text=heading).wait_for(timeout=TIMEOUT)
    if charts:
        page.locator(".js-plotly-plot .main-svg").nth(charts - 1).wait_for(timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_every_page_renders_without_console_errors(url: str, dbs: dict[str, Path], page: Page) -> None:
    worst = worst_site(dbs["full"])
    for path, name, heading, charts in [
        ("/", "overview", "Adoption across your sites", 3),
        ("/sites", "sites", "Sites by risk", 0),
        (f"/sites/{worst}", "site", MARKUP_NAME, 2),
        ("/training", "training", "What helps: training and outreach", 2),
        ("/journey", "journey", "Where adoption stops", 3),
        ("/data", "data", "The data behind these pages", 1),
        ("/sites/no-such-site", "site-not-found", "Site not found", 0),
        ("/no-such-page", "page-not-found", "Page not found", 0),
    ]:
        visit(page, url + path, heading, charts)
        assert page.get_by_text("Data as of the week of").count() == (0 if name == "page-not-found" else 1), path
        shot(page, name)
    assert page.errors == []


def test_a_csm_opens_the_worst_site_and_downloads_its_quiet_users(
    url: str, dbs: dict[str, Path], page: Page, tmp_path: Path
) -> None:
    full = dbs["full"]
    worst = worst_site(full)
    visit(page, url + "/sites", "Sites by risk")
    first = page.locator("#sites-table tbody tr").first.get_by_role("link")
    assert first.inner_text() == MARKUP_NAME
    first.click()
    page.wait_for_url(f"**/sites/{worst}")
    page.locator("h1", has_text=MARKUP_NAME).wait_for(timeout=TIMEOUT)
    assert page.locator("h1 b").count() == 0  # the markup in the name stayed text
    ticks = page.locator("#site-tickets .ytick text")
    ticks.first.wait_for(timeout=TIMEOUT)
    assert MARKUP_CATEGORY in ticks.all_text_contents()  # and in a chart label too

    expected = rows(full, f"select user_id, role, status, strftime(drop_week, '%Y-%m-%d'), reason from user_status "
                          f"where site_id = ? and {FLAGGED} order by drop_week, user_id", [worst])
    grid_users = page.locator("#site-users .ag-center-cols-container [col-id='user_id']")
    grid_users.nth(min(len(expected), 20) - 1).wait_for(timeout=TIMEOUT)
    assert grid_users.all_inner_texts() == [user for user, *_ in expected][:20]
    shot(page, "site-quiet-users")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download the outreach list (CSV)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    with saved.open(newline="") as file:
        got = [(r["user_id"], r["role"], r["status"], r["since_week"], r["reason"]) for r in csv.DictReader(file)]
    assert got == [(u, "'" + r if r == FORMULA_ROLE else r, s, w, why) for u, r, s, w, why in expected]
    page.get_by_text(f"Downloaded {len(expected)} users.").wait_for(timeout=TIMEOUT)
    assert page.errors == []


def test_filters_live_in_the_address_and_survive_a_reload(url: str, dbs: dict[str, Path], page: Page) -> None:
    [(high,)] = rows(dbs["full"], "select count(*) from site_health where risk = 'high'")
    visit(page, url + "/sites", "Sites by risk")
    page.get_by_label("Risk").select_option("high")  # found by its label: the control is labelled
    risks = page.locator("#sites-table tbody tr .badge")
    # a locator, not wait_for_function: the app's Content-Security-Policy forbids the eval that needs
    expect(page.locator("#sites-table tbody tr")).to_have_count(high, timeout=TIMEOUT)
    assert set(risks.all_inner_texts()) == {"high risk"}
    assert page.evaluate("window.location.search") == "?risk=high"

    page.reload()
    page.locator("#sites-table").wait_for(timeout=TIMEOUT)
    assert page.get_by_label("Risk").input_value() == "high"
    assert risks.count() == high and set(risks.all_inner_texts()) == {"high risk"}
    assert page.errors == []


def test_the_keyboard_skips_to_the_content(url: str, page: Page) -> None:
    visit(page, url + "/training", "What helps: training and outreach", 2)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the page content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#content') !== null")


def test_pages_say_plainly_what_an_earlier_build_lacks(browser: Browser, dbs: dict[str, Path], page: Page) -> None:
    with served(dbs["bare"]) as bare:
        for path, name, heading, notice in [
            ("/", "overview", "Adoption across your sites", "Risk scores are not in this build yet."),
            ("/sites", "sites", "Sites by risk", "Risk scores are not in this build yet"),
            ("/training", "training", "What helps: training and outreach", "has not been estimated in this build"),
        ]:
            visit(page, bare + path, heading)
            page.get_by_text(notice).first.wait_for(timeout=TIMEOUT)
            shot(page, f"without-later-tables-{name}")
    assert page.errors == []
