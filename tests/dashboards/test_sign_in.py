"""Sign-in and per-CSM access, against a real `adoption serve --auth` with crafted requests."""
from __future__ import annotations

import base64
import http.client
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from dashboards.throttle import SignInThrottle
from tests.support import ADOPTION, adoption
from tests.support.serving import served

# tests/fixtures/tiny/sites.csv: s1 belongs to csm0; s2 and s3 to csm1
PASSWORDS = {"csm0@vendor.example": "north-pass", "csm1@vendor.example": "south-pass", "exec@vendor.example": "exec-pass"}
ROLES = {"csm0@vendor.example": "csm", "csm1@vendor.example": "csm", "exec@vendor.example": "executive"}


def _hash(password: str) -> str:
    result = subprocess.run([ADOPTION, "hash-password"], input=password + "\n", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "users.toml"
    path.write_text("".join(
        f'[users."{user}"]\npassword_hash = "{_hash(PASSWORDS[user])}"\nrole = "{ROLES[user]}"\n\n' for user in PASSWORDS
    ))
    return path


def _request(url: str, user: str | None = None, password: str | None = None, body: dict | None = None,
             header: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    if user is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    if header is not None:
        request.add_header("Authorization", header)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_hash_password_prints_a_verifiable_argon2_hash() -> None:
    hashed = _hash("correct horse")
    assert hashed.startswith("$argon2id$")
    assert PasswordHasher().verify(hashed, "correct horse")


def test_every_route_needs_valid_credentials(tiny_db: Path, auth_file: Path) -> None:
    with served(tiny_db, "--auth", str(auth_file), needs_auth=True) as url:
        for path in ["/", "/sites", "/_dash-layout", "/_dash-dependencies"]:
            assert _request(url + path)[0] == 401
            assert _request(url + path, header="Bearer abc")[0] == 401
            assert _request(url + path, header="Basic !!!not-base64")[0] == 401
        assert _request(url + "/_dash-update-component", body={"output": "x", "inputs": []})[0] == 401
        for path in ["/", "/_dash-layout"]:  # four failed sign-ins: one short of being held back
            assert _request(url + path, "csm0@vendor.example", "wrong")[0] == 401
            assert _request(url + path, "nobody@vendor.example", "north-pass")[0] == 401
        assert _request(url + "/", "csm0@vendor.example", "north-pass")[0] == 200


def _status_and_retry(url: str, user: str, password: str) -> tuple[int, str | None]:
    request = urllib.request.Request(url, headers={
        "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After")


def test_five_failed_sign_ins_hold_back_the_user_name_and_the_address(tiny_db: Path, auth_file: Path) -> None:
    """The sixth try answers 429 with Retry-After, even with the right password, and no password is
    checked while held back (a guesser cannot keep the server's cores busy with Argon2)."""
    with served(tiny_db, "--auth", str(auth_file), needs_auth=True) as url:
        assert _status_and_retry(url + "/", "exec@vendor.example", "exec-pass")[0] == 200
        failures = [_status_and_retry(url + "/", "csm0@vendor.example", f"guess-{n}") for n in range(5)]
        assert [status for status, _ in failures] == [401] * 5
        status, retry_after = _status_and_retry(url + "/", "csm0@vendor.example", "north-pass")
        assert status == 429 and retry_after is not None and 0 < int(retry_after) <= 15 * 60
        # from the same address, another user name is held back too
        assert _status_and_retry(url + "/", "exec@vendor.example", "exec-pass")[0] == 429
        assert _request(url + "/")[0] == 401  # no credentials: still the sign-in prompt


def test_the_throttle_forgets_failures_after_fifteen_minutes() -> None:
    now = [0.0]
    throttle = SignInThrottle(clock=lambda: now[0])
    for _ in range(4):
        throttle.failed("user:a", "address:x")
        now[0] += 60
    assert throttle.retry_after("user:a") is None
    throttle.failed("user:a", "address:x")
    assert throttle.retry_after("user:a") == 15 * 60 - 4 * 60
    assert throttle.retry_after("address:x", "user:b") == 15 * 60 - 4 * 60
    assert throttle.retry_after("user:b") is None
    now[0] = 15 * 60 + 1  # the first failure is now older than the window: four remain
    assert throttle.retry_after("user:a") is None


def _raw(url: str, method: str, path: str, body: bytes, content_type: str) -> int:
    """The status of one request sent as written, without credentials."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": content_type})
        return connection.getresponse().status
    finally:
        connection.close()


def test_no_request_without_credentials_gets_anything_but_401(tiny_db: Path, auth_file: Path) -> None:
    """Whatever the method, path or body: dash-auth used to read a callback's body before asking who
    was there, and answered 500 with a traceback to a body without `output` or `inputs`."""
    bodies = [(b"", "application/json"), (b"not json", "application/json"), (b"{}", "text/plain"),
              (b"[1, 2]", "application/json"), (b'{"inputs": []}', "application/json"),
              (b'{"output": "x"}', "application/json"), (b'{"output": "x", "inputs": 5}', "application/json"),
              (b"{" * 4_000_000, "application/json")]
    paths = ["/_dash-update-component", "/_dash-layout", "/sites/s1", "/assets/bootstrap.min.css", "/no-such-page"]
    with served(tiny_db, "--auth", str(auth_file), needs_auth=True) as url:
        answers = {(method, path, body[:20], kind): _raw(url, method, path, body, kind)
                   for method in ["POST", "GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
                   for path in paths for body, kind in bodies}
    assert {key: status for key, status in answers.items() if status != 401} == {}


def _page_callback(url: str, user: str, pathname: str) -> tuple[int, str]:
    """Ask the pages router for `pathname`, as the browser's first callback does."""
    _, dependencies = _request(url + "/_dash-dependencies", user, PASSWORDS[user])
    router = next(d for d in json.loads(dependencies)
                  if any(i["id"] == "_pages_location" and i["property"] == "pathname" for i in d["inputs"]))
    inputs = [{"id": i["id"], "property": i["property"], "value": pathname if i["property"] == "pathname" else None}
              for i in router["inputs"]]
    body = {"output": router["output"], "outputs": [
        {"id": o.split(".")[0], "property": o.split(".")[1]} for o in router["output"].strip(".").split("...")
    ] if router["output"].startswith("..") else {"id": router["output"].split(".")[0],
                                                 "property": router["output"].split(".")[1]},
        "inputs": inputs, "changedPropIds": ["_pages_location.pathname"], "state": [
        {"id": s["id"], "property": s["property"], "value": None} for s in router.get("state", [])]}
    return _request(url + "/_dash-update-component", user, PASSWORDS[user], body)


def test_a_csm_gets_nothing_of_another_csms_site(tiny_db: Path, auth_file: Path) -> None:
    with served(tiny_db, "--auth", str(auth_file), needs_auth=True) as url:
        status, own = _page_callback(url, "csm1@vendor.example", "/sites/s2")
        assert status == 200 and "South Clinic" in own  # their own site
        status, other = _page_callback(url, "csm0@vendor.example", "/sites/s2")
        assert status == 200
        assert "South Clinic" not in other and "u3" not in other and "u6" not in other
        status, listing = _page_callback(url, "csm0@vendor.example", "/sites")
        assert "North Clinic" in listing and "South Clinic" not in listing and "Empty Clinic" not in listing
        status, everything = _page_callback(url, "exec@vendor.example", "/sites")
        assert "North Clinic" in everything and "South Clinic" in everything


def test_serving_beyond_loopback_needs_sign_in(tiny_db: Path, auth_file: Path, tmp_path: Path) -> None:
    refused = adoption("serve", "--db", str(tiny_db), "--host", "0.0.0.0")
    assert refused.returncode == 2 and "without sign-in" in refused.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[users."x@vendor.example"]\npassword_hash = "plain"\nrole = "csm"\n')
    result = adoption("serve", "--db", str(tiny_db), "--auth", str(bad))
    assert result.returncode == 2 and "bad.toml" in result.stderr and "hash-password" in " ".join(result.stderr.split())


def test_nothing_of_the_server_leaks_to_a_csm(tiny_db: Path, auth_file: Path, tmp_path: Path) -> None:
    """/data names the file but not the server's folders for a CSM (an analyst-less auth file: the
    executive sees names only too); errors answer without a traceback or a path."""
    folder = str(tiny_db.parent)
    with served(tiny_db, "--auth", str(auth_file), "--reviews", str(tmp_path / "r.sqlite"), needs_auth=True) as url:
        status, page = _page_callback(url, "csm0@vendor.example", "/data")
        assert status == 200 and tiny_db.name in page
        assert folder not in page and '"field":"source_file"' not in page.replace(" ", "")
        broken = [
            _request(url + "/_dash-update-component", "csm0@vendor.example", "north-pass", body={"output": "x"}),
            _request(url + "/_dash-update-component", "csm0@vendor.example", "north-pass", body={"inputs": 5}),
            _request(url + "/assets/../../../etc/passwd", "csm0@vendor.example", "north-pass"),
            _request(url + "/_dash-component-suites/no/such.js", "csm0@vendor.example", "north-pass"),
        ]
    for status, body in broken:
        assert status >= 400
        assert "Traceback" not in body and folder not in body and ".py" not in body and "/work" not in body
