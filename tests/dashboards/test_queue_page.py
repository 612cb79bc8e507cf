"""/queue, and review state on /sites and the site page, called as plain functions inside a
request against the page tests' demo (`full`) with a store of the test's own: what the queue
lists, what an action records (from the build, never the browser), what is refused, and what the
access log holds."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from dashboards.access import Viewer, scope_by
from dashboards.wording import day
from metrics.reviews.store import ReviewStore
from tests.support import rows
from tests.support.serving import find, ids, page_callbacks, page_dbs, page_module, request_for, text, walk

QUEUE_ORDER = """
select users.user_id, strftime(users.drop_week, '%Y-%m-%d'), users.site_id
from user_status as users left join site_health as health using (site_id)
where users.status in ('quiet', 'silent_churn') and users.drop_week is not null {where}
order by list_position(['high', 'medium', 'low'], health.risk), health.health_score, users.site_id,
    users.drop_week, users.user_id
"""


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return page_dbs(tmp_path_factory.getbasetemp())["full"]


def expected_queue(db: Path, sites: list[str] | None = None) -> list[tuple[str, str, str]]:
    where = "" if sites is None else "and users.site_id = any(?)"
    return rows(db, QUEUE_ORDER.format(where=where), None if sites is None else [sites])


def queue_rows(db: Path, sites: list[str] | None = None) -> tuple[list[dict], str]:
    queue = page_module("queue")
    with request_for(db, sites):
        tree = queue.layout()
    return find(tree, queue.QUEUE_GRID).rowData, find(tree, queue.QUEUE_MORE).children


def test_the_queue_lists_the_first_20_flags_worst_site_first_and_how_many_more(full: Path, reviews_path: Path) -> None:
    expected = expected_queue(full)
    assert len(expected) > 20
    listed, more = queue_rows(full)
    assert [(r["user_id"], r["drop_week"]) for r in listed] == [(u, w) for u, w, _ in expected[:20]]
    assert {r["review"] for r in listed} == {"new"}
    assert more == f"{len(expected) - 20} more after these."
    [entry] = ReviewStore(reviews_path).access_log().select("who", "kind", "users").rows()
    assert entry == ("local", "queue_view", 20)


def test_a_contact_and_a_snooze_leave_the_queue_with_the_status_from_the_build(full: Path, reviews_path: Path) -> None:
    queue = page_module("queue")
    [first, second, third] = expected_queue(full)[:3]
    [(status,)] = rows(full, "select status from user_status where user_id = ?", [first[0]])
    with request_for(full):
        # the browser sends whole rows; only the user and the drop week are taken from them
        tampered = {"user_id": first[0], "drop_week": first[1], "status": "active", "site_id": "elsewhere"}
        listed, selected, _more, said = queue.review("contacted", [tampered], "reached_will_resume", None)
        assert said == "1 user contacted (reached, will resume)." and selected == []
        listed, _, _, said = queue.review("snoozed", [{"user_id": second[0], "drop_week": second[1]}], None, "2 weeks")
    until = date.today() + timedelta(days=14)
    assert said == f"1 user snoozed until {day(until)}."
    assert [r["user_id"] for r in listed][:1] == [third[0]]
    actions = ReviewStore(reviews_path).actions()
    assert actions.select("user_id", "site_id", "status", "reviewer", "action", "outcome", "snoozed_until").rows() == [
        (first[0], first[2], status, "local", "contacted", "reached_will_resume", None),
        (second[0], second[2], rows(full, "select status from user_status where user_id = ?", [second[0]])[0][0],
         "local", "snoozed", None, until),
    ]
    with request_for(full):
        listed, _, _, said = queue.review("undone", None, None, None)
    assert said == f"Took back: snoozed {second[0]}."
    assert [r["user_id"] for r in listed][:2] == [second[0], third[0]]  # back in its place
    log = ReviewStore(reviews_path).access_log().filter(kind="review_action")
    assert log.select("site_id", "detail").rows() == [(first[2], "contacted:reached_will_resume"),
                                                      (second[2], f"snoozed:{until}"), (second[2], "undone:2")]


def test_a_flag_the_viewer_may_not_see_is_refused_and_nothing_is_written(full: Path, reviews_path: Path) -> None:
    queue = page_module("queue")
    [(user, week, site)] = expected_queue(full)[:1]
    other = next(s for _, _, s in expected_queue(full) if s != site)
    before = ReviewStore(reviews_path).access_log()
    with request_for(full, [other]):
        for picked in ([{"user_id": user, "drop_week": week}],
                       [{"user_id": user, "drop_week": "not a date"}], [{"drop_week": week}]):
            assert queue.review("contacted", picked, "no_answer", None)[3] == "Nothing was recorded."
        mine = [{"user_id": u, "drop_week": w} for u, w, _ in expected_queue(full, [other])[:1]]
        assert queue.review("snoozed", mine, None, "a year")[3] == "Nothing was recorded."  # not a choice
        assert queue.review("contacted", mine, "called her, she said", None)[3] == "Choose what came of the contact first."
    store = ReviewStore(reviews_path)
    assert store.actions().is_empty() and store.access_log().equals(before)


def test_an_executive_sees_every_sites_queue_read_only(full: Path, reviews_path: Path) -> None:
    queue = page_module("queue")
    [(user, week, _)] = expected_queue(full)[:1]
    with request_for(full) as app:
        scope_by(app, lambda: Viewer("exec@vendor.example", "executive"))
        tree = queue.layout()
        said = queue.review("contacted", [{"user_id": user, "drop_week": week}], "no_answer", None)[3]
    assert "read-only" in text(tree) and "Mark contacted" not in text(tree)
    assert len(find(tree, queue.QUEUE_GRID).rowData) == 20
    assert said == queue.READ_ONLY and ReviewStore(reviews_path).actions().is_empty()


def test_site_pages_show_review_state_and_how_many_flags_are_new(full: Path, reviews_path: Path) -> None:
    queue, site, sites = page_module("queue"), page_module("site"), page_module("sites")
    [first, second] = expected_queue(full)[:2]
    with request_for(full):
        queue.review("contacted", [{"user_id": first[0], "drop_week": first[1]}], "no_answer", None)
        queue.review("snoozed", [{"user_id": second[0], "drop_week": second[1]}], None, "1 week")
        grid = find(site.layout(site_id=first[2]), site.SITE_USERS).rowData
        ranking = sites.layout()
    review = {r["user_id"]: r["review"] for r in grid}
    at_site = [u for u, _, s in expected_queue(full) if s == first[2]]
    assert review[first[0]] == "contacted: no answer"
    assert review[second[0]] == f"snoozed until {date.today() + timedelta(days=7):%Y-%m-%d}"
    assert {review[u] for u in at_site if u not in (first[0], second[0])} == {"new"}
    assert text(find(ranking, sites.SITES_NEW)).startswith(f"{len(expected_queue(full)) - 2} flags new for you.")
    [new_cells] = [row[8] for row in _table(find(ranking, sites.SITES_TABLE)) if _site_link(row) == first[2]]
    assert new_cells == str(len(at_site) - 2)


def test_site_views_and_downloads_are_logged_with_who_and_how_many(full: Path, reviews_path: Path) -> None:
    site = page_module("site")
    [(_, _, busy)] = expected_queue(full)[:1]
    shown = len([u for u, _, s in expected_queue(full) if s == busy])
    with request_for(full):
        site.layout(site_id=busy)
        site.download_outreach(1, busy)
    log = ReviewStore(reviews_path).access_log()
    assert log.select("who", "kind", "site_id", "users").rows() == [
        ("local", "site_view", busy, shown), ("local", "download", busy, shown)]


def _table(table) -> list[list]:
    body = next(node for node in walk(table) if type(node).__name__ == "Tbody")
    return [[cell.children for cell in row.children] for row in body.children]


def _site_link(row: list) -> str:
    return row[1].href.rsplit("/", 1)[-1]


def test_the_queues_callback_names_components_of_its_page(full: Path) -> None:
    with request_for(full):
        present = ids(page_module("queue").layout())
    wired = [callback for callback in page_callbacks()
             if any(d["id"].startswith("queue-") for d in callback["inputs"])]
    assert len(wired) == 1
    for callback in wired:
        named = {d["id"] for d in callback["inputs"] + callback["state"]} | {o.component_id for o in callback["output"]}
        assert named <= present, named - present
