"""In the browser: an SIU investigator switches the morning digest off on the profile; the
save reaches the server (the card's controls are pattern-matching ids) and the choice
survives a reload. A manager widens alert emails to warning and critical. An adjuster
switches the emails about claims assigned to them off and keeps the late-claims digest. A viewer
switches the weekly summary off."""
from __future__ import annotations

import pytest
from sqlalchemy import delete

from db.models import NotificationPreference
from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def no_choices(app_session):
    app_session(lambda s: s.execute(delete(NotificationPreference)))
    yield
    app_session(lambda s: s.execute(delete(NotificationPreference)))


def test_investigator_switches_the_digest_off_and_it_stays_off(page, live_server):
    sign_in(page, live_server, "investigator@scope.example", "scope-demo-investigator")
    page.goto(live_server + "/profile")
    page.wait_for_selector("#profile-notify")
    assert page.locator("#profile-notify-alerts").count() == 0       # no Alerts page, no alert emails
    digest = page.locator("#profile-notify-siu input[type=checkbox]")
    assert digest.is_checked()
    digest.uncheck()
    page.click("#profile-notify-save")
    page.wait_for_selector("#profile-notify-status .alert-success", timeout=15000)
    assert "no SIU task digest" in page.inner_text("#profile-notify-status")
    page.reload()
    page.wait_for_selector("#profile-notify")
    assert not page.locator("#profile-notify-siu input[type=checkbox]").is_checked()
    assert page.console_errors == []


def test_manager_widens_alert_emails_to_warnings(page, live_server):
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/profile")
    page.wait_for_selector("#profile-notify-alerts")
    page.locator("#profile-notify-alerts label", has_text="Warning and critical").click()
    page.click("#profile-notify-save")
    page.wait_for_selector("#profile-notify-status .alert-success", timeout=15000)
    assert "warning and critical alerts" in page.inner_text("#profile-notify-status")
    screenshot(page, "profile_notifications")
    assert page.console_errors == []


def test_adjuster_switches_assignment_emails_off_and_keeps_the_late_claims_digest(page, live_server):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/profile")
    page.wait_for_selector("#profile-notify-claims")
    assert page.locator("#profile-notify-alerts").count() == 0 and page.locator("#profile-notify-siu").count() == 0
    switches = page.locator("#profile-notify-claims input[type=checkbox]")
    assert switches.count() == 2 and switches.nth(0).is_checked() and switches.nth(1).is_checked()  # on by default
    switches.nth(0).uncheck()
    page.click("#profile-notify-save")
    page.wait_for_selector("#profile-notify-status .alert-success", timeout=15000)
    assert "no emails about claims assigned to you" in page.inner_text("#profile-notify-status")
    page.reload()
    page.wait_for_selector("#profile-notify-claims")
    switches = page.locator("#profile-notify-claims input[type=checkbox]")
    assert not switches.nth(0).is_checked() and switches.nth(1).is_checked()
    screenshot(page, "profile_notifications_adjuster")
    assert page.console_errors == []


def test_viewer_switches_the_weekly_summary_off_and_it_stays_off(page, live_server):
    sign_in(page, live_server, "viewer@scope.example", "scope-demo-viewer")
    page.goto(live_server + "/profile")
    page.wait_for_selector("#profile-notify-kpi")
    weekly = page.locator("#profile-notify-kpi input[type=checkbox]")
    assert weekly.count() == 1 and weekly.is_checked()                  # on by default for viewers
    weekly.uncheck()
    page.click("#profile-notify-save")
    page.wait_for_selector("#profile-notify-status .alert-success", timeout=15000)
    assert "no weekly summary" in page.inner_text("#profile-notify-status")
    page.reload()
    page.wait_for_selector("#profile-notify-kpi")
    assert not page.locator("#profile-notify-kpi input[type=checkbox]").is_checked()
    screenshot(page, "profile_notifications_viewer")
    assert page.console_errors == []
