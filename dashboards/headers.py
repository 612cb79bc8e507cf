"""Security headers on every response of the app.

The pages show who went quiet at which clinic, so the browser is told to keep them to this
origin: no framing (clickjacking), no sniffing a download into a script, no referrer sent
elsewhere, nothing cached, and a Content-Security-Policy under which only the app's own
files run. Dash itself needs three inline scripts (the renderer and the clientside
callbacks); they are allowed by their hashes (`Dash.csp_hashes`), not by 'unsafe-inline'.
Styles keep 'unsafe-inline': Dash and its components set `style` attributes, which carry no
script.
"""
from __future__ import annotations

import dash
import flask


def content_security_policy(script_hashes: list[str]) -> str:
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' " + " ".join(script_hashes),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def add_security_headers(app: dash.Dash) -> None:
    """Set the headers on every response. The policy is made on the first response, once every
    page (and so every clientside callback) is registered."""
    policy: list[str] = []

    @app.server.after_request
    def secured(response: flask.Response) -> flask.Response:
        if not policy:
            policy.append(content_security_policy(app.csp_hashes()))
        response.headers["Content-Security-Policy"] = policy[0]
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        response.headers.setdefault("Cache-Control", "no-store")
        return response
