"""A CSM's morning in headless Chromium against a real `adoption serve --auth --reviews`: sign in,
open /queue, mark one flag contacted and snooze another; both leave at once, stay reviewed after
a rebuild (a later --as-of) and a restart, and the snoozed one comes back when its date passes.

The date passes on the server's clock: the last restart runs under libfaketime eight days ahead
(`faketime` from Debian), since a snooze counts from today's date, not the build's."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from metrics.reviews.store import ReviewStore
from tests.support import ADOPTION, adoption, rows
from tests.support.serving import ARTIFACTS, require, served

pytestmark = pytest.mark.slow
TIMEOUT = 20_000
CSM, PASSWORD = "csm0@vendor.example", "morning-pass"
EARLY, LATER = "2026-10-26", "2026-11-09"  # the demo's data runs to the week of 9 Nov 2026
FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
# csm0's silently churned flags (they cannot get worse, so only the date brings a snooze back)
STILL_FLAGGED = ("select u.user_id, strftime(u.drop_week, '%Y-%m-%d') from user_status u join core.sites s "
                 "using (site_id) where s.owner = ? and u.status = 'silent_churn' order by u.user_id")




def build(demo_input: Path, db: Path, store: Path, as_of: str | None) -> None:
    result = adoption("build", "--input", str(demo_input), "--db", str(db), "--reviews", str(store),
                      *(["--as-of", as_of] if as_of else []))
    assert result.returncode == 0, result.stderr


@contextmanager
def signed_in(browser: Browser, url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  http_credentials={"username": CSM, "password": PASSWORD})
    tab = context.new_page()
    tab.errors = []
    tab.on("console", lambda message: tab.errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    yield tab
    assert tab.errors == []
    context.close()


def queued_users(page: Page, url: str) -> list[str]:
    page.goto(url + "/queue")
    page.locator("h1", has_text="Your review queue").wait_for(timeout=TIMEOUT)
    cells = page.locator("#queue-grid .ag-center-cols-container [col-id='user_id']")
    cells.first.wait_for(timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")
    return cells.all_inner_texts()


def pick(page: Page, user: str) -> None:
    page.locator("#queue-grid .ag-center-cols-container [col-id='user_id']", has_text=user).click()


def test_a_csm_works_the_queue_and_reviews_survive_rebuild_and_restart(
        browser: Browser, demos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require(FAKETIME)
    demo = demos(seed=5, users=400, sites=10)
    db, store = tmp_path / "adoption.duckdb", tmp_path / "reviews.sqlite"
    build(demo.input, db, store, EARLY)
    both = set(rows(db, STILL_FLAGGED, [CSM])) & set(rows(demo.db, STILL_FLAGGED, [CSM]))  # demo.db: as of LATER
    (contacted, _), (snoozed, _) = sorted(both)[:2]
    hashed = subprocess.run([ADOPTION, "hash-password"], input=PASSWORD + "\n", capture_output=True, text=True,
                            check=True).stdout.strip()
    auth = tmp_path / "users.toml"
    auth.write_text(f'[users."{CSM}"]\npassword_hash = "{hashed}"\nrole = "csm"\n')
    serve = ("--auth", str(auth), "--reviews", str(store))

    with served(db, *serve, needs_auth=True) as url, signed_in(browser, url) as page:
        listed = queued_users(page, url)
        assert {contacted, snoozed} <= set(listed)
        pick(page, contacted)
        page.select_option("#queue-outcome", "reached_needs_training")
        page.get_by_role("button", name="Mark contacted").click()
        page.get_by_text("1 user contacted (reached, needs training).").wait_for(timeout=TIMEOUT)
        pick(page, snoozed)
        page.get_by_role("button", name="1 week").click()
        page.get_by_text("1 user snoozed until").wait_for(timeout=TIMEOUT)
        left = page.locator("#queue-grid .ag-center-cols-container [col-id='user_id']").all_inner_texts()
        assert contacted not in left and snoozed not in left
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)
    assert ReviewStore(store).actions().select("user_id", "action", "reviewer").rows() == [
        (contacted, "contacted", CSM), (snoozed, "snoozed", CSM)]

    build(demo.input, db, store, LATER)  # the rebuild: a later week, the store untouched
    assert rows(db, "select as_of::varchar from build_runs")[-1][0] == LATER
    with served(db, *serve, needs_auth=True) as url, signed_in(browser, url) as page:
        listed = queued_users(page, url)
        assert listed and contacted not in listed and snoozed not in listed

    monkeypatch.setenv("LD_PRELOAD", str(FAKETIME))
    monkeypatch.setenv("FAKETIME", "+8d")  # the server's clock a week and a day ahead: the snooze is over
    with served(db, *serve, needs_auth=True) as url:
        monkeypatch.delenv("LD_PRELOAD")
        with signed_in(browser, url) as page:
            listed = queued_users(page, url)
            assert snoozed in listed and contacted not in listed
            page.goto(url + "/sites")
            page.locator("#sites-new").wait_for(timeout=TIMEOUT)
