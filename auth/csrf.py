"""Cross-site request forgery defences.

1. Origin check on every state-changing request (POST, PUT, PATCH, DELETE):
   the Origin header (else the Referer's origin) must be this site. It covers
   Dash's JSON callbacks, which cannot carry a form token.
2. Synchroniser tokens for the server-rendered forms (login, logout, ...).
   Before sign-in the token is a random value in the cookie; after sign-in it
   is an HMAC of the session id, so it dies with the server-side session and
   the cookie holds nothing but the session id.

A request with neither header is refused when it carries the session cookie
(browsers always send Origin on POST). Without the cookie there is nothing
to forge: the request is anonymous, and /api/v1 authenticates only with a
bearer token, which a browser never attaches on its own, so API clients such
as curl need no Origin. A foreign Origin is refused on the API too.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from flask import abort, current_app, request, session

_KEY = "_csrf"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOKEN_ONLY_PREFIXES = ("/api/v1/",)


def _session_bound_token(sid: str) -> str:
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, b"csrf:" + sid.encode("utf-8"), hashlib.sha256).hexdigest()


def token() -> str:
    sid = session.get("sid")
    if sid:
        return _session_bound_token(sid)
    if _KEY not in session:
        session[_KEY] = secrets.token_urlsafe(32)
    return session[_KEY]


def check_form() -> None:
    sent = request.form.get("csrf_token", "")
    sid = session.get("sid")
    expected = _session_bound_token(sid) if sid else session.get(_KEY, "")
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="The form expired. Reload the page and try again.")


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origin() -> str:
    return f"{request.scheme}://{request.host}".lower()


def sender_origin() -> str | None:
    """Origin of the page that sent this request: the Origin header, else the
    Referer's origin; ``"null"`` (sandboxed or privacy-stripped) stays "null"."""
    origin = request.headers.get("Origin")
    if origin:
        return origin.strip().lower()
    referer = request.headers.get("Referer")
    return _origin_of(referer) if referer else None


def origin_problem() -> str | None:
    """Why this request must be refused as cross-site, or None when it may pass."""
    if request.method not in STATE_CHANGING:
        return None
    sent = sender_origin()
    if sent is None:
        has_cookie = current_app.config["SESSION_COOKIE_NAME"] in request.cookies
        if has_cookie and not request.path.startswith(TOKEN_ONLY_PREFIXES):
            return "the request did not say which site sent it (no Origin or Referer)"
        return None
    if sent != own_origin():
        return "the request came from another site"
    return None
