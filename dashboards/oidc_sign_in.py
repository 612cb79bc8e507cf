"""Single sign-on for `adoption serve --auth FILE` when the file has an `[oidc]` table.

The teams who use the app sign in through their identity provider (Okta, Entra ID, Google
Workspace), so the app keeps no passwords: it runs OpenID Connect's authorization-code flow
with PKCE through authlib's Flask client, which checks the state and the nonce and verifies
the ID token's signature (the provider's published keys), issuer, audience and expiry. The
token's e-mail, looked up case-insensitively in the auth file's `users` table, gives the role;
an e-mail not there gets a page saying so, never the app.

Every route but the four below needs a signed-in session: a page navigation without one is
sent to sign in, anything else (callbacks, layout, assets) gets 401 before anything reads its
body. The session cookie is HttpOnly, SameSite=Lax (the provider's redirect back to the
callback is a cross-site navigation, which Strict would strip of the flow's state) and Secure
whenever the request came over HTTPS.
"""
from __future__ import annotations

import ipaddress
import os
import re
import secrets
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import dash
import flask
import requests
from authlib.integrations.flask_client import OAuth, OAuthError
from flask.sessions import SecureCookieSessionInterface
from joserfc.errors import JoseError
from markupsafe import escape

from dashboards.access import Viewer, scope_by
from dashboards.sign_in_sessions import SignedInSessions
from pipelines.errors import InputError

SIGN_IN, CALLBACK, SIGN_OUT, SIGNED_OUT = "/auth/sign-in", "/auth/callback", "/auth/sign-out", "/auth/signed-out"
_OPEN_ENDPOINTS = {"oidc_sign_in", "oidc_callback", "oidc_sign_out", "oidc_signed_out"}
_OIDC_KEYS = ("issuer", "client_id", "client_secret_env")


@dataclass(frozen=True)
class OidcProvider:
    """The auth file's `[oidc]` table, with the client secret read from the environment."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)


def read_oidc_table(path: Path, table: object) -> OidcProvider:
    """Check the `[oidc]` table of the auth file at `path`; a bad one is unusable input (exit 2)."""
    if not isinstance(table, dict):
        raise InputError(f"{path}: [oidc] must be a table")
    if "client_secret" in table:
        raise InputError(f"{path}: [oidc] client_secret: the secret never goes in the file; put it in an "
                         "environment variable and name that variable in client_secret_env")
    for key in table:
        if key not in _OIDC_KEYS:
            raise InputError(f"{path}: [oidc] {key}: unknown key; the table takes {', '.join(_OIDC_KEYS)}")
    for key in _OIDC_KEYS:
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise InputError(f"{path}: [oidc] {key} is missing (a non-empty string)")
    issuer = table["issuer"].strip()  # exactly as the provider writes it in its tokens (Auth0's ends in "/")
    parts = urllib.parse.urlsplit(issuer)
    if not (parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname))) \
            or not parts.hostname or parts.query or parts.fragment:
        raise InputError(f"{path}: [oidc] issuer must be an https:// URL (http:// only on loopback), not {issuer!r}")
    variable = table["client_secret_env"]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
        raise InputError(f"{path}: [oidc] client_secret_env must name an environment variable, not {variable!r}")
    secret = os.environ.get(variable)
    if not secret:
        raise InputError(f"{path}: [oidc] client_secret_env names {variable}, which is not set in the environment")
    return OidcProvider(issuer, table["client_id"].strip(), secret)


def _is_loopback(host: str | None) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


class _SessionCookie(SecureCookieSessionInterface):
    """Flask's signed session cookie, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: flask.Flask) -> bool:
        return flask.request.is_secure or super().get_cookie_secure(app)


def _page(status: int, title: str, message: str, link: tuple[str, str] | None = None) -> flask.Response:
    """A plain page for the sign-in steps (the app's own pages need a session, its stylesheet too)."""
    action = f'<p><a href="{escape(link[0])}">{escape(link[1])}</a></p>' if link else ""
    body = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · Adoption Radar'
            f'</title><style>body{{font-family:system-ui,sans-serif;margin:3rem auto;max-width:36rem}}</style></head>'
            f"<body><h1>{escape(title)}</h1><p>{escape(message)}</p>{action}</body></html>")
    return flask.Response(body, status=status, mimetype="text/html")


def _is_page_navigation(request: flask.Request) -> bool:
    """A browser opening a page (sent to sign in), as opposed to a callback, a fetch or an asset (401)."""
    wants_html = any(kind == "text/html" for kind, _ in request.accept_mimetypes)
    mode = request.headers.get("Sec-Fetch-Mode")
    return request.method == "GET" and wants_html and mode in (None, "navigate")


def _local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this server only (never `//elsewhere`)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def require_oidc_sign_in(app: dash.Dash, provider: OidcProvider, roles: dict[str, str]) -> None:
    """Protect every route of the app with OpenID Connect sign-in; `roles` maps lower-case e-mails to roles."""
    server = app.server
    server.secret_key = secrets.token_bytes(32)  # sessions live in this process only (SignedInSessions)
    server.session_interface = _SessionCookie()
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    sessions = SignedInSessions()
    client = OAuth(server).register(
        "provider",
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        server_metadata_url=f"{provider.issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email", "code_challenge_method": "S256", "default_timeout": 10},
    )

    # authlib checks the issuer against the provider's metadata and the audience only through `azp`
    # (a token for another client that names us as its azp passed): both are pinned here
    claims_checked = {"iss": {"essential": True, "value": provider.issuer},
                      "aud": {"essential": True, "value": provider.client_id}}

    def signed_in() -> bool:
        return sessions.get(flask.session.get("sid")) is not None

    @server.before_request
    def signed_in_first() -> flask.Response | None:
        """Nothing reads the request before this has checked the session."""
        if flask.request.endpoint in _OPEN_ENDPOINTS or signed_in():
            return None
        if _is_page_navigation(flask.request):
            return flask.redirect(flask.url_for("oidc_sign_in", next=flask.request.full_path.rstrip("?")))
        return flask.Response("Sign in first.", status=401, mimetype="text/plain")

    def sign_in() -> flask.Response:
        target = _local_path(flask.request.args.get("next"))
        if signed_in():  # another tab finished signing in meanwhile
            return flask.redirect(target)
        flask.session["next"] = target  # beside authlib's state, nonce and PKCE verifier for this sign-in
        try:
            return client.authorize_redirect(flask.url_for("oidc_callback", _external=True))
        except (requests.RequestException, OAuthError) as error:
            print(f"sign-in: the identity provider at {provider.issuer} did not answer: {error}", file=sys.stderr)
            return _page(502, "Sign-in is unavailable", "The identity provider did not answer. Try again shortly.")

    def callback() -> flask.Response:
        try:
            if flask.request.args.get("iss", provider.issuer) != provider.issuer:  # RFC 9207: no mix-up
                raise OAuthError(description="the answer names another issuer")
            token = client.authorize_access_token(claims_options=claims_checked)
            claims = token.get("userinfo")
            if not claims or not isinstance(claims.get("email"), str):
                raise OAuthError(description="no verified ID token with an email claim")
        except (OAuthError, JoseError, requests.RequestException) as error:
            print(f"sign-in refused: {type(error).__name__}: {error}", file=sys.stderr)
            if signed_in():  # a callback address opened again (back button, second tab): nothing new to grant
                return flask.redirect("/")
            return _page(401, "Sign-in failed", "The identity provider's answer could not be verified, "
                         "so you are not signed in.", (SIGN_IN, "Try again"))
        email = claims["email"].strip().lower()
        target = flask.session.pop("next", "/")
        if claims.get("email_verified") is False:
            return _page(403, "No access", f"Your identity provider has not verified the e-mail address {email}, "
                         "so Adoption Radar cannot tell who you are.", (SIGN_OUT, "Sign out"))
        if email not in roles:
            return _page(403, "No access", f"{email} has no access to Adoption Radar. Ask whoever runs it "
                         "to add this address to its users.", (SIGN_OUT, "Sign out"))
        sessions.end(flask.session.get("sid"))
        flask.session["sid"] = sessions.start(Viewer(email, roles[email]), token["id_token"])  # a new id each time
        return flask.redirect(target)

    def sign_out() -> flask.Response:
        ended = sessions.end(flask.session.get("sid"))
        flask.session.clear()
        signed_out = flask.url_for("oidc_signed_out", _external=True)
        try:  # then out of the provider too, when it offers that, so that the next sign-in asks who it is
            if not client.load_server_metadata().get("end_session_endpoint"):
                return flask.redirect(signed_out)
            logout = client.create_logout_url(post_logout_redirect_uri=signed_out, client_id=provider.client_id,
                                              id_token_hint=ended.id_token if ended else None)
        except (requests.RequestException, OAuthError):
            return flask.redirect(signed_out)
        return flask.redirect(logout["url"])

    def signed_out() -> flask.Response:
        return _page(200, "Signed out", "You are signed out of Adoption Radar.", (SIGN_IN, "Sign in again"))

    for path, endpoint, view in [(SIGN_IN, "oidc_sign_in", sign_in), (CALLBACK, "oidc_callback", callback),
                                 (SIGN_OUT, "oidc_sign_out", sign_out), (SIGNED_OUT, "oidc_signed_out", signed_out)]:
        server.add_url_rule(path, endpoint=endpoint, view_func=view, methods=["GET"])

    def who() -> Viewer:
        return sessions.get(flask.session.get("sid")).viewer  # signed_in_first has checked there is one

    scope_by(app, who)
