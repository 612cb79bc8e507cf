"""Single sign-on with OpenID Connect, end to end: a real OpenID provider on loopback (node's
certified oidc-provider, tests/oidc_provider/), the real `adoption serve --auth`, headless Chromium
signing in at the provider's login form. Bad ID tokens come from the provider itself (see
provider.mjs), so they are refused by the same callback that signs people in."""
from __future__ import annotations

import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import dash
import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page

from dashboards.oidc_sign_in import OidcProvider, require_oidc_sign_in
from tests.support import TESTS, adoption
from tests.support.serving import free_port, served

pytestmark = pytest.mark.slow

PROVIDER_DIR = TESTS / "oidc_provider"
CLIENT_ID, SECRET_VARIABLE, SECRET = "adoption-radar", "ADOPTION_TEST_OIDC_SECRET", "test-client-secret"
TIMEOUT = 20_000
# tests/fixtures/tiny/sites.csv: s1 (North Clinic) belongs to csm0; s2 (South) and s3 (Empty) to csm1.
# The provider spoils the ID tokens of the logins named by a prefix (provider.mjs); their e-mails are
# users here, so that a refusal can only come from the token.
USERS = {"csm0@vendor.example": "csm", "csm1@vendor.example": "csm", "exec@vendor.example": "executive",
         **{f"{bad}.csm0@vendor.example": "csm"
            for bad in ("tampered", "expired", "other-audience", "other-issuer", "other-nonce", "unverified")}}


def auth_file_text(issuer: str) -> str:
    return (f'[oidc]\nissuer = "{issuer}"\nclient_id = "{CLIENT_ID}"\nclient_secret_env = "{SECRET_VARIABLE}"\n\n'
            + "".join(f'[users."{user.upper() if user.startswith("csm1") else user}"]\nrole = "{role}"\n\n'
                      for user, role in USERS.items()))  # csm1 in capitals: e-mails ignore case


@pytest.fixture(scope="module")
def sso(tiny_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(the app's URL, the provider's issuer): `adoption serve --auth` over the tiny build, signing in
    at a provider of its own."""
    if shutil.which("node") is None:
        pytest.skip("node is missing: the OpenID provider these tests sign in at runs on node")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the test OpenID provider is not installed: run `make oidc-provider`")
    provider_port = free_port()
    issuer = f"http://127.0.0.1:{provider_port}"
    auth = tmp_path_factory.mktemp("oidc") / "users.toml"
    auth.write_text(auth_file_text(issuer))
    with pytest.MonkeyPatch.context() as env:
        env.setenv(SECRET_VARIABLE, SECRET)
        with served(tiny_db, "--auth", str(auth), needs_auth=True) as app_url:
            provider = subprocess.Popen(
                ["node", "provider.mjs", str(provider_port), CLIENT_ID, SECRET,
                 f"{app_url}/auth/callback", f"{app_url}/auth/signed-out"],
                cwd=PROVIDER_DIR, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
            try:
                ready = provider.stdout.readline()
                assert ready.startswith("ready"), f"the OpenID provider did not start: {ready!r}"
                yield app_url, issuer
            finally:
                provider.terminate()
                provider.wait(timeout=10)




@pytest.fixture()
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile: no session at the app or at the provider."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


def sign_in(page: Page, app_url: str, issuer: str, email: str, path: str = "/sites") -> int:
    """Open `path` of the app, get sent to the provider, sign in there as `email`, come back; returns
    the status the app's callback answered."""
    page.goto(app_url + path)
    assert page.url.startswith(issuer), page.url  # sent to the provider's login form
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", "any password: the provider's development form takes any")
    with page.expect_response(lambda response: response.url.startswith(app_url + "/auth/callback"),
                              timeout=TIMEOUT) as callback:
        page.click("button[type=submit]")
    page.wait_for_url(f"{app_url}/**", timeout=TIMEOUT)
    return callback.value.status


def has_session(context: BrowserContext, app_url: str) -> bool:
    return context.request.get(app_url + "/_dash-layout").status == 200


def test_a_csm_signs_in_at_the_provider_and_sees_only_their_sites(sso: tuple[str, str], context: BrowserContext) -> None:
    app_url, issuer = sso
    page = context.new_page()
    assert sign_in(page, app_url, issuer, "csm1@vendor.example") == 302
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    assert page.url == f"{app_url}/sites"  # back where they were going
    page.get_by_text("South Clinic").first.wait_for(timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")
    assert "Empty Clinic" in page.content() and "North Clinic" not in page.content()
    page.goto(app_url + "/sites/s1")  # another CSM's site, asked for by address
    page.locator("h1").first.wait_for(timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")
    assert "North Clinic" not in page.content()
    assert errors == []
    [cookie] = [cookie for cookie in context.cookies(app_url) if cookie["name"] == "session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert not cookie["secure"]  # plain http on loopback here; Secure whenever the request came over HTTPS


def test_the_request_to_the_provider_carries_pkce_state_and_nonce(sso: tuple[str, str]) -> None:
    app_url, issuer = sso
    answer = requests.get(app_url + "/auth/sign-in", params={"next": "/training"}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    location = urllib.parse.urlsplit(answer.headers["Location"])
    query = dict(urllib.parse.parse_qsl(location.query))
    assert f"{location.scheme}://{location.netloc}" == issuer
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43
    assert len(query["state"]) >= 20 and len(query["nonce"]) >= 20
    assert set(query["scope"].split()) == {"openid", "email"}
    cookie = answer.headers["Set-Cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_the_session_cookie_is_secure_when_served_over_https(sso: tuple[str, str]) -> None:
    """Behind TLS (a proxy that says so, or a server with a certificate) the cookie never travels
    in the clear; here the app in-process, asked over https://, against the same provider."""
    _, issuer = sso
    app = dash.Dash(__name__)
    app.layout = dash.html.Div()  # Dash refuses to serve without one
    require_oidc_sign_in(app, OidcProvider(issuer, CLIENT_ID, SECRET), {"csm0@vendor.example": "csm"})
    answer = app.server.test_client().get("/auth/sign-in", base_url="https://radar.vendor.example")
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "redirect_uri=https%3a%2f%2fradar.vendor.example%2fauth%2fcallback" in answer.headers["Location"].lower()


def test_a_callback_with_a_forged_state_signs_no_one_in(sso: tuple[str, str]) -> None:
    app_url, _ = sso
    with requests.Session() as browser:
        browser.get(app_url + "/auth/sign-in", allow_redirects=False, timeout=30)  # a flow under way
        answer = browser.get(app_url + "/auth/callback", params={"code": "stolen", "state": "forged"}, timeout=30)
        assert answer.status_code == 401 and "Sign-in failed" in answer.text
        assert browser.get(app_url + "/_dash-layout", timeout=30).status_code == 401


@pytest.mark.parametrize("spoiled", ["tampered", "expired", "other-audience", "other-issuer", "other-nonce"])
def test_an_id_token_that_fails_verification_is_refused(sso: tuple[str, str], context: BrowserContext,
                                                        spoiled: str) -> None:
    """tampered: the payload claims the executive, under the CSM's signature; expired: two hours ago;
    other-audience, other-issuer, other-nonce: validly signed, but for another client, by another issuer or
    for another sign-in (a replayed token). Each was seen refused for its own reason (BadSignatureError,
    ExpiredTokenError, InvalidClaimError aud, iss, nonce in the server's log)."""
    app_url, issuer = sso
    page = context.new_page()
    assert sign_in(page, app_url, issuer, f"{spoiled}.csm0@vendor.example") == 401
    assert page.locator("h1").inner_text() == "Sign-in failed"
    assert not has_session(context, app_url)


@pytest.mark.parametrize(("email", "says"), [("stranger@vendor.example", "stranger@vendor.example has no access"),
                                             ("unverified.csm0@vendor.example", "has not verified")])
def test_who_is_not_a_user_gets_a_clear_page_and_not_the_app(sso: tuple[str, str], context: BrowserContext,
                                                             email: str, says: str) -> None:
    app_url, issuer = sso
    page = context.new_page()
    assert sign_in(page, app_url, issuer, email) == 403
    assert page.locator("h1").inner_text() == "No access"
    assert says in page.locator("body").inner_text()
    assert not has_session(context, app_url)
    page.goto(app_url + "/")  # sent to sign in; still signed in at the provider, so straight back here
    assert page.locator("h1").inner_text() == "No access"


def test_signing_out_ends_the_session_here_and_at_the_provider(sso: tuple[str, str], context: BrowserContext) -> None:
    app_url, issuer = sso
    page = context.new_page()
    sign_in(page, app_url, issuer, "exec@vendor.example", path="/")
    assert has_session(context, app_url)
    cookie = next(cookie["value"] for cookie in context.cookies(app_url) if cookie["name"] == "session")
    page.goto(app_url + "/auth/sign-out")
    assert page.url.startswith(issuer)  # the provider's end_session_endpoint asks to confirm
    page.click("button[value=yes]")
    page.wait_for_url(f"{app_url}/auth/signed-out**", timeout=TIMEOUT)
    assert page.locator("h1").inner_text() == "Signed out"
    assert not has_session(context, app_url)
    replayed = requests.get(app_url + "/_dash-layout", cookies={"session": cookie}, timeout=30)
    assert replayed.status_code == 401  # the old cookie, kept by someone, is worth nothing now
    page.goto(app_url + "/")
    assert page.url.startswith(issuer) and page.locator("input[name=login]").count() == 1  # asked again


def test_no_request_without_a_session_gets_anything_but_401(sso: tuple[str, str]) -> None:
    """Whatever the method, path, body or a forged cookie; only a browser opening a page is sent
    to sign in."""
    app_url, _ = sso
    bodies = [(b"", "application/json"), (b"not json", "application/json"), (b"{}", "text/plain"),
              (b'{"inputs": []}', "application/json"), (b'{"output": "x"}', "application/json"),
              (b'{"output": "x", "inputs": 5}', "application/json"), (b"{" * 4_000_000, "application/json")]
    paths = ["/_dash-update-component", "/_dash-layout", "/_dash-dependencies", "/sites/s1",
             "/assets/bootstrap.min.css", "/no-such-page"]
    cookies = [{}, {"session": "forged"}, {"session": "eyJzaWQiOiJ4In0.forged.signature"}]
    answers = {}
    for method in ["POST", "GET", "PUT", "DELETE", "HEAD"]:
        for path in paths:
            for body, kind in bodies:
                for cookie in cookies:
                    answer = requests.request(method, app_url + path, data=body, cookies=cookie, timeout=60,
                                              headers={"Content-Type": kind}, allow_redirects=False)
                    answers[(method, path, body[:20], str(cookie))] = answer.status_code
    assert {key: status for key, status in answers.items() if status != 401} == {}
    navigation = requests.get(app_url + "/sites?risk=high", headers={"Accept": "text/html,*/*;q=0.8"},
                              allow_redirects=False, timeout=30)
    assert navigation.status_code == 302
    assert navigation.headers["Location"] == "/auth/sign-in?next=/sites?risk%3Dhigh"


@pytest.mark.parametrize(("oidc", "environment", "says"), [
    ('issuer = "https://id.vendor.example"\nclient_id = "radar"\n', {}, "[oidc] client_secret_env is missing"),
    ('issuer = "https://id.vendor.example"\nclient_id = "radar"\nclient_secret_env = "RADAR_SECRET"\n', {},
     "[oidc] client_secret_env names RADAR_SECRET, which is not set"),
    ('issuer = "http://id.vendor.example"\nclient_id = "radar"\nclient_secret_env = "RADAR_SECRET"\n',
     {"RADAR_SECRET": "x"}, "[oidc] issuer must be an https:// URL"),
    ('issuer = "https://id.vendor.example"\nclient_id = "radar"\nclient_secret = "in the file"\n',
     {"RADAR_SECRET": "x"}, "[oidc] client_secret: the secret never goes in the file"),
    ('issuer = "https://id.vendor.example"\nclient_id = "radar"\nclient_secret_env = "RADAR_SECRET"\nscope = "x"\n',
     {"RADAR_SECRET": "x"}, "[oidc] scope: unknown key"),
])
def test_a_bad_oidc_table_or_a_missing_secret_stops_the_server_at_start(
        tiny_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oidc: str, environment: dict[str, str],
        says: str) -> None:
    monkeypatch.delenv("RADAR_SECRET", raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    auth = tmp_path / "sso.toml"
    auth.write_text(f'[oidc]\n{oidc}\n[users."csm0@vendor.example"]\nrole = "csm"\n')
    result = adoption("serve", "--db", str(tiny_db), "--auth", str(auth))
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "sso.toml" in message and says in message, result.stderr


def test_with_single_sign_on_the_users_have_no_password_hashes(tiny_db: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADAR_SECRET", "x")
    auth = tmp_path / "sso.toml"
    auth.write_text('[oidc]\nissuer = "https://id.vendor.example"\nclient_id = "radar"\n'
                    'client_secret_env = "RADAR_SECRET"\n\n'
                    '[users."csm0@vendor.example"]\nrole = "csm"\npassword_hash = "$argon2id$v=19$m=1,t=1,p=1$x$y"\n')
    result = adoption("serve", "--db", str(tiny_db), "--auth", str(auth))
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and 'sso.toml: [users."csm0@vendor.example"] password_hash' in message
