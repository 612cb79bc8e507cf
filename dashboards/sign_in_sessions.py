"""Who is signed in through single sign-on, kept on the server.

The browser holds only a random session id (in Flask's signed cookie). Keeping the rest here
means that signing out ends a session for good (a copied cookie is worth nothing afterwards)
and that a session ends after its lifetime however long the browser keeps the cookie. A
restart of `adoption serve` signs everyone out, which the identity provider makes painless.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dashboards.access import Viewer

LIFETIME_SECONDS = 8 * 3600  # a working day; then the provider is asked again (usually without a prompt)


@dataclass(frozen=True)
class SignedIn:
    viewer: Viewer
    id_token: str  # sent back to the provider as the hint when signing out
    expires_at: float


class SignedInSessions:
    """Session ids of signed-in people, thread-safe (the server answers on threads)."""

    def __init__(self, lifetime: float = LIFETIME_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._lifetime, self._clock = lifetime, clock
        self._sessions: dict[str, SignedIn] = {}
        self._lock = threading.Lock()

    def start(self, viewer: Viewer, id_token: str) -> str:
        """A new session for `viewer`; returns its id, for the cookie."""
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._sessions = {key: kept for key, kept in self._sessions.items() if kept.expires_at > now}
            self._sessions[session_id] = SignedIn(viewer, id_token, now + self._lifetime)
        return session_id

    def get(self, session_id: object) -> SignedIn | None:
        """The session with this id, or None when there is none or it has expired."""
        with self._lock:
            found = self._sessions.get(session_id) if isinstance(session_id, str) else None
            return found if found is not None and found.expires_at > self._clock() else None

    def end(self, session_id: object) -> SignedIn | None:
        """End the session; returns what it was (None when there was none)."""
        with self._lock:
            return self._sessions.pop(session_id, None) if isinstance(session_id, str) else None
