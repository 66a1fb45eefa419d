"""Server-side sessions: a new session at login, and a cookie replayed after
logout, revocation, deactivation, idle timeout or absolute expiry is refused."""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools

import pytest
from sqlalchemy import select

from db.models import User, UserSession
from services import sessions
from services.users import create_user
from tests.conftest import as_browser, login
from tests.webutil import render_page

COOKIE = "scope_session"
PASSWORD = "session-test-password-9"
_seq = itertools.count()
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)


# --- the service ------------------------------------------------------------------------------

@pytest.fixture()
def user(db_session):
    return create_user(db_session, email=f"svc-session{next(_seq)}@test.example", role="adjuster",
                       password=PASSWORD)


def test_only_the_hash_of_the_token_is_stored(db_session, user):
    sid = sessions.start_session(db_session, user.id, ip="10.0.0.1", user_agent="pytest", now=NOW)
    row = db_session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert len(sid) >= 40 and row.id == hashlib.sha256(sid.encode()).hexdigest() != sid
    assert row.expires_at == NOW + dt.timedelta(hours=12) and row.ip == "10.0.0.1"
    assert sessions.start_session(db_session, user.id, ip=None, user_agent=None, now=NOW) != sid


def test_idle_timeout_and_absolute_expiry(db_session, user):
    sid = sessions.start_session(db_session, user.id, ip=None, user_agent=None, now=NOW)
    idle = dt.timedelta(minutes=30)
    assert sessions.load_active(db_session, sid, NOW + dt.timedelta(minutes=30), idle=idle) is not None
    assert sessions.load_active(db_session, sid, NOW + dt.timedelta(minutes=31), idle=idle) is None
    # Activity keeps it alive only until the absolute expiry.
    for k in range(1, 36):  # every 20 minutes up to 11 h 40 min
        t = NOW + dt.timedelta(minutes=20 * k)
        row = sessions.load_active(db_session, sid, t, idle=idle)
        assert row is not None, t
        sessions.touch(db_session, row, t)
    assert sessions.load_active(db_session, sid, NOW + dt.timedelta(hours=12), idle=idle) is None


def test_touch_writes_at_most_once_a_minute(db_session, user):
    sid = sessions.start_session(db_session, user.id, ip=None, user_agent=None, now=NOW)
    row = sessions.load_active(db_session, sid, NOW)
    assert sessions.touch(db_session, row, NOW + dt.timedelta(seconds=59)) is False
    assert sessions.touch(db_session, row, NOW + dt.timedelta(seconds=61)) is True
    assert row.last_seen_at == NOW + dt.timedelta(seconds=61)


def test_revocation_and_deactivation(db_session, user):
    sids = [sessions.start_session(db_session, user.id, ip=None, user_agent=None, now=NOW) for _ in range(3)]
    assert sessions.revoke_session(db_session, sids[0], "logout", now=NOW) is True
    assert sessions.revoke_session(db_session, sids[0], "logout", now=NOW) is False
    assert sessions.load_active(db_session, sids[0], NOW) is None
    assert sessions.revoke_user_sessions(db_session, user.id, reason="password changed",
                                         except_session_id=sids[1], now=NOW) == 1
    assert sessions.load_active(db_session, sids[2], NOW) is None
    kept = sessions.load_active(db_session, sids[1], NOW)
    assert kept is not None and [s.id for s in sessions.active_sessions(db_session, user.id, NOW)] == [kept.id]
    user.is_active = False
    db_session.flush()
    assert sessions.load_active(db_session, sids[1], NOW) is None
    reasons = dict(db_session.execute(select(UserSession.id, UserSession.revoked_reason)
                                      .where(UserSession.user_id == user.id)).all())
    assert sorted(r for r in reasons.values() if r) == ["logout", "password changed"]


@pytest.mark.parametrize("bad", [None, "", "x", 42, "a" * 500, "../../etc"])
def test_malformed_tokens_are_unknown(db_session, bad):
    assert sessions.load_active(db_session, bad, NOW) is None
    assert sessions.revoke_session(db_session, bad, "logout") is False


# --- the web side -----------------------------------------------------------------------------

@pytest.fixture()
def web_user(web_app):
    """A fresh adjuster in the web database (never a shared demo account)."""
    from db.flask_db import read_session

    email = f"web-session{next(_seq)}@test.example"
    with web_app.server.app_context():
        s = read_session()
        user = create_user(s, email=email, role="adjuster", password=PASSWORD, department_codes=["AUTO_PD"])
        s.commit()
        return {"id": user.id, "email": email}


def _signed_in(web_app, web_user):
    client = web_app.server.test_client()
    response = login(client, web_user["email"], PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    return client


def _cookie(client) -> str:
    return client.get_cookie(COOKIE).value


def _replay(web_app, cookie: str):
    """A new browser presenting a copied cookie: (page status, callback status)."""
    client = as_browser(web_app.server.test_client())
    client.set_cookie(COOKIE, cookie)
    page = client.get("/")
    callback, _ = render_page(client, "/")
    return page.status_code, page.headers.get("Location", ""), callback


def _db(web_app):
    from db.flask_db import read_session

    return read_session()


def test_login_starts_a_new_session_and_the_cookie_holds_only_its_id(web_app, web_user):
    client = as_browser(web_app.server.test_client())
    client.get("/login")
    before = _cookie(client)
    login(client, web_user["email"], PASSWORD)
    after = _cookie(client)
    assert after != before
    # The pre-login cookie (what a fixation attacker would plant) is not signed in.
    assert _replay(web_app, before)[:2] == (302, "/login?next=/")
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(web_app.server)
    content = serializer.loads(after)
    assert set(content) == {"sid"} or set(content) <= {"sid", "_mfa_state", "_mfa_uid", "_mfa_next"}
    with web_app.server.app_context():
        row = _db(web_app).get(UserSession, hashlib.sha256(content["sid"].encode()).hexdigest())
        assert row.user_id == web_user["id"] and row.revoked_at is None
    # Signing in again on the same browser replaces (and ends) the old session.
    client.post("/logout", data={"csrf_token": _shell_csrf(client)})
    login(client, web_user["email"], PASSWORD)
    assert serializer.loads(_cookie(client))["sid"] != content["sid"]


def _shell_csrf(client) -> str:
    """The form token the navigation bar's Sign out form carries."""
    import json
    import re

    layout = json.dumps(client.get("/_dash-layout").get_json())
    return re.search(r'"value": "([0-9a-f]{64})", "type": "hidden", "name": "csrf_token"', layout).group(1)


def test_cookie_replayed_after_logout_is_refused(web_app, web_user):
    client = _signed_in(web_app, web_user)
    other_device = _signed_in(web_app, web_user)
    cookie = _cookie(client)
    assert _replay(web_app, cookie) == (200, "", 200)
    response = client.post("/logout", data={"csrf_token": _shell_csrf(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert _replay(web_app, cookie) == (302, "/login?next=/", 401)
    # Signing out ends the user's other sessions too.
    assert _replay(web_app, _cookie(other_device)) == (302, "/login?next=/", 401)
    with web_app.server.app_context():
        reasons = _db(web_app).scalars(select(UserSession.revoked_reason)
                                       .where(UserSession.user_id == web_user["id"])).all()
        assert reasons == ["logout", "logout"]


def test_cookie_replayed_after_revoke_user_sessions_is_refused(web_app, web_user):
    first, second = _signed_in(web_app, web_user), _signed_in(web_app, web_user)
    keep = second.get_cookie(COOKIE).value
    from flask.sessions import SecureCookieSessionInterface

    keep_sid = SecureCookieSessionInterface().get_signing_serializer(web_app.server).loads(keep)["sid"]
    with web_app.server.app_context():
        s = _db(web_app)
        assert sessions.revoke_user_sessions(s, web_user["id"], reason="password changed",
                                             except_session_id=keep_sid) == 1
        s.commit()
    assert _replay(web_app, _cookie(first)) == (302, "/login?next=/", 401)
    assert _replay(web_app, keep)[0] == 200


def test_cookie_of_a_deactivated_user_is_refused(web_app, web_user):
    client = _signed_in(web_app, web_user)
    with web_app.server.app_context():
        s = _db(web_app)
        s.get(User, web_user["id"]).is_active = False
        s.commit()
    assert _replay(web_app, _cookie(client)) == (302, "/login?next=/", 401)
    assert client.get("/").status_code == 302  # the browser's own next request too
    assert login(as_browser(web_app.server.test_client()), web_user["email"], PASSWORD).status_code == 401


@pytest.fixture()
def clock(web_app):
    """Move the app's clock: clock.now += timedelta(...)."""

    class Clock:
        now = dt.datetime.now(dt.timezone.utc)

    web_app.server.config["SCOPE_CLOCK"] = lambda: Clock.now
    yield Clock
    web_app.server.config.pop("SCOPE_CLOCK", None)


def test_idle_session_is_refused(web_app, web_user, clock):
    client = _signed_in(web_app, web_user)
    cookie = _cookie(client)
    clock.now += dt.timedelta(minutes=29)
    assert _replay(web_app, cookie)[0] == 200  # activity moves last_seen forward
    clock.now += dt.timedelta(minutes=29)
    assert _replay(web_app, cookie)[0] == 200
    clock.now += dt.timedelta(minutes=31)
    assert _replay(web_app, cookie) == (302, "/login?next=/", 401)


def test_absolute_lifetime_ends_an_active_session(web_app, web_user, clock):
    client = _signed_in(web_app, web_user)
    cookie = _cookie(client)
    for _ in range(24):  # 24 x 29 minutes = 11 h 36 min, never idle for long
        clock.now += dt.timedelta(minutes=29)
        assert _replay(web_app, cookie)[0] == 200, clock.now
    clock.now += dt.timedelta(minutes=29)  # 12 h 5 min after sign-in
    assert _replay(web_app, cookie) == (302, "/login?next=/", 401)


def test_remember_me_cookie_is_ignored(web_app, web_user):
    """Flask-Login's remember cookie is never read: identity comes only from the session row."""
    from flask_login.utils import encode_cookie

    client = as_browser(web_app.server.test_client())
    with web_app.server.test_request_context():
        client.set_cookie("remember_token", encode_cookie(str(web_user["id"])))
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_connections_run_without_jit(engine):
    """JIT compiling cost 100-560 ms on 40-80 ms page queries at a million claims
    (db/session.py): every connection has it off, even after a rollback."""
    from sqlalchemy import text

    with engine.connect() as conn:
        assert conn.execute(text("SHOW jit")).scalar() == "off"
        conn.rollback()
        assert conn.execute(text("SHOW jit")).scalar() == "off"
