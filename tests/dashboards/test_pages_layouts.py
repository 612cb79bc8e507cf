"""Every page's layout and callbacks, called as plain functions inside a request, against
a small demo build: what a reader sees, checked against the tables it comes from.

`full` holds the later stages' tables as hand-made stand-ins (tests/support/serving.py), so the
expected sentences are exact; `bare` lacks them; `built` is whatever the build makes today.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from dash import no_update
from dash.development.base_component import Component
from plotly.utils import PlotlyJSONEncoder

from tests.support import rows
from tests.support.serving import (FORMULA_ROLE, MARKUP_NAME, find, ids, page_callbacks, page_dbs, page_module,
                                   request_for, text, walk)

UNREADABLE = "could not be read"
OUTDATED = "lacks a table or column"


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return page_dbs(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def full(dbs: dict[str, Path]) -> Path:
    return dbs["full"]


def render(db: Path, page_name: str, sites: list[str] | None = None, **url_args: str) -> Component:
    with request_for(db, sites):
        return page_module(page_name).layout(**url_args)


def worst_site(db: Path) -> str:
    [(site_id,)] = rows(db, "select site_id from site_health order by list_position(['high', 'medium', 'low'], risk), "
                            "health_score, site_id limit 1")
    return site_id


def table_rows(table: Component) -> list[list]:
    """The cells of a ui.table, row by row (each cell's component or text)."""
    body = next(node for node in walk(table) if type(node).__name__ == "Tbody")
    return [[cell.children for cell in row.children] for row in body.children]


def as_json(tree: Component) -> str:
    return json.dumps(tree, cls=PlotlyJSONEncoder, sort_keys=True)


# --- / -----------------------------------------------------------------------------------

def test_overview_states_the_build_and_the_portfolio(full: Path) -> None:
    overview = page_module("overview")
    tree = render(full, "overview")
    [(as_of, finished_at)] = rows(full, "select as_of, finished_at from build_runs order by finished_at desc limit 1")
    assert f"Data as of the week of {as_of:%d %b %Y}, built at {finished_at:%d %b %Y %H:%M} UTC." in text(tree)
    [(active, enrolled)] = rows(full, "select sum(active_users), sum(users) from site_weeks "
                                      "where week = (select max(week) from site_weeks)")
    [(high, sites)] = rows(full, "select count(*) filter (where risk = 'high'), count(*) from site_health")
    [(silent,)] = rows(full, "select count(*) from user_status where status = 'silent_churn'")
    kpis = text(find(tree, overview.OVERVIEW_KPIS))
    assert f"{active:,}" in kpis and f"of {enrolled:,} enrolled" in kpis
    assert f"{high} of {sites} sites are at high risk." in kpis
    assert f"{silent:,} stopped without a ticket" in kpis
    # the stand-in overall effect: +6.1 points (3.2 to 9.0) over 10 sites
    assert text(find(tree, overview.OVERVIEW_TRAINING)) == (
        "Training raised the share of enrolled users active each week by 6.1 percentage points "
        "(95% interval +3.2 to +9.0 points; 10 sites), from the training week on."
    )
    first = find(tree, overview.OVERVIEW_WORST).children[0].children[0]
    assert first.children == MARKUP_NAME  # a string child: Dash renders it as text
    assert first.href == f"/sites/{worst_site(full)}"


def test_overview_counts_only_the_sites_the_viewer_may_see(full: Path) -> None:
    overview = page_module("overview")
    [(site_id, active, enrolled)] = rows(full, "select site_id, active_users, users from site_weeks "
                                               "where week = (select max(week) from site_weeks) and site_id = 's003'")
    kpis = text(find(render(full, "overview", sites=[site_id]), overview.OVERVIEW_KPIS))
    assert f"of {enrolled:,} enrolled" in kpis and f" {active:,} " in f" {kpis} "
    assert "of 1 sites" in kpis


# --- /sites ------------------------------------------------------------------------------

def ranking(tree: Component) -> list[tuple[str, str]]:
    """(site href, risk words) per row of the ranked table."""
    sites = page_module("sites")
    return [(cells[1].href, cells[2].children) for cells in table_rows(find(tree, sites.SITES_TABLE))]


def test_sites_ranks_every_site_worst_first_with_a_link_into_each(full: Path) -> None:
    expected = rows(full, "select site_id, risk from site_health "
                          "order by list_position(['high', 'medium', 'low'], risk), health_score, site_id")
    assert ranking(render(full, "sites")) == [(f"/sites/{site}", f"{risk} risk") for site, risk in expected]


def test_sites_filters_come_from_the_query_string(full: Path) -> None:
    sites = page_module("sites")
    [(owner,)] = rows(full, "select min(owner) from core.sites")
    tree = render(full, "sites", risk="high", owner=[owner, "someone@else"])  # a repeated key: the first counts
    assert find(tree, sites.SITES_RISK).value == "high" and find(tree, sites.SITES_OWNER).value == owner
    expected = rows(full, "select site_id from site_health where risk = 'high' and owner = ? "
                          "order by health_score, site_id", [owner])
    assert ranking(tree) == [(f"/sites/{site}", "high risk") for (site,) in expected]
    # a value the viewer cannot choose filters nothing
    tree = render(full, "sites", risk="catastrophic", owner="nobody@example.invalid")
    assert find(tree, sites.SITES_RISK).value == "all" and len(ranking(tree)) == 12


def test_sites_filter_callback_gives_what_the_shared_link_gives(full: Path) -> None:
    sites = page_module("sites")
    with request_for(full):
        updated = sites.filter_sites("all", "all", "medium")
    assert ranking(updated) == ranking(render(full, "sites", risk="medium"))


def test_sites_filter_callback_keeps_to_the_viewers_sites(full: Path) -> None:
    sites = page_module("sites")
    with request_for(full, sites=["s001", "s004"]):
        updated = sites.filter_sites("all", "all", "all")
    assert sorted(href for href, _ in ranking(updated)) == ["/sites/s001", "/sites/s004"]


def test_sites_come_a_page_at_a_time_with_the_filters_kept(full: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sites = page_module("sites")
    monkeypatch.setattr(sites, "PAGE_SIZE", 5)
    every = [(f"/sites/{site}", f"{risk} risk") for site, risk in rows(
        full, "select site_id, risk from site_health order by list_position(['high', 'medium', 'low'], risk), "
              "health_score, site_id")]
    second = render(full, "sites", page="2")
    assert ranking(second) == every[5:10]
    assert "Sites 6–10 of 12, worst first." in text(second)
    pager = find(second, sites.SITES_PAGER)
    assert [link.href for link in walk(pager) if type(link).__name__ == "Link"] == ["/sites?page=1", "/sites?page=3"]
    [(owner,)] = rows(full, "select owner from site_health group by owner order by count(*) desc, owner limit 1")
    filtered = find(render(full, "sites", owner=owner, page="9"), sites.SITES_PAGER)  # past the end: the last page
    assert [link.href for link in walk(filtered) if type(link).__name__ == "Link"][0] == (
        f"/sites?owner={owner.replace('@', '%40')}&page=1")


def test_sites_controls_are_labelled(full: Path) -> None:
    tree = render(full, "sites")
    labels = {node.html_for for node in walk(tree) if type(node).__name__ == "Label"}
    selects = {node.id for node in walk(tree) if type(node).__name__ == "Select"}
    assert selects and selects <= labels


# --- /sites/<site_id> --------------------------------------------------------------------

def test_site_lists_its_quiet_and_silently_churned_users(full: Path) -> None:
    site = page_module("site")
    worst = worst_site(full)
    tree = render(full, "site", site_id=worst)
    grid = find(tree, site.SITE_USERS)
    expected = rows(full, "select user_id, strftime(drop_week, '%Y-%m-%d'), reason, "
                          "coalesce(feature_stopped_first, '') from user_status "
                          "where site_id = ? and status in ('quiet', 'silent_churn') order by drop_week, user_id",
                    [worst])
    assert expected, "the worst site of the demo has quiet users"
    assert any(feature for *_, feature in expected), "and some stopped a feature first: what to train on"
    assert [(r["user_id"], r["drop_week"], r["reason"], r["feature_stopped_first"]) for r in grid.rowData] == expected
    assert {r["status"] for r in grid.rowData} <= {"quiet", "silently churned"}
    assert FORMULA_ROLE in {r["role"] for r in grid.rowData}  # shown as it is, never evaluated
    heading = next(node for node in walk(tree) if type(node).__name__ == "H1")
    assert heading.children == MARKUP_NAME


def test_site_shows_recent_tickets_and_training(full: Path) -> None:
    site = page_module("site")
    worst = worst_site(full)
    tree = render(full, "site", site_id=worst)
    latest = rows(full, "select ticket_id from core.tickets where site_id = ? and created_at < "
                        "(select as_of + 7 from build_runs order by finished_at desc limit 1) "
                        "order by created_at desc limit 10", [worst])
    assert len(table_rows(find(tree, site.SITE_TICKET_LIST))) == len(latest) > 0
    [(sessions,)] = rows(full, "select count(distinct (session_date, kind)) from core.trainings where site_id = ?",
                         [worst])
    assert len(table_rows(find(tree, site.SITE_TRAINING))) == sessions > 0


def test_site_id_from_the_address_is_decoded(full: Path) -> None:
    worst = worst_site(full)
    encoded = "".join(f"%{ord(c):02X}" for c in worst)  # what a browser may send
    assert as_json(render(full, "site", site_id=encoded)) == as_json(render(full, "site", site_id=worst))


def test_a_hidden_site_reads_exactly_like_a_missing_one(full: Path) -> None:
    worst = worst_site(full)
    hidden = render(full, "site", sites=["s000"], site_id=worst)
    missing = render(full, "site", sites=["s000"], site_id="no-such-site")
    assert "Site not found" in text(hidden)
    assert as_json(hidden) == as_json(missing)


def test_outreach_csv_holds_the_sites_flagged_users_defused(full: Path) -> None:
    site = page_module("site")
    worst = worst_site(full)
    with request_for(full):
        download, status = site.download_outreach(1, worst)
    [(as_of,)] = rows(full, "select as_of from build_runs order by finished_at desc limit 1")
    assert download["filename"] == f"outreach-{worst}-{as_of:%Y-%m-%d}.csv"
    got = list(csv.DictReader(io.StringIO(download["content"])))
    expected = rows(full, "select user_id, role, status, strftime(drop_week, '%Y-%m-%d'), reason from user_status "
                          "where site_id = ? and status in ('quiet', 'silent_churn') order by drop_week, user_id",
                    [worst])
    defused = [(u, "'" + r if r == FORMULA_ROLE else r, s, w, why) for u, r, s, w, why in expected]
    assert [(r["user_id"], r["role"], r["status"], r["since_week"], r["reason"]) for r in got] == defused
    assert {r["site_name"] for r in got} == {MARKUP_NAME}
    assert status == f"Downloaded {len(expected)} users."


def test_outreach_csv_of_a_hidden_site_is_refused(full: Path) -> None:
    site = page_module("site")
    with request_for(full, sites=["s000"]):
        assert site.download_outreach(1, worst_site(full)) == (no_update, "Site not found.")


# --- /training ---------------------------------------------------------------------------

def test_training_shows_effect_event_study_pretrend_survival_and_caveats(full: Path) -> None:
    training = page_module("training")
    tree = render(full, "training")
    assert text(find(tree, training.TRAINING_OVERALL)).startswith("Training raised the share of enrolled users")
    assert "p = 0.42" in text(find(tree, training.TRAINING_PRETREND))
    methods = table_rows(find(tree, training.TRAINING_METHODS))
    assert [cells[1] for cells in methods] == ["+6.1", "-2.0", "+2.0"]  # estimator first; tests rows left out
    event_study = find(tree, training.TRAINING_EVENT_STUDY).figure["data"]
    assert [len(trace["x"]) for trace in event_study] == [8, 13]  # weeks -8..-1, then 0..12
    curves = [t["name"] for t in find(tree, training.TRAINING_SURVIVAL).figure["data"] if t.get("name")]
    assert sorted(curves) == ["not yet trained", "trained"]
    assert ("trained against not yet trained, 0.62 (95% interval 0.48 to 0.80): trained users go silent less often."
            in text(tree))
    assert len(find(tree, training.TRAINING_CAVEATS).children[1].children) >= 5


def test_training_opens_a_file_built_before_training_tests(full: Path, tmp_path: Path) -> None:
    # Such a file held the two diagnostics as rows of training_effect, told apart by method.
    older = tmp_path / "older.duckdb"
    shutil.copy(full, older)
    with duckdb.connect(str(older)) as con:
        con.execute("insert into training_effect values "
                    "('weekly_active_rate', null, 0.42, null, null, 12, 'pretrend_wald_f'), "
                    "('silent_churn_hazard_ratio', null, 0.62, 0.48, 0.80, 800, 'cox_phreg_site_effects')")
        con.execute("drop table training_tests")
    training = page_module("training")
    tree = render(older, "training")
    assert [cells[1] for cells in table_rows(find(tree, training.TRAINING_METHODS))] == ["+6.1", "-2.0", "+2.0"]
    assert "this build stored no joint test" in text(find(tree, training.TRAINING_PRETREND))
    assert "The hazard ratio of going silent is not in this build: its training_tests table is missing." in text(tree)
    assert UNREADABLE not in text(tree) and OUTDATED not in text(tree)


# --- /data -------------------------------------------------------------------------------

def test_data_lists_builds_quarantine_and_how_to_open_the_file(full: Path) -> None:
    data = page_module("data")
    tree = render(full, "data")
    [(builds,)] = rows(full, "select count(*) from build_runs")
    assert len(table_rows(find(tree, data.DATA_BUILDS))) == builds
    [(quarantined,)] = rows(full, "select count(*) from quarantine")
    assert sum(int(cells[2]) for cells in table_rows(find(tree, data.DATA_QUARANTINE_SUMMARY))) == quarantined > 0
    assert len(find(tree, data.DATA_QUARANTINE_ROWS).rowData) == quarantined
    code = text(find(tree, data.DATA_NOTEBOOK))
    assert f"duckdb.connect({str(full)!r}, read_only=True)" in code
    tables = [table for (table,) in rows(full, "select table_name from duckdb_tables() where schema_name = 'main' "
                                               "order by table_name")]
    assert [item.title for item in find(tree, data.DATA_TABLES).children] == tables


def test_data_shows_a_csm_only_the_rejected_rows_of_their_sites(full: Path) -> None:
    data = page_module("data")
    [(site_id, n)] = rows(full, "select json_extract_string(raw, '$.site_id') as s, count(*) from quarantine "
                                "where s is not null group by s order by count(*) desc, s limit 1")
    shown = find(render(full, "data", sites=[site_id]), data.DATA_QUARANTINE_ROWS).rowData
    assert len(shown) >= n
    assert all(site_id in row["raw"] or "user_id" in row["raw"] for row in shown)
    assert len(shown) < rows(full, "select count(*) from quarantine")[0][0]


def test_data_plots_how_often_past_flags_were_right(full: Path) -> None:
    data = page_module("data")
    tree = render(full, "data")
    figure = find(tree, data.DATA_BACKTEST).figure
    lines = [t for t in figure["data"] if t["type"] == "scatter"]
    bars = [t for t in figure["data"] if t["type"] == "bar"]
    assert [t["name"] for t in lines] == [data.METHOD_LABELS[m] for m in ["ours", "30_day_rule"]]
    for method, line, bar in zip(["ours", "30_day_rule"], lines, bars, strict=True):
        weeks = rows(full, "select cut_week, new_came_back, new_flags from flag_backtest "
                           "where method = ? and new_flags is not null order by cut_week", [method])
        assert weeks, method  # the demo's year has cuts after the first
        assert line["x"] == bar["x"] == [week for week, _, _ in weeks]
        assert line["y"] == [None if n == 0 else back / n for _, back, n in weeks]
        assert bar["y"] == [n for _, _, n in weeks] and bar["yaxis"] == "y2"
    assert "the share who used the product again within 26 weeks: lower is better." in text(tree)


def test_data_says_in_plain_words_when_past_flags_cannot_be_checked(full: Path, tmp_path: Path) -> None:
    data = page_module("data")
    short = tmp_path / "short.duckdb"
    shutil.copy(full, short)
    with duckdb.connect(str(short)) as con:
        con.execute("delete from flag_backtest")  # what a history under 8 + 26 weeks gives
    words = text(render(short, "data"))
    assert "This history is too short to check past flags yet" in words
    assert data.DATA_BACKTEST not in ids(render(short, "data"))
    with duckdb.connect(str(short)) as con:
        con.execute("drop table flag_backtest")  # a file from before the stage
    words = text(render(short, "data"))
    assert "Past flags are not checked in this build" in words and OUTDATED not in words


# --- empty and error states ----------------------------------------------------------------

PAGES = [("overview", {}), ("sites", {}), ("site", {"site_id": "s001"}), ("training", {}), ("data", {})]


def test_pages_say_in_plain_words_when_later_tables_are_missing(dbs: dict[str, Path]) -> None:
    bare = dbs["bare"]
    words = {page: text(render(bare, page, **args)) for page, args in PAGES}
    assert "Risk scores are not in this build yet." in words["overview"]
    assert "The effect of training has not been estimated in this build." in words["overview"]
    assert "Risk scores are not in this build yet" in words["sites"]
    assert "Risk scores are not in this build yet." in words["site"]
    assert "training_effect table is missing or empty" in words["training"]
    assert "training_survival table is missing or empty" in words["training"]
    assert not any(UNREADABLE in w or OUTDATED in w for w in words.values())
    listed = [item.children.href for item in find(render(bare, "sites"), page_module("sites").SITES_TABLE).children]
    assert len(listed) == 12  # still a way into every site


def test_pages_say_in_plain_words_when_later_tables_are_empty(full: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    shutil.copy(full, empty)
    with duckdb.connect(str(empty)) as con:
        for table in ["site_health", "training_effect", "training_survival"]:
            con.execute(f"delete from {table}")
    assert "No site you can see has a risk score in this build." in text(render(empty, "sites"))
    assert "No site you can see has a risk score in this build." in text(render(empty, "overview"))
    assert "training_effect table is missing or empty" in text(render(empty, "training"))


def test_pages_render_the_real_build(dbs: dict[str, Path]) -> None:
    built = dbs["built"]
    [(busiest,)] = rows(built, "select site_id from user_status where status in ('quiet', 'silent_churn') "
                               "group by site_id order by count(*) desc, site_id limit 1")
    for page, args in [*PAGES, ("site", {"site_id": busiest})]:
        words = text(render(built, page, **args))
        assert "Data as of the week of" in words
        assert UNREADABLE not in words and OUTDATED not in words, page
    assert find(render(built, "site", site_id=busiest), page_module("site").SITE_USERS).rowData


def test_an_unreadable_file_gives_a_plain_notice_not_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "gone.duckdb"
    for page, args in PAGES:
        assert UNREADABLE in text(render(missing, page, **args)), page
    with request_for(missing):
        assert page_module("site").download_outreach(1, "s001")[1].startswith("The data file could not be read")


def test_a_partial_build_is_named_as_such(tiny_db: Path) -> None:
    """The tiny fixture is built without the model stages: no user_status. The overview
    cannot do without it; a site's page still shows what the build has."""
    assert OUTDATED in text(render(tiny_db, "overview"))
    [(site_id, name)] = rows(tiny_db, "select site_id, site_name from core.sites order by site_id limit 1")
    site = text(render(tiny_db, "site", site_id=site_id))
    assert name in site and "Users are not scored in this build" in site and OUTDATED not in site


# --- wiring ------------------------------------------------------------------------------

def test_every_callback_names_components_of_its_page(full: Path) -> None:
    worst = worst_site(full)
    layouts = {"sites": ids(render(full, "sites")), "site": ids(render(full, "site", site_id=worst)),
               "queue": ids(render(full, "queue"))}
    callbacks = [c for c in page_callbacks() if not any(d["id"].startswith("_pages") for d in c["inputs"])]
    assert len(callbacks) >= 4  # the sites filter, the site download, the queue's actions...
    for callback in callbacks:
        outputs = callback["output"] if isinstance(callback["output"], list) else [callback["output"]]
        named = {d["id"] for d in callback["inputs"] + callback["state"]} | {o.component_id for o in outputs}
        page = next(page for page in layouts if all(i.startswith(f"{page}-") for i in named))
        assert named <= layouts[page], (page, named - layouts[page])
