"""Accounts through the web app as a browser uses it: the admin users page and
its callbacks, the profile page, and the emailed-link pages, with the mail
read from the development sink."""
# ruff: noqa: F811
# (pytest fixtures imported from tests.mailsink are test parameters here)
from __future__ import annotations

import itertools
import json
import re
import statistics
import time

import pytest
from sqlalchemy import func, select

from db.models import AuditLog, User
from tests.conftest import as_browser, login
from tests.mailsink import link_in, mail_sink_server, web_mail  # noqa: F401  (fixtures)
from tests.webutil import render_page

_seq = itertools.count()
PASSWORD = "a web test passphrase"


# ---- helpers ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def admin(web_app):
    """One signed-in admin browser for the module (each sign-in is rate-limited and asks for MFA)."""
    client = web_app.server.test_client()
    response = login(client, "admin@scope.example", "scope-demo-admin")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def _key(web_app, needle: str) -> str:
    keys = [k for k in web_app.callback_map if needle in k]
    assert len(keys) == 1, (needle, keys)
    return keys[0]


def _outputs(key: str) -> list[dict]:
    parts = key.strip(".").split("...")
    return [dict(zip(("id", "property"), part.rsplit(".", 1))) for part in parts]


def dash_call(client, web_app, needle: str, inputs: list[tuple], state: list[tuple] = (), changed: str | None = None):
    """POST one callback; inputs/state as (id, property, value). Returns (status, response dict)."""
    key = _key(web_app, needle)
    body = {
        "output": key, "outputs": _outputs(key) if key.startswith("..") else _outputs(key)[0],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [changed or f"{inputs[0][0]}.{inputs[0][1]}"],
    }
    response = client.post("/_dash-update-component", json=body)
    if response.status_code != 200:
        return response.status_code, None
    return 200, json.loads(response.get_data(as_text=True))["response"]


def _text(value) -> str:
    return json.dumps(value)


def add_user(client, web_app, *, mode="invite", email, name="", role="adjuster", departments=("AUTO_PD",),
             password=None, verified=False):
    return dash_call(client, web_app, "user-new-status.children", [("user-new-submit", "n_clicks", 1)], [
        ("user-new-mode", "value", mode), ("user-new-email", "value", email), ("user-new-name", "value", name),
        ("user-new-role", "value", role), ("user-new-departments", "value", list(departments)),
        ("user-new-password", "value", password), ("user-new-verified", "value", verified),
        ("users-version", "data", 0)])


MANAGE_INPUTS = ("user-manage-save", "user-manage-active", "user-manage-mfa", "user-manage-resend")


def manage(client, web_app, action: str, user_id, *, role=None, departments=None, active_label="Deactivate"):
    prop = {"user-manage-active": "submit_n_clicks", "user-manage-mfa": "submit_n_clicks"}
    inputs = [(i, prop.get(i, "n_clicks"), 1 if i == action else None) for i in MANAGE_INPUTS]
    return dash_call(client, web_app, "user-manage-active-button.children@", inputs, [
        ("user-manage-id", "data", user_id), ("user-manage-role", "value", role),
        ("user-manage-departments", "value", departments),
        ("user-manage-active-button", "children", active_label), ("users-version", "data", 1)],
        changed=f"{action}.{prop.get(action, 'n_clicks')}")


def new_user(web_app, role="viewer", departments=(), password=PASSWORD) -> tuple[int, str]:
    from db.flask_db import unit_of_work
    from services.users import create_user

    email = f"web-acc{next(_seq)}-{time.time_ns() % 10**8}@test.example"
    with web_app.server.app_context(), unit_of_work() as s:
        user = create_user(s, email=email, role=role, password=password, department_codes=list(departments),
                           email_verified=True)
        return user.id, email


def db_user(web_app, user_id: int) -> User:
    from db.flask_db import read_session

    with web_app.server.app_context():
        session = read_session()
        user = session.get(User, user_id)
        session.expunge(user)
        return user


def signed_in(web_app, email: str, password: str = PASSWORD):
    client = web_app.server.test_client()
    response = login(client, email, password)
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    return client


def is_signed_in(client) -> bool:
    status, body = render_page(client, "/profile")
    return status == 200 and "profile-email" in body


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def post_form(client, path: str, data: dict):
    page = client.get("/login") if path == "/forgot-password" else None
    html = (page or client.get(path + (f"?token={data['token']}" if "token" in data else ""))).get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": form_token(html)})


def audit_rows(web_app, target_id: int) -> int:
    from db.flask_db import read_session

    with web_app.server.app_context():
        return read_session().scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.target_type == "user", AuditLog.target_id == str(target_id)))


# ---- permissions -----------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["manager", "adjuster", "viewer"])
def test_admin_users_page_and_callbacks_are_refused_below_admin(client_for, web_app, role):
    client = client_for(role)
    status, body = render_page(client, "/admin/users")
    assert status == 200 and "Not allowed" in body and "admin@scope.example" not in body
    for needle in ("user-new-status.children", "users-list.children", "user-manage-modal.is_open",
                   "user-manage-active-button.children@"):
        response = client.post("/_dash-update-component", json={
            "output": _key(web_app, needle), "outputs": [], "inputs": [], "state": [], "changedPropIds": []})
        assert response.status_code == 403, needle
    target_id, _ = new_user(web_app)
    assert manage(client, web_app, "user-manage-active", target_id)[0] == 403
    assert db_user(web_app, target_id).is_active


def test_admin_sees_the_users_with_role_status_and_mfa(admin):
    status, body = render_page(admin, "/admin/users")
    assert status == 200
    for text in ("admin@scope.example", "viewer@scope.example", "users-table", "Add a user", "Last sign-in"):
        assert text in body
    assert "password_hash" not in body and "$argon2" not in body


def test_profile_needs_sign_in_and_shows_own_account_only(web_app, client_for):
    assert web_app.server.test_client().get("/profile").status_code in (302, 401)
    status, body = render_page(client_for("viewer"), "/profile")
    assert status == 200 and "viewer@scope.example" in body and "admin@scope.example" not in body
    assert "profile-mfa-link" in body and "optional for your role" in body
    # a viewer has no department of their own but sees every queue: the page says so instead of a dash
    assert "All departments (your role sees every queue)" in body
    _, body = render_page(client_for("adjuster"), "/profile")
    assert "Auto Physical Damage" in body and "All departments" not in body


def test_profile_links_to_api_tokens_for_those_who_may_keep_them(client_for):
    """/tokens was reachable only from a sentence on the New claim page."""
    _, body = render_page(client_for("adjuster"), "/profile")
    assert "profile-tokens-link" in body and "Manage API tokens" in body
    _, body = render_page(client_for("viewer"), "/profile")  # viewers keep no tokens
    assert "profile-tokens-link" not in body


# ---- invitation ------------------------------------------------------------------------------

def test_inviting_an_adjuster_without_departments_says_they_will_see_no_queues(admin, web_app):
    email = f"nodept{next(_seq)}-{time.time_ns() % 10**8}@test.example"
    status, response = add_user(admin, web_app, email=email, role="adjuster", departments=())
    assert status == 200 and "Invited " + email in _text(response)
    assert "no departments yet" in _text(response)


def test_a_created_user_is_not_said_to_be_emailed_when_the_mail_fails(admin, web_app, monkeypatch):
    config = web_app.server.config
    monkeypatch.setitem(config, "SCOPE_SETTINGS", config["SCOPE_SETTINGS"].with_(smtp_host=None))
    email = f"nomail{next(_seq)}-{time.time_ns() % 10**8}@test.example"
    status, response = add_user(admin, web_app, mode="create", email=email, password="a-long-enough-passw0rd!")
    text = _text(response)
    assert status == 200 and f"Created {email}." in text and "the email was not sent" in text
    assert "was emailed" not in text


def test_invite_mail_accept_and_sign_in(admin, web_app, web_mail):
    email = f"invitee{next(_seq)}-{time.time_ns() % 10**8}@test.example"
    status, response = add_user(admin, web_app, email=email.upper(), role="adjuster", departments=["AUTO_PD"])
    assert status == 200 and "Invited " + email in _text(response)
    assert "The invitation was emailed to them." in _text(response)
    assert "no departments yet" not in _text(response)
    message = web_mail.wait_for(email, "invited")
    path, token = link_in(message)
    assert path == "/accept-invite"

    visitor = as_browser(web_app.server.test_client())
    page = visitor.get(f"/accept-invite?token={token}")
    assert page.status_code == 200 and email in page.get_data(as_text=True)
    # The token in the address never goes out in a Referer to another site.
    assert '<meta name="referrer" content="same-origin">' in page.get_data(as_text=True)
    csrf = form_token(page.get_data(as_text=True))
    mismatch = visitor.post("/accept-invite", data={"token": token, "csrf_token": csrf, "name": "Ivy Invitee",
                                                    "password": PASSWORD, "confirm": PASSWORD + "x"})
    assert mismatch.status_code == 400 and "not the same" in mismatch.get_data(as_text=True)
    weak = visitor.post("/accept-invite", data={"token": token, "csrf_token": csrf, "name": "Ivy Invitee",
                                                "password": "qwerty123456", "confirm": "qwerty123456"})
    assert weak.status_code == 400 and "commonly used" in weak.get_data(as_text=True)
    accepted = visitor.post("/accept-invite", data={"token": token, "csrf_token": csrf, "name": "Ivy Invitee",
                                                    "password": PASSWORD, "confirm": PASSWORD})
    assert accepted.status_code == 302 and accepted.headers["Location"].startswith("/login")
    again = visitor.post("/accept-invite", data={"token": token, "csrf_token": csrf, "name": "Mallory",
                                                 "password": "another good passphrase",
                                                 "confirm": "another good passphrase"})
    assert again.status_code == 400 and "not valid any more" in again.get_data(as_text=True)

    client = signed_in(web_app, email)
    status, body = render_page(client, "/profile")
    assert "Ivy Invitee" in body and "verified" in body


def test_direct_creation_mails_a_verification_link_that_works_once(admin, web_app, web_mail):
    email = f"direct{next(_seq)}-{time.time_ns() % 10**8}@test.example"
    status, response = add_user(admin, web_app, mode="create", email=email, name="Dee Rect", role="viewer",
                                departments=[], password="direct web passphrase")
    assert status == 200 and "verification link" in _text(response)
    path, token = link_in(web_mail.wait_for(email, "Confirm your email"))
    visitor = as_browser(web_app.server.test_client())
    page = visitor.get(f"{path}?token={token}")
    assert page.status_code == 200
    confirmed = visitor.post(path, data={"token": token, "csrf_token": form_token(page.get_data(as_text=True))})
    assert confirmed.status_code == 200 and "is confirmed" in confirmed.get_data(as_text=True)
    assert visitor.get(f"{path}?token={token}").status_code == 400
    signed_in(web_app, email, "direct web passphrase")


# ---- password reset ------------------------------------------------------------------------------

_addresses = itertools.count(1)


def _forgot(web_app, email: str):
    """One reset request from a browser at an address of its own (the reset
    rate limit counts per address)."""
    client = as_browser(web_app.server.test_client())
    n = next(_addresses)
    client.environ_base["REMOTE_ADDR"] = f"10.251.{n // 250}.{n % 250 + 1}"
    page = client.get("/forgot-password")
    started = time.perf_counter()
    response = client.post("/forgot-password", data={"email": email, "csrf_token": form_token(
        page.get_data(as_text=True))})
    return response, time.perf_counter() - started


def test_reset_by_email_end_to_end_ends_sessions_and_works_once(web_app, web_mail):
    _, email = new_user(web_app)
    old_browser = signed_in(web_app, email)
    assert is_signed_in(old_browser)

    response, _ = _forgot(web_app, email)
    assert response.status_code == 200
    path, token = link_in(web_mail.wait_for(email, "Reset your"))
    assert path == "/reset-password"
    visitor = as_browser(web_app.server.test_client())
    page = visitor.get(f"/reset-password?token={token}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    csrf = form_token(page.get_data(as_text=True))
    short = visitor.post("/reset-password", data={"token": token, "csrf_token": csrf, "password": "too short",
                                                  "confirm": "too short"})
    assert short.status_code == 400 and "at least 12" in short.get_data(as_text=True)
    done = visitor.post("/reset-password", data={"token": token, "csrf_token": csrf,
                                                 "password": "the reset passphrase", "confirm": "the reset passphrase"})
    assert done.status_code == 200 and "Password changed" in done.get_data(as_text=True)
    web_mail.wait_for(email, "was changed")

    assert not is_signed_in(old_browser)  # the old session cookie is refused
    assert login(as_browser(web_app.server.test_client()), email, PASSWORD).status_code != 302
    signed_in(web_app, email, "the reset passphrase")
    reused = visitor.post("/reset-password", data={"token": token, "csrf_token": csrf,
                                                   "password": "yet another passphrase",
                                                   "confirm": "yet another passphrase"})
    assert reused.status_code == 400 and "not valid any more" in reused.get_data(as_text=True)


def test_reset_answer_is_the_same_for_unknown_and_known_addresses(web_app, web_mail):
    _, email = new_user(web_app)
    known_times, unknown_times, bodies = [], [], set()
    for i in range(3):
        known, t_known = _forgot(web_app, email)
        unknown, t_unknown = _forgot(web_app, f"nobody{i}-{time.time_ns()}@test.example")
        assert known.status_code == unknown.status_code == 200
        bodies |= {known.get_data(as_text=True), unknown.get_data(as_text=True)}
        known_times.append(t_known)
        unknown_times.append(t_unknown)
    assert len(bodies) == 1  # byte for byte
    assert "If an account exists for that address" in bodies.pop()
    # The mail goes out in the background, so a known address is not measurably slower.
    assert abs(statistics.median(known_times) - statistics.median(unknown_times)) < 0.25
    assert len(web_mail.to(email)) >= 1


def test_reset_link_dies_when_the_password_is_changed_on_the_profile(web_app, web_mail):
    _, email = new_user(web_app)
    _forgot(web_app, email)
    _, token = link_in(web_mail.wait_for(email, "Reset your"))
    client = signed_in(web_app, email)
    status, response = dash_call(client, web_app, "profile-password-status.children",
                                 [("profile-password-save", "n_clicks", 1)],
                                 [("profile-current-password", "value", PASSWORD),
                                  ("profile-new-password", "value", "profile new passphrase"),
                                  ("profile-confirm-password", "value", "profile new passphrase")])
    assert status == 200 and "Password changed" in _text(response)
    assert as_browser(web_app.server.test_client()).get(f"/reset-password?token={token}").status_code == 400


# ---- profile -----------------------------------------------------------------------------------

def test_password_change_keeps_this_session_and_ends_the_others(web_app, web_mail):
    user_id, email = new_user(web_app)
    here, elsewhere = signed_in(web_app, email), signed_in(web_app, email)
    wrong = dash_call(here, web_app, "profile-password-status.children", [("profile-password-save", "n_clicks", 1)],
                      [("profile-current-password", "value", "not my password"),
                       ("profile-new-password", "value", "profile new passphrase"),
                       ("profile-confirm-password", "value", "profile new passphrase")])[1]
    assert "current password is not correct" in _text(wrong)
    assert is_signed_in(elsewhere)
    status, response = dash_call(here, web_app, "profile-password-status.children",
                                 [("profile-password-save", "n_clicks", 1)],
                                 [("profile-current-password", "value", PASSWORD),
                                  ("profile-new-password", "value", "profile new passphrase"),
                                  ("profile-confirm-password", "value", "profile new passphrase")])
    assert status == 200 and "1 other session signed out" in _text(response)
    assert db_user(web_app, user_id).failed_logins == 0  # the wrong try counted, the right one cleared it
    assert is_signed_in(here)
    assert not is_signed_in(elsewhere)  # the replayed cookie of the other browser is refused


def test_guessing_the_current_password_on_the_profile_locks_the_account(web_app):
    """A stolen session must not become a password-guessing oracle: wrong current
    passwords count toward sign-in's lockout, and a paused account refuses even the
    right password until the pause ends."""
    from services import lockout

    user_id, email = new_user(web_app)
    client = signed_in(web_app, email)

    def change(current: str, field: str = "password"):
        if field == "password":
            return _text(dash_call(client, web_app, "profile-password-status.children",
                                   [("profile-password-save", "n_clicks", 1)],
                                   [("profile-current-password", "value", current),
                                    ("profile-new-password", "value", "profile new passphrase"),
                                    ("profile-confirm-password", "value", "profile new passphrase")])[1])
        return _text(dash_call(client, web_app, "profile-email-status.children",
                               [("profile-email-save", "n_clicks", 1)],
                               [("profile-new-email", "value", "moved." + email),
                                ("profile-email-password", "value", current)])[1])

    for i in range(lockout.FREE_FAILURES):
        assert "current password is not correct" in change(f"guess {i}", "email" if i % 2 else "password")
    assert db_user(web_app, user_id).failed_logins == lockout.FREE_FAILURES
    assert db_user(web_app, user_id).locked_until is not None
    assert "paused" in change(PASSWORD)  # even the right password waits for the pause to end
    assert "paused" in change(PASSWORD, "email")
    assert login(as_browser(web_app.server.test_client()), email, PASSWORD).status_code != 302
    with web_app.server.app_context():
        from db.flask_db import read_session

        actions = read_session().scalars(select(AuditLog.action).where(AuditLog.target_id == str(user_id))).all()
    assert actions.count("account.reauth_failed") == lockout.FREE_FAILURES and "auth.lockout" in actions


def test_name_change_is_saved_and_bad_types_are_refused(web_app):
    user_id, email = new_user(web_app)
    client = signed_in(web_app, email)
    for bad in (["list"], {"x": 1}, "n" * 121, "   "):
        status, response = dash_call(client, web_app, "profile-name-status.children",
                                     [("profile-name-save", "n_clicks", 1)], [("profile-name", "value", bad)])
        assert status == 200 and "danger" in _text(response), bad
    status, response = dash_call(client, web_app, "profile-name-status.children",
                                 [("profile-name-save", "n_clicks", 1)], [("profile-name", "value", "  Ann   Other ")])
    assert "Ann Other" in _text(response)
    assert db_user(web_app, user_id).name == "Ann Other"


# ---- admin actions -------------------------------------------------------------------------------

def test_deactivation_ends_the_users_sessions_at_once_and_reactivation_restores_sign_in(admin, web_app):
    user_id, email = new_user(web_app)
    victim = signed_in(web_app, email)
    assert is_signed_in(victim)
    status, response = manage(admin, web_app, "user-manage-active", user_id)
    assert status == 200 and "is deactivated; 1 session ended" in _text(response)
    # the modal now shows the account as deactivated, and its button reactivates (and asks so)
    assert response["user-manage-active-button"] == {"children": "Reactivate", "color": "outline-success"}
    assert "deactivated" in _text(response["user-manage-facts"])
    assert response["user-manage-active"]["message"].startswith(f"Reactivate {email}?")
    assert not is_signed_in(victim)
    assert login(as_browser(web_app.server.test_client()), email, PASSWORD).status_code != 302
    status, response = manage(admin, web_app, "user-manage-active", user_id, active_label="Reactivate")
    assert "can sign in again" in _text(response)
    assert response["user-manage-active-button"]["children"] == "Deactivate"
    assert "signed out everywhere" in response["user-manage-active"]["message"] and email in _text(response)
    signed_in(web_app, email)


def test_role_and_department_change_is_saved_and_audited(admin, web_app):
    user_id, _ = new_user(web_app, role="adjuster", departments=["AUTO_PD"])
    status, response = manage(admin, web_app, "user-manage-save", user_id, role="manager",
                              departments=["AUTO_GLASS", "PROPERTY"])
    assert status == 200 and "is now Manager" in _text(response)
    user = db_user(web_app, user_id)
    assert user.role == "manager" and sorted(d.code for d in user.departments) == ["AUTO_GLASS", "PROPERTY"]
    from db.flask_db import read_session

    with web_app.server.app_context():
        row = read_session().scalars(select(AuditLog).where(AuditLog.action == "user.access_change",
                                                            AuditLog.target_id == str(user_id))).one()
        assert row.before == {"role": "adjuster", "departments": ["AUTO_PD"]}
        assert row.after == {"role": "manager", "departments": ["AUTO_GLASS", "PROPERTY"]}
        assert row.actor == "admin@scope.example"


@pytest.mark.parametrize("user_id, role, departments, message", [
    (10**9, "viewer", [], "No such user"),
    ("1", "viewer", [], "No such user"),
    (-3, "viewer", [], "No such user"),
    (None, "viewer", [], "No such user"),
    ({"id": 1}, "viewer", [], "No such user"),
    ("SELF", "superuser", [], "Choose a role"),
    ("SELF", "adjuster", ["AUTO_PD", "MARS"], "Unknown department: MARS"),
    ("SELF", "adjuster", "AUTO_PD", "list of department codes"),
    ("SELF", "adjuster", [{"code": "AUTO_PD"}], "list of department codes"),
])
def test_tampered_manage_payloads_get_a_clear_error_and_change_nothing(admin, web_app, user_id, role,
                                                                      departments, message):
    target_id, _ = new_user(web_app, role="adjuster", departments=["AUTO_PD"])
    before = audit_rows(web_app, target_id)
    status, response = manage(admin, web_app, "user-manage-save", target_id if user_id == "SELF" else user_id,
                              role=role, departments=departments)
    assert status == 200 and message in _text(response) and "danger" in _text(response)
    user = db_user(web_app, target_id)
    assert user.role == "adjuster" and [d.code for d in user.departments] == ["AUTO_PD"]
    assert audit_rows(web_app, target_id) == before


def test_tampered_invites_are_refused_and_nothing_is_written(admin, web_app):
    from db.flask_db import read_session

    def users() -> int:
        with web_app.server.app_context():
            return read_session().scalar(select(func.count()).select_from(User))

    count = users()
    for kwargs, message in (({"role": "owner"}, "Choose a role"), ({"departments": ["NOWHERE"]}, "Unknown department"),
                            ({"email": "not an email"}, "valid email"), ({"email": "admin@scope.example"},
                                                                          "already an account"),
                            ({"mode": "sudo"}, "invite or to create"),
                            ({"mode": "create", "password": "short"}, "at least 12"),
                            ({"mode": "create", "password": ["x"]}, "Enter a password")):
        args = {"email": f"tamper{next(_seq)}@test.example", **kwargs}
        status, response = add_user(admin, web_app, **args)
        assert status == 200 and message in _text(response), (kwargs, response)
    assert users() == count


def test_admin_cannot_deactivate_themselves(admin, web_app):
    from db.flask_db import read_session

    with web_app.server.app_context():
        admin_id = read_session().scalar(select(User.id).where(User.email == "admin@scope.example"))
    status, response = manage(admin, web_app, "user-manage-active", admin_id)
    assert status == 200 and "cannot deactivate your own account" in _text(response)
    assert db_user(web_app, admin_id).is_active
    assert is_signed_in(admin)


def test_the_users_list_counts_its_accounts_and_says_when_it_stops_at_the_limit(web_app):
    from pages.admin_users import users_table
    from services.accounts import LIST_LIMIT
    from tests.webutil import component_texts

    user = {"id": 1, "email": "a@scope.example", "name": "A", "role": "viewer", "status": "active",
            "departments": [], "email_verified": True, "last_login_at": None, "mfa_enrolled": False,
            "invite_expires_at": None}
    assert "1 account." in component_texts(users_table([user]))
    many = [dict(user, id=i, email=f"u{i}@scope.example") for i in range(LIST_LIMIT)]
    text = " ".join(component_texts(users_table(many)))
    assert f"Showing the {LIST_LIMIT:,} newest accounts only" in text and "search" in text


def test_opening_manage_names_the_user_in_the_questions_asked_before_acting(admin, web_app):
    user_id, email = new_user(web_app)
    key = _key(web_app, "user-manage-modal.is_open")

    def manage(ask):   # a row's Manage, as assets/62-row-actions.js puts it in the page's store
        return admin.post("/_dash-update-component", json={
            "output": key, "outputs": _outputs(key),
            "inputs": [{"id": "user-manage-ask", "property": "data", "value": ask}],
            "state": [], "changedPropIds": ["user-manage-ask.data"]})

    # The list redrawn (a search) posted every row's button; now nothing calls it but a click.
    assert not [k for k, entry in web_app.callback_map.items()
                if any('"user-manage"' in str(i.get("id")) for i in entry["inputs"])]
    for tampered in (None, {"id": user_id}, {"id": str(user_id), "at": 1}, {"id": True, "at": 1}, [user_id]):
        assert manage(tampered).status_code == 204, tampered
    response = manage({"id": user_id, "at": 1})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    out = json.loads(response.get_data(as_text=True))["response"]
    assert out["user-manage-active-button"] == {"children": "Deactivate", "color": "outline-danger"}
    assert out["user-manage-active"]["message"].startswith(f"Deactivate {email}?")
    assert "API tokens" in out["user-manage-active"]["message"]
    assert out["user-manage-mfa"]["message"].startswith(f"Remove {email}'s authenticator")
