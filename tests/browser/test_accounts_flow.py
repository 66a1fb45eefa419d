"""An admin invites a colleague; the invitation arrives in the mail sink; the
colleague accepts it, signs in and sees their profile."""
# ruff: noqa: F811
# (pytest fixtures imported from tests.mailsink are test parameters here)
from __future__ import annotations

import time

import pytest

from tests.browser.conftest import choose_option, screenshot
from tests.browser.test_claim_flow import sign_in
from tests.mailsink import link_in, mail_sink_server, web_mail  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_admin_invites_a_user_who_accepts_and_signs_in(page, browser, live_server, web_mail):
    email = f"casey.browser{time.time_ns() % 10**8}@scope.example"
    sign_in(page, live_server, "admin@scope.example", "scope-demo-admin")
    page.goto(live_server + "/admin/users")
    page.wait_for_selector("#users-table")
    page.fill("#user-new-email", email)
    page.fill("#user-new-name", "Casey Browser")
    choose_option(page, "user-new-departments", "Auto Glass")
    page.click("#user-new-submit")
    page.wait_for_selector("#user-new-status .alert-success", timeout=15000)
    assert f"Invited {email}" in page.inner_text("#user-new-status")
    page.wait_for_selector(f"tr.user-row[data-email='{email}']", timeout=10000)
    assert "invited" in page.inner_text(f"tr.user-row[data-email='{email}']")
    screenshot(page, "admin_users")

    path, token = link_in(web_mail.wait_for(email, "invited"))
    invitee = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    invitee.goto(f"{live_server}{path}?token={token}")
    assert email in invitee.inner_text("main")
    invitee.fill("#name", "Casey Browser")
    invitee.fill("#password", "glass and gravel and rain")
    invitee.fill("#confirm", "glass and gravel and rain")
    invitee.click("button[type=submit]")
    invitee.wait_for_selector(".alert-success")
    assert "Your account is ready" in invitee.inner_text(".alert-success")
    sign_in(invitee, live_server, email, "glass and gravel and rain")
    invitee.goto(live_server + "/profile")
    invitee.wait_for_selector("#profile-summary")
    assert "verified" in invitee.inner_text("#profile-email-verified")
    assert invitee.inner_text("#nav-profile-link") == "Casey Browser"
    screenshot(invitee, "profile")
    invitee.context.close()
    assert page.console_errors == []
