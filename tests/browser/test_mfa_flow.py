"""Two-step sign-in and single sign-on in a real browser."""
from __future__ import annotations

import secrets

import pyotp
import pytest

from db.flask_db import unit_of_work
from services.users import create_user
from tests import mfautil, oidc_provider
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser
PASSWORD = "a long browser passphrase for mfa"


def test_new_admin_must_enrol_before_anything_else(page, browser, live_server, web_app, web_database_url):
    email = f"browser-admin-{secrets.token_hex(3)}@scope.example"
    with web_app.server.app_context(), unit_of_work() as session:
        create_user(session, email=email, role="admin", password=PASSWORD, name="Alex Admin")
    page.goto(live_server + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/mfa/setup")
    assert page.locator(".scope-qr svg").is_visible()
    screenshot(page, "mfa_setup")
    page.goto(live_server + "/admin/jobs")
    assert page.url.endswith("/mfa/setup")  # held on set-up
    secret = page.inner_text("#mfa-secret").replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form[action='/mfa/setup'] button[type=submit]")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    screenshot(page, "mfa_recovery_codes")
    page.click("text=I have saved them")
    page.wait_for_selector(".scope-navbar")
    assert page.console_errors == []

    # Next sign-in, in another browser: the code step.
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        again = context.new_page()
        again.goto(live_server + "/login")
        again.fill("#email", email)
        again.fill("#password", PASSWORD)
        again.click("button[type=submit]")
        again.wait_for_url("**/mfa")
        screenshot(again, "mfa_code")
        mfautil.KNOWN_SECRETS[email] = secret
        mfautil.forget_last_step(web_database_url, email)  # the set-up code's step is spent
        again.fill("#code", pyotp.TOTP(secret).now())
        again.click("form[action='/mfa'] button[type=submit]")
        again.wait_for_selector(".scope-navbar")
    finally:
        context.close()


def test_sign_in_with_the_identity_provider(page, live_server, web_app, monkeypatch):
    provider, server = oidc_provider.start()
    try:
        settings = web_app.server.config["SCOPE_SETTINGS"].with_(
            oidc_issuer=provider.issuer, oidc_client_id=oidc_provider.CLIENT_ID,
            oidc_client_secret=oidc_provider.CLIENT_SECRET, oidc_provider_name="Contoso ID",
            oidc_group_roles="scope-adjusters=adjuster,scope-managers=manager")
        monkeypatch.setitem(web_app.server.config, "SCOPE_SETTINGS", settings)
        provider.user = {"sub": "browser-" + secrets.token_hex(3), "email": f"sam-{secrets.token_hex(3)}@corp.example",
                         "email_verified": True, "name": "Sam Single", "groups": ["scope-adjusters"]}
        page.goto(live_server + "/login")
        button = page.locator("#sso-button")
        assert button.inner_text() == "Sign in with Contoso ID"
        screenshot(page, "login_sso")
        button.click()
        page.wait_for_selector(".scope-navbar")
        assert "Sam Single" in page.inner_text(".scope-navbar")
    finally:
        server.shutdown()
