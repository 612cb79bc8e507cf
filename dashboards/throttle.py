"""Failed sign-ins, counted per user name and per address, so that guessing passwords stops
after a few tries instead of running the server's Argon2 checks without end."""
from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


class SignInThrottle:
    """At most `limit` failures per key within `window` seconds; then the key waits until its
    oldest failure in the window is `window` old. Thread-safe (the server answers on threads)."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit, self._window, self._clock = limit, window, clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures

    def retry_after(self, *keys: str) -> int | None:
        """Whole seconds until every key may try again, or None when none is held back."""
        with self._lock:
            now = self._clock()
            waits = [failures[0] + self._window - now for key in keys
                     if len(failures := self._recent(key, now)) >= self._limit]
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, *keys: str) -> None:
        with self._lock:
            now = self._clock()
            for key in keys:
                self._recent(key, now).append(now)
