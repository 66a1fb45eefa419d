"""Answering the second sign-in step in tests.

The demo admin and manager of the web test database are enrolled with a known
TOTP secret. A time step is accepted once per user (replay protection), but
the suite signs the same demo users in many times a minute, so before
answering, these helpers forget the user's last used step in the test
database. The replay protection itself is tested with users of its own
(tests/integration/test_mfa.py), never through these helpers.
"""
from __future__ import annotations

import re
import time

import pyotp
from sqlalchemy import create_engine, select, update

# Base32, 32 characters; used only in the test databases.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
DEMO_MFA_EMAILS = ("admin@scope.example", "manager@scope.example")
KNOWN_SECRETS: dict[str, str] = {email: DEMO_TOTP_SECRET for email in DEMO_MFA_EMAILS}
_engines: dict[str, object] = {}
_web_database_url: str | None = None


_addresses = iter(range(1, 2**16))


def web_client(web_app):
    """A test client that sends what a browser sends (this site's Origin), from an
    address of its own so per-address sign-in limits count it alone."""
    client = web_app.server.test_client()
    n = next(_addresses)
    client.environ_base.update(HTTP_ORIGIN="http://localhost", REMOTE_ADDR=f"10.250.{n >> 8 & 255}.{n & 255}")
    return client


def use_web_database(url: str) -> None:
    global _web_database_url
    _web_database_url = url


def _engine(url: str):
    from db.session import normalise_url

    if url not in _engines:
        _engines[url] = create_engine(normalise_url(url), pool_size=1)
    return _engines[url]


def enrol_known(session, email: str, secret: str, secret_key: str) -> None:
    """Enrol a user with a chosen secret (test set-up only; the app enrols through /mfa/setup)."""
    from db.models import User, UserMfa
    from services.mfa import encrypt_secret

    user = session.scalar(select(User).where(User.email == email))
    session.add(UserMfa(user_id=user.id, secret_encrypted=encrypt_secret(secret, secret_key)))
    KNOWN_SECRETS[email] = secret


def forget_last_step(database_url: str, email: str) -> None:
    from db.models import User, UserMfa

    with _engine(database_url).begin() as conn:
        user_id = conn.scalar(select(User.id).where(User.email == email))
        conn.execute(update(UserMfa).where(UserMfa.user_id == user_id).values(last_step=None))


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def answer(client, response, email: str):
    """Follow a password sign-in response through /mfa or /mfa/setup; return the last response."""
    location = response.headers.get("Location", "") if response.status_code == 302 else ""
    path = location.split("?")[0].removeprefix("http://localhost")
    if path == "/mfa":
        forget_last_step(client.application.config["SQLALCHEMY_DATABASE_URI"], email)
        page = client.get("/mfa")
        return client.post("/mfa", data={"code": current_code(KNOWN_SECRETS[email]),
                                         "csrf_token": _csrf(page.get_data(as_text=True))})
    if path == "/mfa/setup":
        html = client.get("/mfa/setup").get_data(as_text=True)
        secret = re.search(r'id="mfa-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
        done = client.post("/mfa/setup", data={"code": current_code(secret), "csrf_token": _csrf(html)})
        assert done.status_code == 200 and "recovery-codes" in done.get_data(as_text=True), done.status_code
        KNOWN_SECRETS[email] = secret
        return client.get("/mfa")  # signed in: sends on to the page asked for (302)
    return response


def answer_in_browser(page, email: str) -> None:
    """The browser version: after the password form, type the current code if asked for one."""
    page.wait_for_load_state()
    deadline = time.time() + 10
    while "/mfa" not in page.url and time.time() < deadline:
        if page.query_selector(".scope-navbar"):
            return
        page.wait_for_timeout(100)
    if page.url.split("?")[0].endswith("/mfa") and email in KNOWN_SECRETS:
        forget_last_step(_web_database_url, email)
        page.fill("#code", current_code(KNOWN_SECRETS[email]))
        page.click("form[action='/mfa'] button[type=submit]")
