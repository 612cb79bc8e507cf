"""Security headers on what `adoption serve` answers: pages, callbacks, assets, errors.

The browser tests (test_app_browser.py) load every page under this policy and fail on any
console error, so a script the policy blocks would show there."""
from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from tests.support.serving import served

PATHS = ["/", "/sites", "/_dash-layout", "/_dash-dependencies", "/assets/bootstrap.min.css", "/no-such-page"]


def _headers(url: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_every_response_carries_the_security_headers(tiny_db: Path) -> None:
    with served(tiny_db) as url:
        answers = {path: _headers(url + path) for path in PATHS}
    for path, (status, headers) in answers.items():
        assert status == 200, path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == "'self'", path
        assert policy["frame-ancestors"] == "'none'", path
        assert policy["object-src"] == "'none'", path
        sources = policy["script-src"].split()
        # only the app's own files, and Dash's inline scripts by their hashes: never any inline script
        assert sources[0] == "'self'" and all(s.startswith("'sha256-") for s in sources[1:]), path
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, path
    assert "no-store" in answers["/"][1]["Cache-Control"]
