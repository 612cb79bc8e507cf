"""`adoption digest` as a user runs it, against a real SMTP server on loopback (aiosmtpd) and a
built demo with two CSMs (csm0 and csm1 own five sites each): one message per person, a CSM's
never naming another CSM's site or user in any part, once per build, nothing recorded when the
server is unreachable or refuses, and what came after (an action, a snooze, a worse risk)."""
from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller

from dashboards.sign_in import hash_password
from metrics.reviews.store import Action, ReviewStore
from tests.support import adoption, copy_db, rows

DEMO = {"seed": 5, "users": 400, "sites": 10}
CSMS = ["csm0@vendor.example", "csm1@vendor.example"]
PEOPLE = {CSMS[0]: "csm", "ceo@vendor.example": "executive", "analyst@vendor.example": "analyst", CSMS[1]: "csm"}
SENDER = "radar@vendor.example"
BASE_URL = "https://radar.vendor.example"


class Inbox:
    """What the server accepted; it refuses the DATA of any recipient in `refused`."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refused: set[str] = set()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001 - aiosmtpd's handler hook
        if set(envelope.rcpt_tos) & self.refused:
            return "554 5.7.1 refused by policy"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, person: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == person]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, str]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, f"127.0.0.1:{controller.port}"
    controller.stop()


@pytest.fixture(scope="module")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "auth.toml"
    hashed = hash_password("not used to sign in here")
    path.write_text("".join(f'[users."{user}"]\npassword_hash = "{hashed}"\nrole = "{role}"\n'
                            for user, role in PEOPLE.items()), encoding="utf-8")
    return path


def digest(db: Path, auth: Path, reviews: Path, *where: str):
    return adoption("digest", "--db", str(db), "--auth", str(auth), "--reviews", str(reviews), "--from", SENDER,
                    "--base-url", BASE_URL, *where)


def every_part(message: EmailMessage) -> str:
    """The subject and every text part, decoded."""
    return "\n".join([str(message["Subject"])] + [part.get_content() for part in message.walk()
                                                   if part.get_content_maintype() == "text"])


def owned(db: Path) -> dict[str, dict[str, list[str]]]:
    """Per CSM: the ids and names of their sites and the ids of their users."""
    found = {}
    for csm in CSMS:
        sites = rows(db, "select site_id, site_name from core.sites where lower(owner) = ?", [csm])
        users = rows(db, "select user_id from core.users where site_id in (select site_id from core.sites "
                         "where lower(owner) = ?)", [csm])
        found[csm] = {"site_ids": [s for s, _ in sites], "site_names": [n for _, n in sites if n],
                      "user_ids": [u for (u,) in users]}
    return found


def named(text: str, value: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text) is not None


def test_everyone_gets_one_digest_and_a_csm_only_their_own_once_per_build(demos, smtp, auth_file, tmp_path) -> None:
    inbox, server = smtp
    db, reviews = demos(**DEMO).db, tmp_path / "reviews.sqlite"
    result = digest(db, auth_file, reviews, "--smtp", server)
    assert result.returncode == 0, result.stderr
    assert sorted(message["To"] for message in inbox.messages) == sorted(PEOPLE)
    for message in inbox.messages:
        assert message.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
        assert message["From"] == SENDER and "new flag" in message["Subject"]
    sites = owned(db)
    for csm in CSMS:
        [message] = inbox.to(csm)
        text = every_part(message)
        mine = sites[csm]
        assert any(named(text, site) for site in mine["site_ids"])  # it does name their own: the check bites
        for other in CSMS:
            if other == csm:
                continue
            theirs = sites[other]
            leaked = ([v for v in theirs["site_ids"] + theirs["user_ids"] if named(text, v)]
                      + [v for v in theirs["site_names"] + [other] if v in text])
            assert not leaked, (csm, leaked)
    [executive] = inbox.to("ceo@vendor.example")
    assert "silently churned" in every_part(executive) and "Training" in every_part(executive)
    assert not any(named(every_part(executive), user) for csm in CSMS for user in sites[csm]["user_ids"])

    store = ReviewStore(reviews)
    assert sorted(store.digests()["recipient"].unique()) == sorted(PEOPLE)
    log = store.access_log()
    assert sorted(log.filter(log["kind"] == "digest_sent")["who"]) == sorted(PEOPLE)

    again = digest(db, auth_file, reviews, "--smtp", server)
    assert again.returncode == 0, again.stderr
    assert len(inbox.messages) == len(PEOPLE)  # the same build: nothing sent again
    assert "Already sent for this build" in again.stdout


def test_an_unreachable_server_is_exit_2_and_nothing_is_recorded(demos, auth_file, tmp_path) -> None:
    reviews, port = tmp_path / "reviews.sqlite", _free_port()  # nothing listens there
    result = digest(demos(**DEMO).db, auth_file, reviews, "--smtp", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert f"cannot reach the mail server 127.0.0.1:{port}" in result.stderr
    store = ReviewStore(reviews)
    assert store.digests().is_empty() and store.access_log().is_empty()


def test_a_refusing_server_stops_the_run_with_exit_2_and_what_went_out_is_recorded(demos, smtp, auth_file,
                                                                                    tmp_path) -> None:
    inbox, server = smtp
    db, reviews = demos(**DEMO).db, tmp_path / "reviews.sqlite"
    inbox.refused = set(PEOPLE)
    refused = digest(db, auth_file, reviews, "--smtp", server)
    assert refused.returncode == 2
    assert f"the mail server {server} did not accept the digest to {CSMS[0]}" in refused.stderr
    assert ReviewStore(reviews).digests().is_empty() and not inbox.messages

    inbox.refused = {CSMS[1]}  # the last in the auth file: the others go out first
    partly = digest(db, auth_file, reviews, "--smtp", server)
    assert partly.returncode == 2 and f"Not sent: {CSMS[1]}" in partly.stderr
    assert sorted(ReviewStore(reviews).digests()["recipient"].unique()) == sorted(set(PEOPLE) - {CSMS[1]})

    inbox.refused = set()
    rest = digest(db, auth_file, reviews, "--smtp", server)
    assert rest.returncode == 0, rest.stderr
    assert sorted(message["To"] for message in inbox.messages) == sorted(PEOPLE)  # each exactly once


def _first_flag(text: str) -> str:
    return re.search(r"^- (u\d+) at ", text, flags=re.MULTILINE).group(1)


def _new_count(message: EmailMessage) -> int:
    return int(re.search(r": (\d+) new flags? ", str(message["Subject"])).group(1))


def test_what_came_after_an_action_a_snooze_and_a_worse_risk(demos, smtp, auth_file, tmp_path) -> None:
    inbox, server = smtp
    db, reviews, previews = copy_db(demos(**DEMO).db, tmp_path), tmp_path / "reviews.sqlite", tmp_path / "preview"
    csm = CSMS[0]

    # a preview (--out) writes what would go out and records nothing
    preview = digest(db, auth_file, reviews, "--out", str(previews))
    assert preview.returncode == 0, preview.stderr
    before = email.message_from_bytes((previews / f"{csm}.eml").read_bytes(), policy=email.policy.default)
    assert ReviewStore(reviews).digests().is_empty()
    contacted = _first_flag(before.get_body(("plain",)).get_content())

    # a flag acted on in the store is not new in the next digest
    [(drop_week, site_id, status)] = rows(db, "select drop_week, site_id, status from user_status where user_id = ?",
                                          [contacted])
    store = ReviewStore(reviews)
    store.record(Action(contacted, drop_week, site_id, status, csm, "contacted", outcome="no_answer"))
    assert digest(db, auth_file, reviews, "--smtp", server).returncode == 0
    [first] = inbox.to(csm)
    assert not named(every_part(first), contacted) and _new_count(first) == _new_count(before) - 1
    told = store.digests().filter(store.digests()["recipient"] == csm)
    snoozed = told["user_id"][0]  # named in the first digest, so no longer new; now snoozed until yesterday

    # a rebuild: one of csm0's low-risk sites is at high risk now; the snooze ended yesterday
    [(worse_site, worse_name)] = rows(db, "select site_id, name from site_health where lower(owner) = ? and risk = 'low' "
                                          "order by site_id limit 1", [csm])
    with duckdb.connect(str(db)) as con:
        con.execute("update site_health set risk = 'high' where site_id = ?", [worse_site])
        con.execute("insert into build_runs select * replace ('rebuild' as run_id, finished_at + interval 1 day "
                    "as finished_at) from build_runs order by finished_at desc limit 1")
    [(snooze_week, snooze_site, snooze_status)] = rows(
        db, "select drop_week, site_id, status from user_status where user_id = ?", [snoozed])
    store.record(Action(snoozed, snooze_week, snooze_site, snooze_status, csm, "snoozed",
                        snoozed_until=date.today() - timedelta(days=1)))
    assert digest(db, auth_file, reviews, "--smtp", server).returncode == 0

    second = inbox.to(csm)[1].get_body(("plain",)).get_content().split("Snoozes that came due")
    assert len(second) == 2 and named(second[1].split("Sites whose risk")[0], snoozed)
    assert f"{worse_name}: risk low -> high" in second[1]
    assert _new_count(inbox.to(csm)[1]) == 0  # the first digest named every new flag, and nothing new dropped
    assert worse_name not in every_part(inbox.to(CSMS[1])[1])
    assert f"{worse_name}: risk low -> high" in every_part(inbox.to("ceo@vendor.example")[1])
