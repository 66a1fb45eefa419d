"""Web side of usage recording: page views from Dash page routing, key actions
from callbacks (``track``) and pages (``track_later``), and the endpoint the
browser sends sampled clicks and time on page to.

Recording never fails a request: every write is guarded and logged.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from urllib.parse import urlparse

import dash
from flask import Blueprint, current_app, g, jsonify, request
from flask import session as flask_session
from sqlalchemy.orm import Session

from auth.current import user_or_none
from services import usage

log = logging.getLogger(__name__)
bp = Blueprint("usage", __name__)

MAX_BODY = 16 * 1024
JOURNEY_IDLE_SECONDS = 30 * 60
_JOURNEY_KEY = "_usage_journey"
_PAGES_OUTPUT = "_pages_content.children"


def templates() -> list[str]:
    return [p.get("path_template") or p.get("path") for p in dash.page_registry.values() if p.get("path")]


def journey_id() -> str:
    """One id per visit. With server-side sessions a visit is the sign-in
    session, named by a keyed hash (the session token itself is a secret);
    otherwise an id in the signed cookie, renewed after 30 idle minutes."""
    sid = flask_session.get("sid")
    if isinstance(sid, str) and sid:
        key = current_app.config["SECRET_KEY"].encode()
        return hmac.new(key, b"journey:" + sid.encode(), hashlib.sha256).hexdigest()[:32]
    now = int(time.time())
    stored = flask_session.get(_JOURNEY_KEY)
    if isinstance(stored, list) and len(stored) == 2 and now - int(stored[1]) < JOURNEY_IDLE_SECONDS:
        jid = str(stored[0])
        if now - int(stored[1]) > 60:  # refresh the idle clock without rewriting the cookie on every call
            flask_session[_JOURNEY_KEY] = [jid, now]
        return jid
    jid = secrets.token_hex(16)
    flask_session[_JOURNEY_KEY] = [jid, now]
    return jid


def _elapsed_ms() -> int | None:
    started = g.get("usage_t0")
    return int((time.perf_counter() - started) * 1000) if started is not None else None


def _referer_page() -> str:
    return usage.page_template(urlparse(request.headers.get("Referer", "")).path, templates())


def _subject(claim_number) -> str | None:
    if not isinstance(claim_number, str) or not claim_number:
        return None
    return usage.claim_ref(claim_number, current_app.config["SECRET_KEY"])


def track(session: Session, action: str, *, claim_number: str | None = None) -> None:
    """Record a key action inside the caller's transaction (so it is kept only if the action is)."""
    try:
        user = user_or_none()
        if user is None:
            return
        usage.record(session, user_id=user.id, role=user.role, journey_id=journey_id(), action=action,
                     page=_referer_page(), subject=_subject(claim_number), duration_ms=_elapsed_ms())
    except Exception:
        log.warning("usage action %s not recorded", action, exc_info=True)


def track_later(action: str, *, claim_number: str | None = None) -> None:
    """Record an action seen while rendering a page; written after the response with the page view."""
    try:
        g.setdefault("usage_pending", []).append((action, _subject(claim_number)))
    except Exception:
        log.warning("usage action %s not queued", action, exc_info=True)


def _pathname(body) -> str | None:
    if not isinstance(body, dict) or _PAGES_OUTPUT not in str(body.get("output", "")):
        return None
    for item in body.get("inputs") or []:
        if isinstance(item, dict) and item.get("id") == "_pages_location" and item.get("property") == "pathname":
            return item.get("value")
    return None


def _record_page_view(response):
    if not request.path.endswith("/_dash-update-component") or response.status_code != 200:
        return
    pathname = _pathname(request.get_json(silent=True))
    user = user_or_none()
    if pathname is None or user is None:
        return
    from db.flask_db import db

    page = usage.page_template(pathname, templates())
    jid, elapsed = journey_id(), _elapsed_ms()
    # Its own short transaction: the page's read session is never committed.
    with Session(db.engine) as s:
        fields = dict(user_id=user.id, role=user.role, journey_id=jid, page=page)
        usage.record(s, action="page_view", duration_ms=elapsed, **fields)
        for action, subject in g.get("usage_pending", []):
            usage.record(s, action=action, subject=subject, duration_ms=elapsed, **fields)
        s.commit()


def install(server) -> None:
    @server.before_request
    def _usage_start():
        g.usage_t0 = time.perf_counter()

    @server.after_request
    def _usage_page_view(response):
        try:
            _record_page_view(response)
        except Exception:
            log.warning("page view not recorded", exc_info=True)
        return response


def _same_origin() -> bool:
    """The browser names the page that sent the request; it must be ours."""
    sent = request.headers.get("Origin") or request.headers.get("Referer")
    if not sent or sent == "null":
        return False
    return urlparse(sent).netloc.lower() == request.host.lower()


@bp.post("/usage/clicks")
def clicks():
    user = user_or_none()
    if user is None:
        return jsonify(error="authentication required"), 401
    if not _same_origin():
        return jsonify(error="cross-origin requests are refused"), 403
    if request.content_length is None or request.content_length > MAX_BODY:
        return jsonify(error=f"send at most {MAX_BODY} bytes with a Content-Length"), 413
    try:
        beacon = usage.parse_beacon(json.loads(request.get_data(cache=False)))
    except (ValueError, UnicodeDecodeError) as exc:
        message = str(exc) if isinstance(exc, usage.UsageError) else "body is not JSON"
        return jsonify(error=message), 400
    from db.flask_db import WriteFailed, unit_of_work

    try:
        with unit_of_work() as s:
            stored = usage.store_beacon(s, beacon, user_id=user.id, role=user.role, journey_id=journey_id(),
                                        templates=templates())
    except WriteFailed:
        log.warning("click samples not stored", exc_info=True)
        return jsonify(error="not stored"), 503
    return jsonify(stored=stored), 201
