"""Single sign-on end to end against a local OpenID Connect provider
(tests/oidc_provider.py): code flow with state, nonce and PKCE; groups map to
the highest role; unmapped, unverified and deactivated users are refused;
tampered nonce and state are refused."""
from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from db.flask_db import unit_of_work
from db.models import AuditLog, OidcIdentity, User
from tests import oidc_provider
from tests.mfautil import web_client

GROUP_ROLES = "scope-admins=admin,scope-managers=manager,scope-adjusters=adjuster,scope-viewers=viewer"


@pytest.fixture(scope="module")
def idp():
    provider, server = oidc_provider.start()
    yield provider
    server.shutdown()


@pytest.fixture()
def sso(web_app, idp, monkeypatch):
    settings = web_app.server.config["SCOPE_SETTINGS"].with_(
        oidc_issuer=idp.issuer, oidc_client_id=oidc_provider.CLIENT_ID,
        oidc_client_secret=oidc_provider.CLIENT_SECRET, oidc_group_roles=GROUP_ROLES,
        oidc_provider_name="Test IdP")
    settings.validate()
    monkeypatch.setitem(web_app.server.config, "SCOPE_SETTINGS", settings)
    idp.tamper_nonce = False
    return idp


def person(groups, *, amr=None, verified=True, email=None, sub=None) -> dict:
    tag = secrets.token_hex(4)
    claims = {"sub": sub or f"idp-{tag}", "email": email or f"sso-{tag}@corp.example",
              "email_verified": verified, "name": f"Sso Person {tag}", "groups": groups}
    if amr is not None:
        claims["amr"] = amr
    return claims


def csrf_of(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def start(client, next_url: str = "/queues"):
    response = client.post("/login/oidc", data={"csrf_token": csrf_of(client, "/login"), "next": next_url})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response.headers["Location"]


def at_provider(authorize_url: str) -> str:
    """The browser at the provider: it signs the configured user in and redirects back."""
    response = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:300]
    back = urlsplit(response.headers["Location"])
    assert back.path == "/login/oidc/callback"
    return back.path + "?" + back.query


def sso_login(client, idp, claims: dict, next_url: str = "/queues"):
    idp.user = claims
    return client.get(at_provider(start(client, next_url)))


def user_by_email(web_app, email: str) -> User | None:
    with web_app.server.app_context(), unit_of_work() as session:
        return session.scalar(select(User).where(User.email == email))


def test_login_page_shows_the_button_only_when_configured(web_app, idp):
    client = web_client(web_app)
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with" not in page
    assert client.post("/login/oidc", data={"csrf_token": csrf_of(client, "/login")}).status_code == 404
    assert client.get("/login/oidc/callback?code=x&state=y").status_code == 404


def test_code_flow_uses_state_nonce_and_pkce_and_maps_the_highest_group(web_app, sso):
    client = web_client(web_app)
    login_page = client.get("/login")
    assert "Sign in with Test IdP" in login_page.get_data(as_text=True)
    # The button's form redirects to the provider: the page's CSP form-action must allow it.
    csp = login_page.headers.get("Content-Security-Policy", "")
    assert "form-action" not in csp or f"form-action 'self' {sso.issuer}" in csp
    claims = person(["scope-viewers", "scope-managers", "unrelated"], amr=["pwd", "mfa"])
    response = sso_login(client, sso, claims)
    assert response.status_code == 302 and response.headers["Location"].endswith("/queues")
    asked = sso.authorize_requests[-1]
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) >= 43
    assert asked["state"] and asked["nonce"] and "openid" in asked["scope"].split()
    assert sso.token_requests[-1]["code_verifier"]
    user = user_by_email(web_app, claims["email"])
    assert user.role == "manager" and user.password_hash is None and user.is_active
    with web_app.server.app_context(), unit_of_work() as session:
        identity = session.scalar(select(OidcIdentity).where(OidcIdentity.user_id == user.id))
        assert (identity.issuer, identity.subject) == (sso.issuer, claims["sub"])
    # The provider reported MFA (amr), so no local second step for this manager.
    assert client.get("/queues").status_code == 200


def test_manager_without_provider_mfa_takes_the_local_totp_step(web_app, sso):
    client = web_client(web_app)
    response = sso_login(client, sso, person(["scope-managers"], amr=["pwd"]))
    assert response.headers["Location"].endswith("/mfa/setup")
    assert client.get("/queues").headers["Location"].endswith("/mfa/setup")


def test_adjuster_signs_in_and_role_follows_the_provider(web_app, sso):
    client = web_client(web_app)
    claims = person(["scope-adjusters"])
    assert sso_login(client, sso, claims).headers["Location"].endswith("/queues")
    assert client.get("/queues").status_code == 200
    assert user_by_email(web_app, claims["email"]).role == "adjuster"
    # Moved to the viewers group at the provider: a viewer at the next sign-in, same account.
    claims["groups"] = ["scope-viewers"]
    again = web_client(web_app)
    assert sso_login(again, sso, claims).status_code == 302
    user = user_by_email(web_app, claims["email"])
    assert user.role == "viewer"
    with web_app.server.app_context(), unit_of_work() as session:
        changes = session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "user.role_change", AuditLog.target_id == str(user.id)))
        assert changes == 1


def test_unmapped_group_is_refused_with_a_clear_message(web_app, sso):
    client = web_client(web_app)
    claims = person(["marketing"])
    response = sso_login(client, sso, claims)
    assert response.status_code == 403
    assert "not in a group that has access" in response.get_data(as_text=True)
    assert user_by_email(web_app, claims["email"]) is None
    assert client.get("/queues").headers["Location"].startswith("/login")
    with web_app.server.app_context(), unit_of_work() as session:
        refused = session.scalar(select(AuditLog).where(AuditLog.action == "auth.sso_refused",
                                                        AuditLog.actor == claims["email"]))
        assert refused.after["reason"] == "no mapped group"


def test_existing_account_is_linked_by_verified_email_only(web_app, sso):
    email = f"linked-{secrets.token_hex(4)}@scope.example"
    with web_app.server.app_context(), unit_of_work() as session:
        session.add(User(email=email, role="viewer", name="Linked", password_hash=None))
    unverified = sso_login(web_client(web_app), sso, person(["scope-adjusters"], email=email,
                                                                      verified=False))
    assert unverified.status_code == 403 and "verified email" in unverified.get_data(as_text=True)
    claims = person(["scope-adjusters"], email=email)
    assert sso_login(web_client(web_app), sso, claims).status_code == 302
    user = user_by_email(web_app, email)
    assert user.role == "adjuster"
    with web_app.server.app_context(), unit_of_work() as session:
        assert session.scalar(select(OidcIdentity.user_id).where(OidcIdentity.subject == claims["sub"])) == user.id


def test_deactivated_user_is_refused(web_app, sso):
    claims = person(["scope-adjusters"])
    assert sso_login(web_client(web_app), sso, claims).status_code == 302
    with web_app.server.app_context(), unit_of_work() as session:
        session.scalar(select(User).where(User.email == claims["email"])).is_active = False
    client = web_client(web_app)
    response = sso_login(client, sso, claims)
    assert response.status_code == 403 and "deactivated" in response.get_data(as_text=True)
    assert client.get("/queues").headers["Location"].startswith("/login")


def test_nonce_mismatch_is_refused(web_app, sso):
    sso.tamper_nonce = True
    client = web_client(web_app)
    claims = person(["scope-admins"], amr=["mfa"])
    response = sso_login(client, sso, claims)
    assert response.status_code == 400 and "could not be verified" in response.get_data(as_text=True)
    assert user_by_email(web_app, claims["email"]) is None
    assert client.get("/queues").headers["Location"].startswith("/login")


def test_state_mismatch_and_replayed_callback_are_refused(web_app, sso):
    sso.user = person(["scope-admins"], amr=["mfa"])
    client = web_client(web_app)
    callback = at_provider(start(client))
    forged = re.sub(r"state=[^&]+", "state=forged-state", callback)
    refused = client.get(forged)
    assert refused.status_code == 400 and "did not complete" in refused.get_data(as_text=True)
    assert client.get("/queues").headers["Location"].startswith("/login")
    # The same callback in another browser (no state in its session): refused.
    other = web_client(web_app)
    assert other.get(callback).status_code == 400
    # The right browser still completes once; the code cannot be used a second time.
    assert client.get(callback).status_code == 302
    third = web_client(web_app)
    assert third.get(callback).status_code == 400


def test_provider_error_is_refused(web_app, sso):
    client = web_client(web_app)
    start_url = start(client)
    state = parse_qs(urlsplit(start_url).query)["state"][0]
    response = client.get(f"/login/oidc/callback?error=access_denied&state={state}")
    assert response.status_code == 400
