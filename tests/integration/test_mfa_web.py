"""The second sign-in step through the web app: admins and managers are held on
/mfa/setup until enrolled (no page, no callback), enrolled users answer /mfa,
replayed and wrong codes are refused, recovery codes work once, an MFA reset
sends the user back to set-up at once."""
from __future__ import annotations

import re
import secrets

import pyotp
import pytest
from sqlalchemy import select

from db.flask_db import unit_of_work
from db.models import User, UserMfa
from services import mfa
from services.users import create_user
from tests.mfautil import web_client
from tests.webutil import render_page

PASSWORD = "a long test passphrase for mfa"


def new_user(web_app, role: str) -> str:
    email = f"mfa-web-{role}-{secrets.token_hex(4)}@scope.example"
    with web_app.server.app_context(), unit_of_work() as session:
        create_user(session, email=email, role=role, password=PASSWORD, department_codes=["AUTO_PD"])
    return email


def csrf_of(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def password_step(client, email: str):
    return client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(client, "/login"),
                                       "next": "/queues"})


def setup_secret(client) -> str:
    html = client.get("/mfa/setup").get_data(as_text=True)
    return re.search(r'id="mfa-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")


def post_code(client, path: str, code: str):
    return client.post(path, data={"code": code, "csrf_token": csrf_of(client, path)})


def user_id(web_app, email: str) -> int:
    with web_app.server.app_context(), unit_of_work() as session:
        return session.scalar(select(User.id).where(User.email == email))


def forget_step(web_app, email: str) -> None:
    with web_app.server.app_context(), unit_of_work() as session:
        session.get(UserMfa, user_id(web_app, email)).last_step = None


def test_admin_without_mfa_reaches_only_setup_and_logout(web_app):
    client = web_client(web_app)
    email = new_user(web_app, "admin")
    first = password_step(client, email)
    assert first.status_code == 302 and first.headers["Location"].endswith("/mfa/setup")
    for path in ("/", "/queues", "/admin/jobs", "/models", "/mfa"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].endswith("/mfa/setup"), path
    status, body = render_page(client, "/")
    assert status == 403 and "setup" in body
    assert client.get("/_dash-layout").status_code == 403
    # Every callback the app has, called directly: refused before it runs.
    assert len(web_app.callback_map) > 10
    for output in web_app.callback_map:
        response = client.post("/_dash-update-component", json={"output": output, "outputs": [], "inputs": [],
                                                                "state": [], "changedPropIds": []})
        assert response.status_code == 403, output
    page = client.get("/mfa/setup")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and "<script" not in html
    assert page.headers["Cache-Control"] == "no-store"
    logout = client.post("/logout", data={"csrf_token": csrf_of(client, "/mfa/setup")})
    assert logout.status_code == 302 and logout.headers["Location"].endswith("/login")
    assert client.get("/queues").headers["Location"].startswith("/login")


def test_enrol_then_sign_in_with_code_replay_refused_and_recovery_once(web_app):
    client = web_client(web_app)
    email = new_user(web_app, "manager")
    password_step(client, email)
    secret = setup_secret(client)
    assert setup_secret(client) == secret  # a reload shows the same key until it is confirmed
    wrong = post_code(client, "/mfa/setup", "12345")
    assert wrong.status_code == 400 and "6-digit" in wrong.get_data(as_text=True)
    setup_code = pyotp.TOTP(secret).now()
    done = post_code(client, "/mfa/setup", setup_code)
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and 'href="/queues"' in html
    codes = re.findall(r"<li class=\"col\">([a-z2-9]{5}-[a-z2-9]{5})</li>", html)
    assert len(codes) == 10
    assert client.get("/queues").status_code == 200
    with web_app.server.app_context(), unit_of_work() as session:
        row = session.get(UserMfa, user_id(web_app, email))
        assert secret not in row.secret_encrypted
        assert mfa.decrypt_secret(row.secret_encrypted, web_app.server.config["SECRET_KEY"]) == secret

    # A new sign-in: the code from set-up (same time step) is a replay and refused.
    other = web_client(web_app)
    assert password_step(other, email).headers["Location"].endswith("/mfa")
    assert other.get("/queues").headers["Location"].endswith("/mfa")
    assert render_page(other, "/queues")[0] == 403
    replay = post_code(other, "/mfa", setup_code)
    assert replay.status_code == 401 and "already used" in replay.get_data(as_text=True)
    assert other.get("/queues").status_code == 302

    recovery = post_code(other, "/mfa", codes[0])
    assert recovery.status_code == 302 and recovery.headers["Location"].endswith("/queues")
    assert other.get("/queues").status_code == 200

    third = web_client(web_app)
    password_step(third, email)
    again = post_code(third, "/mfa", codes[0])
    assert again.status_code == 401
    forget_step(web_app, email)  # the next time step, without waiting 30 s
    ok = post_code(third, "/mfa", pyotp.TOTP(secret).now())
    assert ok.status_code == 302 and third.get("/queues").status_code == 200


def test_wrong_codes_lock_and_sign_out(web_app):
    client = web_client(web_app)
    email = new_user(web_app, "manager")
    password_step(client, email)
    secret = setup_secret(client)
    post_code(client, "/mfa/setup", pyotp.TOTP(secret).now())
    second = web_client(web_app)
    password_step(second, email)
    right = pyotp.TOTP(secret).now()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(mfa.MAX_FAILURES - 1):
        assert post_code(second, "/mfa", wrong).status_code == 401
    cookie_name = web_app.server.config["SESSION_COOKIE_NAME"]
    half_signed_in = second.get_cookie(cookie_name).value
    locked = post_code(second, "/mfa", wrong)
    assert locked.status_code == 429 and "Too many wrong codes" in locked.get_data(as_text=True)
    assert second.get("/queues").headers["Location"].startswith("/login")  # signed out
    # The server ended that session too: a copy of the old cookie is not even at the code step.
    replay = web_client(web_app)
    replay.set_cookie(cookie_name, half_signed_in)
    assert replay.get("/queues").headers["Location"].startswith("/login")
    third = web_client(web_app)
    password_step(third, email)
    forget_step(web_app, email)
    refused = post_code(third, "/mfa", pyotp.TOTP(secret).now())
    assert refused.status_code == 429  # still locked, even with the right code


def test_reset_sends_a_signed_in_manager_back_to_setup(web_app):
    client = web_client(web_app)
    email = new_user(web_app, "manager")
    password_step(client, email)
    post_code(client, "/mfa/setup", pyotp.TOTP(setup_secret(client)).now())
    assert client.get("/queues").status_code == 200
    with web_app.server.app_context(), unit_of_work() as session:
        assert mfa.reset_mfa(session, user_id(web_app, email), "admin@scope.example") is True
    response = client.get("/queues")
    assert response.status_code == 302 and response.headers["Location"].endswith("/mfa/setup")
    assert render_page(client, "/queues")[0] == 403
    fresh = web_client(web_app)
    assert password_step(fresh, email).headers["Location"].endswith("/mfa/setup")


@pytest.mark.parametrize("role", ["adjuster", "viewer"])
def test_mfa_optional_for_other_roles_but_enforced_once_enrolled(web_app, role):
    client = web_client(web_app)
    email = new_user(web_app, role)
    first = password_step(client, email)
    assert first.headers["Location"].endswith("/queues")
    page = client.get("/mfa/setup").get_data(as_text=True)
    assert "optional for your role" in page
    secret = setup_secret(client)
    assert post_code(client, "/mfa/setup", pyotp.TOTP(secret).now()).status_code == 200
    assert "has been on since" in client.get("/mfa/setup").get_data(as_text=True)
    again = web_client(web_app)
    assert password_step(again, email).headers["Location"].endswith("/mfa")
    assert again.get("/queues").headers["Location"].endswith("/mfa")


def test_mfa_pages_need_a_signed_in_user_and_csrf(web_app):
    client = web_client(web_app)
    for path in ("/mfa", "/mfa/setup"):
        assert client.get(path).headers["Location"].startswith("/login")
        assert client.post(path, data={"code": "123456"}).status_code in (400, 401, 403)
    email = new_user(web_app, "admin")
    password_step(client, email)
    assert client.post("/mfa/setup", data={"code": "123456"}).status_code == 400  # no CSRF token
