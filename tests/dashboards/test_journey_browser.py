"""`/journey` in headless Chromium against a real `adoption serve --auth`: an executive sees
every site's funnel, a CSM only their own sites (in the filters, the by-site table and the
feature gaps, and a link to another CSM's site filters nothing); the filters are a shareable
address; no console errors; every view is in the access log."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page

from metrics.reviews.store import ReviewStore
from tests.support import ADOPTION, rows
from tests.support.serving import ARTIFACTS, page_dbs, served

pytestmark = pytest.mark.slow
TIMEOUT = 20_000
PASSWORD = "journey-pass"
CSM, EXECUTIVE = "csm1@vendor.example", "exec@vendor.example"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return page_dbs(tmp_path_factory.getbasetemp())["built"]


@pytest.fixture(scope="module")
def server(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("journey-serve")
    hashed = subprocess.run([ADOPTION, "hash-password"], input=PASSWORD + "\n", capture_output=True, text=True,
                            check=True).stdout.strip()
    auth = folder / "users.toml"
    auth.write_text(f'[users."{CSM}"]\npassword_hash = "{hashed}"\nrole = "csm"\n'
                    f'[users."{EXECUTIVE}"]\npassword_hash = "{hashed}"\nrole = "executive"\n')
    store = folder / "reviews.sqlite"
    with served(db, "--auth", str(auth), "--reviews", str(store), needs_auth=True) as url:
        yield url, store


@contextmanager
def signed_in(browser: Browser, who: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  http_credentials={"username": who, "password": PASSWORD})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    assert errors == []
    context.close()


def visit(page: Page, address: str, charts: int) -> None:
    page.goto(address)
    page.locator("h1", has_text="Where adoption stops").wait_for(timeout=TIMEOUT)
    page.locator(".js-plotly-plot .main-svg").nth(charts - 1).wait_for(timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")


def site_options(page: Page) -> set[str]:
    return set(page.locator("#journey-site option").evaluate_all("options => options.map(o => o.value)")) - {"", "all"}  # placeholder, All


def linked_sites(page: Page, table: str) -> set[str]:
    hrefs = page.locator(f"#{table} a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return {href.split("site=")[1] for href in hrefs}


def test_an_executive_sees_every_site(browser: Browser, server: tuple[str, Path], db: Path) -> None:
    url, _ = server
    every = {site for (site,) in rows(db, "select distinct site_id from journey_funnel")}
    with signed_in(browser, EXECUTIVE) as page:
        visit(page, url + "/journey", 3)  # funnel, days per step, tickets by phase
        assert site_options(page) == every
        assert linked_sites(page, "journey-by-site") == every
        [(invited,)] = rows(db, "select sum(invited)::bigint from journey_funnel")
        assert page.locator("#journey-funnel").locator("..").get_by_text(f"Of {invited:,} users invited").count() == 1
        page.screenshot(path=str(ARTIFACTS / "journey.png"), full_page=True)


def test_a_csm_sees_only_their_sites_and_filters_by_address(browser: Browser, server: tuple[str, Path],
                                                            db: Path) -> None:
    url, store = server
    mine = {site for (site,) in rows(db, "select site_id from core.sites where owner = ?", [CSM])}
    other = rows(db, "select min(site_id) from core.sites where owner <> ?", [CSM])[0][0]
    with signed_in(browser, CSM) as page:
        visit(page, url + "/journey", 3)
        assert site_options(page) == mine
        assert linked_sites(page, "journey-by-site") <= mine
        assert linked_sites(page, "journey-features") <= mine
        [(invited,)] = rows(db, "select sum(invited)::bigint from journey_funnel where site_id in "
                                "(select site_id from core.sites where owner = ?)", [CSM])
        assert page.get_by_text(f"Of {invited:,} users invited").count() == 1

        # another CSM's site in the address filters nothing: the page reads as if it were not asked for
        visit(page, url + "/journey?" + urlencode({"site": other}), 3)
        assert page.locator("#journey-site").input_value() == "all"
        assert page.get_by_text(f"Of {invited:,} users invited").count() == 1

        # choose a site and a role, press Show: the address carries both, and the site's features are drawn
        site = sorted(mine)[0]
        page.locator("#journey-site").select_option(site)
        role = rows(db, "select min(role) from journey_funnel where site_id = ?", [site])[0][0]
        page.locator("#journey-role").select_option(role)
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(f"**/journey?site={site}&role={role}&cohort=all")
        page.locator(".js-plotly-plot .main-svg").nth(3).wait_for(timeout=TIMEOUT)  # + feature use
        [(invited_here,)] = rows(db, "select sum(invited)::bigint from journey_funnel where site_id = ? and role = ?",
                                 [site, role])
        assert page.get_by_text(f"Of {invited_here:,} users invited").count() == 1
        assert page.locator("#journey-site").input_value() == site

    log = ReviewStore(store).access_log()
    logged = log.filter((log["who"] == CSM) & (log["kind"] == "journey_view")).select("site_id", "detail").rows()
    assert logged == [(None, None), (None, None), (site, urlencode({"site": site, "role": role}))]
