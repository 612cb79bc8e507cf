"""What the page tests share: a real `adoption serve` process and headless Chromium for
end-to-end tests, the small demo databases they serve, and the app in-process with a
request context, so that layouts and callbacks can be called as plain functions."""
from __future__ import annotations

import functools
import importlib
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest
from dash import Dash
from dash.development.base_component import Component

from dashboards.access import scope_to_sites
from tests.support import ADOPTION, TESTS
from tests.support.demos import built_demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = TESTS / "artifacts"


def require(*paths: Path) -> None:
    """Skip when a system part the test drives is missing; under `make test`
    (ADOPTION_REQUIRE_BROWSER) fail instead, since `make browser` installs them."""
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        message = f"{', '.join(missing)} missing: `make browser` installs Debian's chromium and faketime"
        if os.environ.get("ADOPTION_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(db: Path, *extra: str, needs_auth: bool = False) -> Iterator[str]:
    """Serve db in a child process; yield its base URL once it answers (a 401 counts when
    the server was started with sign-in)."""
    port = free_port()
    process = subprocess.Popen(
        [ADOPTION, "serve", "--db", str(db), "--port", str(port), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/_dash-layout", timeout=2).read()
                break
            except urllib.error.HTTPError as error:
                if needs_auth and error.code == 401:
                    break
                raise
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: {process.stdout.read()}") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


# The tables later build stages add. Page tests replace them with the stand-ins below,
# so that expected values do not move when a model changes, and also drop them, since
# every page must say in plain words that they are missing.
LATER_TABLES = ("site_health", "training_effect", "training_tests", "training_survival")
DEMO_USERS, DEMO_SITES, DEMO_SEED = 800, 12, 7
# Stand-in data that a page must show as text, never run: markup in a site name, a
# formula in a role (which the outreach CSV must defuse), markup in a ticket category
# (which a chart must show as written).
MARKUP_NAME = "<b>Bold</b> *Clinic* [link](http://example.invalid)"
MARKUP_CATEGORY = "<b>bold</b> category"
FORMULA_ROLE = "=HYPERLINK(\"http://example.invalid\",\"x\")"


def page_dbs(base: Path) -> dict[str, Path]:
    """The three files the page tests read, built once per test session under `base`:
    `built` (every stage there is), `full` (later tables as stand-ins), `bare` (without them)."""
    folder = base / "pages"
    folder.mkdir(exist_ok=True)
    built = demo_db(folder)
    return {
        "built": built,
        "full": with_stand_ins(built, folder / "full.duckdb"),
        "bare": without_later_tables(built, folder / "bare.duckdb"),
    }


def demo_db(folder: Path) -> Path:
    """The demo built with every stage there is, once per folder (test session)."""
    db = folder / "adoption.duckdb"
    return db if db.exists() else built_demo(folder, DEMO_USERS, DEMO_SITES, DEMO_SEED)


def without_later_tables(source: Path, target: Path) -> Path:
    """A copy of `source` as a build before the site-health and training stages left it."""
    if not target.exists():
        shutil.copy(source, target)
        with duckdb.connect(str(target)) as con:
            for table in LATER_TABLES:
                con.execute(f"drop table if exists main.{table}")
    return target


def with_stand_ins(source: Path, target: Path) -> Path:
    """A copy of `source` whose later tables are contract-shaped stand-ins: site health
    scored from the file's own users (so the worst site has quiet users), and hand-made
    training estimates whose every value a test can name. The worst site's name holds
    markup and one of its quiet users' role a formula."""
    if not target.exists():
        without_later_tables(source, target)
        with duckdb.connect(str(target)) as con:
            con.execute(STAND_IN_SITE_HEALTH)
            con.execute(STAND_IN_TRAINING_EFFECT)
            con.execute(STAND_IN_TRAINING_TESTS)
            con.execute(STAND_IN_TRAINING_SURVIVAL)
            [(worst,)] = con.execute(
                "select site_id from site_health order by list_position(['high', 'medium', 'low'], risk), "
                "health_score, site_id limit 1"
            ).fetchall()
            con.execute("update site_health set name = $name where site_id = $site",
                        {"name": MARKUP_NAME, "site": worst})
            con.execute("update core.sites set site_name = $name where site_id = $site",
                        {"name": MARKUP_NAME, "site": worst})
            con.execute(
                "update user_status set role = $role where user_id = (select min(user_id) from user_status "
                "where site_id = $site and status in ('quiet', 'silent_churn'))",
                {"role": FORMULA_ROLE, "site": worst},
            )
            con.execute(
                "update core.tickets set category = $category where ticket_id = (select max_by(ticket_id, created_at) "
                "from core.tickets where site_id = $site and created_at < (select as_of + 7 from build_runs "
                "order by finished_at desc limit 1))",
                {"category": MARKUP_CATEGORY, "site": worst},
            )
    return target


STAND_IN_SITE_HEALTH = """
create table site_health as
with latest as (
    select site_id, users, active_users from site_weeks where week = (select max(week) from site_weeks)
),
statuses as (
    select
        site_id,
        max(as_of) as as_of,
        count(*) filter (where status = 'quiet') as quiet_users,
        count(*) filter (where status = 'silent_churn') as silent_churn_users,
        count(*) filter (where status = 'never_activated') as never_activated_users,
        avg(trained::int) as trained_share
    from user_status
    group by site_id
),
scored as (
    select
        sites.site_id,
        coalesce(sites.site_name, sites.site_id) as name,
        sites.owner,
        statuses.as_of,
        sites.licensed_seats,
        latest.users,
        latest.active_users,
        latest.active_users / nullif(sites.licensed_seats, 0) as adoption_rate,
        statuses.quiet_users,
        statuses.silent_churn_users,
        statuses.never_activated_users,
        0.1 as tickets_per_active_user,
        statuses.trained_share,
        greatest(0, round(100 * latest.active_users / nullif(sites.licensed_seats, 0)
              - 200 * (statuses.quiet_users + statuses.silent_churn_users) / nullif(latest.users, 0), 1))
            as health_score
    from core.sites as sites
    join latest on sites.site_id = latest.site_id
    join statuses on sites.site_id = statuses.site_id
)
select
    *,
    case when health_score < 30 then 'high' when health_score < 50 then 'medium' else 'low' end as risk,
    concat_ws('; ',
        case when adoption_rate < 0.6 then 'few seats in use' end,
        case when silent_churn_users > 0 then silent_churn_users || ' silently churned' end,
        case when quiet_users > 0 then quiet_users || ' quiet' end) as drivers
from scored
"""

# As metrics/training/training_effect.py writes them: pre-training weeks near zero, an
# effect building to +8 points; the overall effect +6.1 points (3.2 to 9.0); naive and
# TWFE biased low.
STAND_IN_TRAINING_EFFECT = """
create table training_effect as
select
    'weekly_active_rate' as outcome,
    e as event_week,
    case when e < 0 then 0.002 * (e % 3 - 1) else least(0.02 + 0.005 * e, 0.08) end::double as estimate,
    estimate - 0.03 as ci_low,
    estimate + 0.03 as ci_high,
    case when e > 8 then 6 else 10 end as n_units,
    'callaway_santanna' as method
from range(-8, 13) as weeks(e)
union all
select * from (values
    ('weekly_active_rate', null::bigint, 0.061::double, 0.032::double, 0.090::double, 10, 'callaway_santanna'),
    ('weekly_active_rate', null, -0.020, -0.050, 0.010, 12, 'naive_difference'),
    ('weekly_active_rate', null, 0.020, 0.001, 0.039, 12, 'twfe')
)
"""

# As metrics/training/training_tests.py writes them: a pre-trend p of 0.42; a hazard
# ratio of going silent of 0.62 (0.48 to 0.80).
STAND_IN_TRAINING_TESTS = """
create table training_tests as
select * from (values
    ('pretrend_joint_test', 1.02::double, 0.42::double, null::double, null::double, 12::bigint, 'pretrend_wald_f'),
    ('silent_churn_hazard_ratio', 0.62, 0.0003, 0.48, 0.80, 800, 'cox_phreg_site_effects')
) as tests(test, statistic, p_value, ci_low, ci_high, n_units, method)
"""

STAND_IN_TRAINING_SURVIVAL = """
create table training_survival as
select
    "group",
    week,
    exp(-rate * week) as survival,
    greatest(exp(-rate * week) - 0.04, 0) as ci_low,
    least(exp(-rate * week) + 0.04, 1) as ci_high,
    (n0 * exp(-rate * week))::bigint as n_at_risk
from (values ('trained', 0.010, 400), ('not_yet_trained', 0.025, 400)) as groups("group", rate, n0),
    range(0, 27) as weeks(week)
"""


@functools.cache
def page_app() -> Dash:
    """The app, created once per test process: creating it imports the page modules."""
    from app import create_app

    app = create_app(Path("no-file-yet.duckdb"))
    # Dash hands the callbacks the page modules registered to the first app that answers a
    # request: make it this one, before any other app in the test process does
    app.server.test_client().get("/_dash-dependencies")
    return app


def page_callbacks() -> list[dict]:
    """Every callback of the pages, as the app serves them (read from the app: Dash's global list
    is emptied by the first app that answers a request)."""
    return list(page_app().callback_map.values())


def page_module(name: str) -> ModuleType:
    """A page module as the app loaded it (`overview`, `site`, ...)."""
    page_app()
    return importlib.import_module(f"dashboards.pages.{name}")


@contextmanager
def request_for(db: Path, sites: list[str] | None = None) -> Iterator[Dash]:
    """A request to the app over `db` by a viewer who may see `sites` (None: all)."""
    app = page_app()
    app.server.config["ADOPTION_DB"] = str(db)
    scope_to_sites(app, sites)
    with app.server.test_request_context("/"):
        yield app


def walk(tree: Any) -> Iterator[Any]:
    """Every component and string in a layout, depth first."""
    yield tree
    if isinstance(tree, (list, tuple)):
        for item in tree:
            yield from walk(item)
    elif isinstance(tree, Component):
        yield from walk(getattr(tree, "children", None))
        for prop in ("items", "title", "label"):
            value = getattr(tree, prop, None)
            if isinstance(value, Component):
                yield from walk(value)


def find(tree: Any, id: str) -> Component:
    """The component with this id; fails the test when there is none."""
    for node in walk(tree):
        if isinstance(node, Component) and getattr(node, "id", None) == id:
            return node
    raise AssertionError(f"no component with id {id!r}")


def ids(tree: Any) -> set[str]:
    return {node.id for node in walk(tree)
            if isinstance(node, Component) and isinstance(getattr(node, "id", None), str)}


def text(tree: Any) -> str:
    """The words a reader sees (strings and numbers in children), space separated."""
    return " ".join(str(node) for node in walk(tree) if isinstance(node, (str, int, float)))
