"""Security headers on every response.

The Content-Security-Policy allows scripts only from this site plus the
hashes of Dash's own inline scripts (``app.csp_hashes()``), never
'unsafe-inline' for scripts. Styles keep 'unsafe-inline' because Dash,
Plotly and AG Grid set style attributes at run time. Claim data is never
cached (``no-store``); only the static bundles may be."""
from __future__ import annotations

import dash
from flask import Flask, request

CACHEABLE_PREFIXES = ("/assets/", "/_dash-component-suites/", "/favicon.ico")
HSTS = "max-age=31536000; includeSubDomains"


def policy(script_hashes: list[str]) -> str:
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class _Policy:
    """Dash collects inline scripts (clientside callbacks) until its first
    request, so the hashes are computed lazily and refreshed if more appear."""

    def __init__(self, dash_app: dash.Dash):
        self.dash_app = dash_app
        self._count = -1
        self._value = ""

    def value(self) -> str:
        count = len(self.dash_app._inline_scripts) + len(dash._callback.GLOBAL_INLINE_SCRIPTS)
        if count != self._count:
            hashes = self.dash_app.csp_hashes()
            self._count = len(self.dash_app._inline_scripts)
            self._value = policy(sorted(set(hashes)))
        return self._value


def install(server: Flask, dash_app: dash.Dash, *, production: bool) -> None:
    csp = _Policy(dash_app)

    @server.after_request
    def _security_headers(response):
        headers = response.headers
        # A response with a policy of its own keeps it: a document download's is stricter (a sandbox).
        if "Content-Security-Policy" not in headers:
            headers["Content-Security-Policy"] = csp.value()
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"  # frame-ancestors for browsers without CSP 2
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        if production:
            headers["Strict-Transport-Security"] = HSTS
        if not request.path.startswith(CACHEABLE_PREFIXES):
            headers["Cache-Control"] = "no-store"
            headers.pop("Expires", None)
            headers.pop("ETag", None)
        return response
