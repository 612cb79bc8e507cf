"""Sign-in for `adoption serve --auth FILE`: the auth file, and HTTP Basic with Argon2 hashes.

The auth file is TOML: `[users."csm0@vendor.example"]` with `role` (csm, executive or
analyst) and `password_hash` (printed by `adoption hash-password`); or, when it has an
`[oidc]` table, single sign-on with that OpenID Connect provider (`dashboards.oidc_sign_in`)
and users with a role and no hash. `require_sign_in` picks which. Every request, page,
callback and download alike, is checked before Dash sees it; the signed-in user then
decides which sites the pages see (`dashboards.access`), on the server.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dash
import dash_auth
import flask
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dashboards.access import ROLES, Viewer, scope_by
from dashboards.oidc_sign_in import OidcProvider, read_oidc_table, require_oidc_sign_in
from dashboards.throttle import SignInThrottle
from pipelines.errors import InputError

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Account:
    user: str
    password_hash: str | None  # None with single sign-on: the identity provider checks who it is
    role: str


@dataclass(frozen=True)
class AuthFile:
    """What an auth file says: who may sign in, with which role, and how."""

    accounts: dict[str, Account]
    oidc: OidcProvider | None  # None: HTTP Basic against the accounts' password hashes


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def load_auth_file(path: Path) -> AuthFile:
    """Read and check the auth file; a bad file is unusable input (exit 2), never half-used."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InputError(f"{path}: cannot be read as a TOML auth file: {error}") from None
    oidc = read_oidc_table(path, document["oidc"]) if "oidc" in document else None
    users = document.get("users")
    if not isinstance(users, dict) or not users:
        raise InputError(f'{path}: no [users."name"] tables')
    accounts: dict[str, Account] = {}
    for user, entry in users.items():
        if not isinstance(entry, dict):
            raise InputError(f'{path}: [users."{user}"] must be a table')
        role, password_hash = entry.get("role"), entry.get("password_hash")
        if role not in ROLES:
            raise InputError(f'{path}: [users."{user}"] role must be one of {", ".join(ROLES)}, not {role!r}')
        if oidc is not None and password_hash is not None:
            raise InputError(f'{path}: [users."{user}"] password_hash: with [oidc] the identity provider '
                             "checks who signs in; remove the hash")
        if oidc is None and (not isinstance(password_hash, str) or not password_hash.startswith("$argon2")):
            raise InputError(f'{path}: [users."{user}"] password_hash must come from `adoption hash-password`')
        if user.lower() in accounts:
            raise InputError(f'{path}: [users."{user}"] appears twice (user names ignore case)')
        accounts[user.lower()] = Account(user.lower(), password_hash, role)
    return AuthFile(accounts, oidc)


class _Verifier:
    """Checks passwords against Argon2 hashes, remembering successes for this process.

    Argon2 is slow on purpose (tens of milliseconds), and Basic auth sends the password
    with every request; a keyed digest of each verified pair keeps callbacks fast without
    keeping any password in memory.
    """

    def __init__(self, accounts: dict[str, Account]) -> None:
        self._accounts = accounts
        self._key = secrets.token_bytes(32)
        self._verified: set[bytes] = set()
        # Argon2 checks at once, at most: a burst of sign-ins queues instead of taking every core
        self._checks = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) - 1))

    def __call__(self, user: str, password: str) -> bool:
        account = self._accounts.get(user.lower())
        if account is None:
            return False
        digest = hmac.new(self._key, f"{account.user}\0{password}".encode(), hashlib.sha256).digest()
        if digest in self._verified:
            return True
        try:
            with self._checks:
                _hasher.verify(account.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        self._verified.add(digest)
        return True


class _BasicAuth(dash_auth.BasicAuth):
    """dash-auth's Basic auth, answering 401 to any request without valid credentials, whatever its
    method, path or body, and to a malformed Authorization header (never 500); after MAX_FAILURES
    failed sign-ins for a user name or from an address within 15 minutes, 429 with Retry-After,
    before any password is checked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.throttle = SignInThrottle()  # before dash-auth's __init__ installs the check that reads it
        super().__init__(*args, **kwargs)

    def _protect(self) -> None:
        """Check who is asking before anything reads the request. dash-auth's own check parses a
        callback's JSON body first (to find public callbacks, which this app has none of), so a body
        it did not expect answered 500 with a traceback before the credentials were looked at."""

        @self.app.server.before_request
        def signed_in_first() -> flask.Response | None:
            credentials = flask.request.authorization
            user = credentials.username if credentials is not None and credentials.username else None
            keys = [f"address:{flask.request.remote_addr}"] + ([f"user:{user.lower()}"] if user else [])
            wait = self.throttle.retry_after(*keys) if user else None
            if wait is not None:
                return flask.Response("Too many failed sign-ins; try again later.", status=429,
                                      headers={"Retry-After": str(wait)})
            if self.is_authorized():
                return None
            if user:
                self.throttle.failed(*keys)
            return self.login_request()

    def is_authorized(self) -> bool:
        try:
            return super().is_authorized()
        except (IndexError, ValueError, UnicodeDecodeError):
            return False


def signed_in_user() -> str:
    """The user name of the current request; Basic auth has verified it before any view runs."""
    return flask.request.authorization.username.lower()


def require_sign_in(app: dash.Dash, auth: AuthFile) -> None:
    """Protect every route of the app and scope what each user sees to their role: single sign-on
    when the auth file names an OpenID Connect provider, HTTP Basic otherwise."""
    if auth.oidc is not None:
        require_oidc_sign_in(app, auth.oidc, {account.user: account.role for account in auth.accounts.values()})
        return
    _BasicAuth(app, auth_func=_Verifier(auth.accounts),
               secret_key=os.environ.get("ADOPTION_SECRET_KEY", secrets.token_hex(32)))

    def who() -> Viewer:
        account = auth.accounts[signed_in_user()]
        return Viewer(account.user, account.role)

    scope_by(app, who)
