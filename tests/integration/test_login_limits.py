"""Lockout with back-off, rate limits on sign-in and the API, and the sign-in
limit shared by two gunicorn workers through Redis (production settings)."""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import itertools
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import AuditLog, User
from services import lockout
from services.users import create_user
from tests import gunicorn_util
from tests.conftest import as_browser, login

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "limits-test-password-7"
_seq = itertools.count()


def _new_user(web_app, role="adjuster") -> dict:
    from db.flask_db import read_session

    email = f"limits{next(_seq)}-{time.time_ns()}@test.example"
    with web_app.server.app_context():
        s = read_session()
        user = create_user(s, email=email, role=role, password=PASSWORD, department_codes=["AUTO_PD"])
        s.commit()
        return {"id": user.id, "email": email}


def _login_page(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)


def _attempt(client, token: str, email: str, password: str):
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"})


@pytest.fixture()
def clock(web_app):
    class Clock:
        now = dt.datetime.now(dt.timezone.utc)

    web_app.server.config["SCOPE_CLOCK"] = lambda: Clock.now
    yield Clock
    web_app.server.config.pop("SCOPE_CLOCK", None)


def test_back_off_doubles_and_caps():
    assert [lockout.lock_duration(n) for n in range(1, 5)] == [None] * 4
    assert [lockout.lock_duration(n).total_seconds() for n in range(5, 9)] == [60, 120, 240, 480]
    assert lockout.lock_duration(40) == lockout.MAX_LOCK == dt.timedelta(hours=1)


def test_lockout_after_repeated_failures_with_back_off(web_app, clock):
    from db.flask_db import read_session

    user = _new_user(web_app)
    client = as_browser(web_app.server.test_client())
    token = _login_page(client)
    for _ in range(4):
        assert _attempt(client, token, user["email"], "wrong-password-xyz").status_code == 401
    with web_app.server.app_context():
        row = read_session().get(User, user["id"])
        assert (row.failed_logins, row.locked_until) == (4, None)
    assert _attempt(client, token, user["email"], "wrong-password-xyz").status_code == 401  # 5th: locked 1 min
    locked = _attempt(client, token, user["email"], PASSWORD)
    assert locked.status_code == 401  # the right password does not open a locked account
    clock.now += dt.timedelta(seconds=61)
    assert _attempt(client, token, user["email"], "wrong-password-xyz").status_code == 401  # 6th: 2 min
    clock.now += dt.timedelta(seconds=61)
    assert _attempt(client, token, user["email"], PASSWORD).status_code == 401  # still locked
    clock.now += dt.timedelta(seconds=60)
    assert _attempt(client, token, user["email"], PASSWORD).status_code == 302
    with web_app.server.app_context():
        s = read_session()
        row = s.get(User, user["id"])
        assert (row.failed_logins, row.locked_until) == (0, None)
        events = s.execute(select(AuditLog.action, AuditLog.after).where(AuditLog.actor_id == user["id"])
                           .order_by(AuditLog.id)).all()
    lockouts = [after["locked_seconds"] for action, after in events if action == "auth.lockout"]
    assert lockouts == [60, 120]
    assert [a for a, _ in events if a.startswith("auth.login")][-1] == "auth.login"


def test_locked_account_answers_like_an_unknown_email(web_app, clock):
    user = _new_user(web_app)
    client = as_browser(web_app.server.test_client())
    token = _login_page(client)
    for _ in range(5):
        _attempt(client, token, user["email"], "wrong-password-xyz")
    ghost = f"nobody{next(_seq)}-{time.time_ns()}@test.example"
    answers = []
    for email, password in ((user["email"], PASSWORD), (user["email"], "wrong-password-xyz"), (ghost, PASSWORD)):
        started = time.perf_counter()
        response = _attempt(client, token, email, password)
        answers.append((response.status_code, response.get_data(as_text=True).replace(email, "EMAIL"),
                        time.perf_counter() - started))
    assert answers[0][:2] == answers[1][:2] == answers[2][:2]
    assert answers[0][0] == 401 and "Email or password is not correct." in answers[0][1]
    # Every refusal spends one password hash: a locked account is not measurably faster.
    fastest, slowest = min(a[2] for a in answers), max(a[2] for a in answers)
    assert fastest > 0.3 * slowest


def test_sign_in_limit_per_account_holds_across_addresses(web_app):
    from auth.limits import login_account_limit

    allowed = int(login_account_limit.split()[0])
    ghost = f"sprayed{next(_seq)}-{time.time_ns()}@test.example"
    statuses = []
    for _ in range(allowed + 2):
        client = as_browser(web_app.server.test_client())  # a new address every time
        statuses.append(_attempt(client, _login_page(client), ghost, "wrong-password-xyz").status_code)
    assert statuses == [401] * allowed + [429, 429]
    client = as_browser(web_app.server.test_client())
    response = _attempt(client, _login_page(client), ghost, "wrong-password-xyz")
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    # Successful sign-ins of other accounts are not affected.
    user = _new_user(web_app)
    assert login(web_app.server.test_client(), user["email"], PASSWORD).status_code == 302


def test_api_limit_is_per_token(web_app):
    from db.flask_db import read_session
    from services import api_tokens

    tokens = []
    with web_app.server.app_context():
        s = read_session()
        for _ in range(2):
            user = create_user(s, email=f"limits-api{next(_seq)}-{time.time_ns()}@test.example", role="adjuster",
                               password=PASSWORD, department_codes=["AUTO_PD"])
            tokens.append(api_tokens.create_token(s, user, name="t", scopes=["queues:read"])[1])
        s.commit()
    settings = web_app.server.config["SCOPE_SETTINGS"]
    web_app.server.config["SCOPE_SETTINGS"] = settings.with_(api_rate_limit="3 per minute")
    try:
        client = web_app.server.test_client()

        def get(token):
            return client.get("/api/v1/queues/AUTO_PD?limit=1", headers={"Authorization": f"Bearer {token}"})

        assert [get(tokens[0]).status_code for _ in range(4)] == [200, 200, 200, 429]
        refused = get(tokens[0])
        assert refused.status_code == 429 and "too many" in refused.get_json()["error"].lower()
        assert int(refused.headers["Retry-After"]) > 0
        assert get(tokens[1]).status_code == 200
    finally:
        web_app.server.config["SCOPE_SETTINGS"] = settings


# --- two gunicorn workers, one Redis ---------------------------------------------------------

def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _request(url: str, data: dict | None = None, headers: dict | None = None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with _opener.open(req, timeout=60) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


@pytest.fixture()
def gunicorn_two_workers(web_database_url, tmp_path):
    if not _redis_up():
        pytest.skip("needs Redis on 127.0.0.1:6379 (the rate-limit store shared by workers)")
    access_log = tmp_path / "access.log"
    env = dict(os.environ, DATABASE_URL=web_database_url, REDIS_URL="redis://127.0.0.1:6379/0",
               SCOPE_ENV="production", SECRET_KEY="gunicorn-test-" + "k" * 40, SCOPE_LOG_LEVEL="WARNING")
    proc, base = gunicorn_util.start(["-w", "2", "--access-logfile", str(access_log),
                                      "--access-logformat", "%(p)s %(m)s %(U)s %(s)s"], env, tmp_path)
    try:
        # Both workers must be up, not just the first one.
        time.sleep(3)
        yield base, access_log
    finally:
        gunicorn_util.stop(proc)


def test_login_rate_limit_holds_across_two_gunicorn_workers(gunicorn_two_workers):
    from auth.limits import login_limit

    base, access_log = gunicorn_two_workers
    status, headers, html = _request(base + "/login")
    assert status == 200
    # Production cookie: __Host- prefix, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain.
    cookie_header = headers["Set-Cookie"]
    attributes = [a.strip().lower() for a in cookie_header.split(";")]
    assert cookie_header.startswith("__Host-scope_session=")
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(attributes)
    assert not any(a.startswith("domain") for a in attributes)
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = cookie_header.split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    allowed = int(login_limit.split()[0])

    def attempt(i: int) -> int:
        return _request(base + "/login", {"email": f"nobody-{i}-{time.time_ns()}@test.example",
                                          "password": "wrong-password-xyz", "csrf_token": token},
                        {"Cookie": cookie, "Origin": base})[0]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(attempt, range(allowed + 15)))
    assert statuses.count(401) == allowed and statuses.count(429) == 15, statuses
    time.sleep(1)  # let gunicorn flush the access log
    workers = {line.split()[0] for line in access_log.read_text().splitlines() if " POST /login " in line}
    # Two workers each counting alone would have let up to twice the limit through.
    assert len(workers) == 2, workers
