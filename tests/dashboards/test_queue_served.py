"""The review queue against a real `adoption serve --auth --reviews`, with crafted requests: a
callback naming another CSM's flag is refused and writes nothing; a CSM's visit is in the
access log that `adoption audit` prints."""
from __future__ import annotations

import base64
import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from metrics.reviews.store import ReviewStore
from tests.support import ADOPTION, adoption, rows
from tests.support.serving import served

CSM0, CSM1 = "csm0@vendor.example", "csm1@vendor.example"
PASSWORD = "queue-pass"
FLAG_AT = ("select u.user_id, strftime(u.drop_week, '%Y-%m-%d'), u.site_id, u.status from user_status u "
           "join core.sites s using (site_id) where s.owner = ? and u.status in ('quiet', 'silent_churn') "
           "order by u.user_id limit 1")


@pytest.fixture(scope="module")
def db(demos) -> Path:
    return demos(seed=5, users=400, sites=10).db  # served read-only; csm0 and csm1 both own flagged users


@pytest.fixture(scope="module")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    hashed = subprocess.run([ADOPTION, "hash-password"], input=PASSWORD + "\n", capture_output=True, text=True,
                            check=True).stdout.strip()
    path = tmp_path_factory.mktemp("auth") / "users.toml"
    path.write_text("".join(f'[users."{user}"]\npassword_hash = "{hashed}"\nrole = "csm"\n\n' for user in (CSM0, CSM1)))
    return path


def post(url: str, user: str, body: dict) -> dict:
    request = urllib.request.Request(url + "/_dash-update-component", data=json.dumps(body).encode(), headers={
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["response"]


def contact(user_id: str, drop_week: str, status: str) -> dict:
    """The body the queue's "Mark contacted" button sends, naming whatever flag we like."""
    snoozes = ["queue-snooze-1-week", "queue-snooze-2-weeks", "queue-snooze-a-month"]
    return {
        "output": "..queue-grid.rowData...queue-grid.selectedRows...queue-more.children...queue-status.children..",
        "outputs": [{"id": "queue-grid", "property": "rowData"}, {"id": "queue-grid", "property": "selectedRows"},
                    {"id": "queue-more", "property": "children"}, {"id": "queue-status", "property": "children"}],
        "inputs": [{"id": "queue-contacted", "property": "n_clicks", "value": 1},
                   *[{"id": id, "property": "n_clicks", "value": None} for id in snoozes],
                   {"id": "queue-undo", "property": "n_clicks", "value": None}],
        "state": [{"id": "queue-grid", "property": "selectedRows",
                   "value": [{"user_id": user_id, "drop_week": drop_week, "status": status}]},
                  {"id": "queue-outcome", "property": "value", "value": "no_answer"}],
        "changedPropIds": ["queue-contacted.n_clicks"],
    }


def open_page(pathname: str) -> dict:
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": pathname},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "changedPropIds": ["_pages_location.pathname"],
    }


def test_a_crafted_action_on_another_csms_flag_is_refused_and_changes_nothing(
        db: Path, auth_file: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "reviews.sqlite"
    [(theirs, their_week, _, _)] = rows(db, FLAG_AT, [CSM1])
    [(mine, my_week, my_site, my_status)] = rows(db, FLAG_AT, [CSM0])
    with served(db, "--auth", str(auth_file), "--reviews", str(store_path), needs_auth=True) as url:
        answer = post(url, CSM0, contact(theirs, their_week, "quiet"))
        assert answer == {"queue-status": {"children": "Nothing was recorded."}}
        store = ReviewStore(store_path)
        assert store.actions().is_empty() and store.access_log().is_empty()
        # the same request for csm0's own flag is recorded, with the site and status of the build
        answer = post(url, CSM0, contact(mine, my_week, "active"))
        assert answer["queue-status"]["children"] == "1 user contacted (no answer)."
        assert mine not in [row["user_id"] for row in answer["queue-grid"]["rowData"]]
    assert store.actions().select("user_id", "site_id", "status", "reviewer").rows() == [
        (mine, my_site, my_status, CSM0)]


def test_a_csms_visit_is_in_the_access_log_and_audit_prints_it(db: Path, auth_file: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "reviews.sqlite"
    [(_, _, site, _)] = rows(db, FLAG_AT, [CSM0])
    [(flagged,)] = rows(db, "select count(*) from user_status where site_id = ? and status in ('quiet', "
                            "'silent_churn')", [site])
    with served(db, "--auth", str(auth_file), "--reviews", str(store_path), needs_auth=True) as url:
        post(url, CSM0, open_page(f"/sites/{site}"))
        post(url, CSM0, open_page("/queue"))
    log = ReviewStore(store_path).access_log()
    assert log.select("who", "kind", "site_id").rows() == [(CSM0, "site_view", site), (CSM0, "queue_view", None)]
    assert log["users"][0] == flagged
    printed = adoption("audit", "--reviews", str(store_path))
    assert printed.returncode == 0, printed.stderr
    assert CSM0 in printed.stdout and "site_view" in printed.stdout and site in printed.stdout
