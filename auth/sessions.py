"""The browser side of server-side sessions (services.sessions).

After sign-in the Flask cookie holds only ``sid``, a random token. Every
request looks the token up; a revoked, idle, expired or deactivated session
makes the request anonymous and clears the cookie. The signed-in user is put
where Flask-Login's ``current_user`` finds it, so Flask-Login never reads its
own session keys or a remember-me cookie."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from flask import Flask, current_app, g, request, session

from auth.current import SessionUser
from db.flask_db import read_session
from db.models import User
from services import sessions

SID_KEY = "sid"
# Bundles and probes need no user; skipping them keeps asset requests free of queries.
NO_SESSION_PREFIXES = ("/assets/", "/_dash-component-suites/", "/favicon.ico", "/healthz", "/readyz",
                       "/metrics")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def clock() -> dt.datetime:
    """The current time; tests replace ``SCOPE_CLOCK`` in the app config to age sessions."""
    now: Callable[[], dt.datetime] = current_app.config.get("SCOPE_CLOCK") or utcnow
    return now()


def _settings():
    return current_app.config["SCOPE_SETTINGS"]


def idle_timeout() -> dt.timedelta:
    return dt.timedelta(minutes=_settings().session_idle_minutes)


def max_age() -> dt.timedelta:
    return dt.timedelta(hours=_settings().session_max_hours)


def current_session_id() -> str | None:
    """The signed-in browser's session token (e.g. to keep it in revoke_user_sessions)."""
    return g.get("scope_session_id")


def _set_user(user: SessionUser | None) -> None:
    g._login_user = user if user is not None else current_app.login_manager.anonymous_user()


def establish(db, user: User) -> str:
    """Sign ``user`` in on this browser: a brand-new session (nothing of the
    pre-login cookie survives, which defeats session fixation). Call it in the
    caller's unit_of_work once every sign-in factor has passed."""
    previous = session.get(SID_KEY)
    if previous:  # signing in again on this browser replaces its old session
        sessions.revoke_session(db, previous, "replaced", now=clock())
    sid = sessions.start_session(db, user.id, ip=request.remote_addr,
                                 user_agent=request.headers.get("User-Agent"), now=clock(), max_age=max_age())
    session.clear()
    session[SID_KEY] = sid
    g.scope_session_id = sid
    _set_user(SessionUser.from_model(user))
    return sid


def end(db, reason: str = "logout") -> None:
    """Sign this browser out: revoke its session on the server and drop the cookie."""
    sid = session.get(SID_KEY)
    if sid:
        sessions.revoke_session(db, sid, reason, now=clock())
    session.clear()
    g.scope_session_id = None
    _set_user(None)


def load_request_user() -> None:
    g.scope_session_id = None
    _set_user(None)
    if request.path.startswith(NO_SESSION_PREFIXES):
        return
    sid = session.get(SID_KEY)
    if not sid:
        return
    db = read_session()
    now = clock()
    row = sessions.load_active(db, sid, now, idle=idle_timeout())
    if row is None:
        db.rollback()
        session.clear()  # the cookie dies with the session
        return
    user = db.get(User, row.user_id)
    if sessions.touch(db, row, now):
        db.commit()  # bookkeeping in its own short transaction, like a token's last_used_at
    g.scope_session_id = sid
    _set_user(SessionUser.from_model(user))


def install(server: Flask, settings) -> None:
    from auth.login import login_manager

    server.config.update(
        SESSION_COOKIE_NAME="__Host-scope_session" if settings.is_production else "scope_session",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        # The cookie lives as long as the browser; the server-side row decides expiry.
        SESSION_PERMANENT=False,
    )
    # Identity comes only from the server-side session above; Flask-Login's
    # "basic" protection would write its own keys into the cookie.
    login_manager.session_protection = None
    server.before_request(load_request_user)
