"""Threshold alerts in a real browser: a manager creates a rule on the page, its
banner shows on other pages (dismissible per view), bad input is a message in
the editor, acknowledge and delete work; an adjuster's pages have no banners."""
from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in

pytestmark = pytest.mark.browser


def _refresh_rollups(web_app):
    from db.flask_db import unit_of_work
    from services.aggregates import refresh

    with web_app.server.app_context(), unit_of_work() as session:
        refresh(session)


def _banner(page, name: str):
    return page.locator(".alert-banner", has_text=name)


def _choose(page, dropdown_id: str, text: str) -> None:
    """Pick a dropdown option inside the editor (Escape, as choose_option uses, would close the modal)."""
    page.click(f"#{dropdown_id}")
    page.locator(".dash-dropdown-option", has_text=text).first.click()
    expect(page.locator(f"#{dropdown_id}")).to_contain_text(text, timeout=10000)
    page.click("#alert-form-title")


def _nav(page, label: str) -> None:
    page.locator(".scope-navbar .nav-link", has_text=label).first.click()


@pytest.fixture()
def cleanup(web_app):
    yield
    # Whatever happened, leave no rule (and so no banner) behind for other tests.
    from sqlalchemy import select

    from db.flask_db import unit_of_work
    from db.models import AlertRule
    from services.alerts import delete_rule

    with web_app.server.app_context(), unit_of_work() as session:
        for rule_id in session.scalars(select(AlertRule.id).where(AlertRule.name.like(f"{NAME}%"))).all():
            delete_rule(session, rule_id, actor="test-cleanup")


NAME = "Property backlog watch"


def test_manager_creates_a_rule_and_sees_its_banner(page, live_server, web_app, browser, cleanup):
    _refresh_rollups(web_app)
    name = f"{NAME} {uuid.uuid4().hex[:4]}"
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/alerts")
    page.wait_for_selector("#alerts-rules-table", timeout=15000)
    assert page.locator(".alert-rule-row").count() >= 4  # the default rules

    # A bad threshold is a message in the editor, and nothing is saved.
    page.click("#alerts-new")
    page.wait_for_selector("#alert-form-save", state="visible")
    page.fill("#alert-form-threshold", "150")
    page.click("#alert-form-save")
    page.wait_for_selector("#alert-form-error-msg", timeout=10000)
    assert "between 0 and 100" in page.inner_text("#alert-form-error-msg")
    page.click("#alert-form-cancel")
    page.wait_for_selector(".modal.show", state="detached", timeout=5000)

    page.click("#alerts-new")
    page.wait_for_selector("#alert-form-save", state="visible")
    _choose(page, "alert-form-metric", "Open backlog")
    expect(page.locator("#alert-form-unit")).to_have_text("claims", timeout=10000)
    page.fill("#alert-form-threshold", "5")  # the test data holds more open Property claims
    _choose(page, "alert-form-period", "Today")
    _choose(page, "alert-form-department", "Property")
    page.click("#alert-form-severity label:has-text('Critical')")
    page.fill("#alert-form-name", name)
    screenshot(page, "alerts-editor")
    page.click("#alert-form-save")
    page.wait_for_selector(".modal.show", state="detached", timeout=10000)
    page.wait_for_selector("#alerts-status-msg", timeout=10000)
    assert "created" in page.inner_text("#alerts-status-msg")
    row = page.locator(".alert-rule-row", has_text=name)
    row.wait_for(timeout=10000)
    assert "Breaching" in row.inner_text()
    assert page.locator(".alert-open-item", has_text=name).count() == 1

    # Its banner on another page, linking to /alerts; dismissed for this view only.
    _nav(page, "Dashboard")
    page.wait_for_url("**/dashboard", timeout=10000)
    _banner(page, name).wait_for(timeout=15000)
    assert _banner(page, name).locator("a[href='/alerts']").count() == 1
    page.wait_for_selector("#kpi-received", timeout=15000)
    screenshot(page, "alerts-banner")
    _banner(page, name).locator("button.btn-close").click()
    _banner(page, name).wait_for(state="detached", timeout=5000)
    _nav(page, "Queues")
    page.wait_for_url("**/queues", timeout=10000)
    _banner(page, name).wait_for(timeout=15000)

    _banner(page, name).locator("a[href='/alerts']").click()
    page.wait_for_url("**/alerts", timeout=10000)
    page.locator(".alert-open-item", has_text=name).wait_for(timeout=10000)
    screenshot(page, "alerts")

    # Acknowledged: still open on the page, no banner any more.
    page.locator(".alert-open-item", has_text=name).locator("button", has_text="Acknowledge").click()
    expect(page.locator("#alerts-status-msg")).to_contain_text("acknowledged", timeout=10000)
    expect(page.locator(".alert-open-item", has_text=name)).to_contain_text("Acknowledged by manager@scope.example",
                                                                           timeout=10000)
    _nav(page, "Dashboard")
    page.wait_for_selector("#kpi-received", timeout=15000)
    page.wait_for_timeout(800)
    assert _banner(page, name).count() == 0

    # An adjuster's pages carry no banner slot and raise no errors.
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    other = context.new_page()
    errors = []
    other.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    sign_in(other, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    other.goto(live_server + "/queues")
    other.wait_for_selector(".scope-navbar")
    other.wait_for_timeout(1000)
    assert other.locator("#alert-banners").count() == 0
    assert not [e for e in errors if "403" in e or "500" in e], errors
    context.close()

    # Delete it through the page: gone from rules and open alerts, kept in history.
    page.goto(live_server + "/alerts")
    row = page.locator(".alert-rule-row", has_text=name)
    row.wait_for(timeout=10000)
    row.locator("button", has_text="Delete").click()
    page.wait_for_selector("#alert-delete-confirm", state="visible")
    page.click("#alert-delete-confirm")
    expect(page.locator("#alerts-status-msg")).to_contain_text("deleted", timeout=10000)
    expect(page.locator(".alert-rule-row", has_text=name)).to_have_count(0, timeout=10000)
    expect(page.locator(".alert-open-item", has_text=name)).to_have_count(0, timeout=10000)
    expect(page.locator(".alert-history-row", has_text=name)).to_have_count(1, timeout=10000)
    assert not [e for e in page.console_errors if "403" in e or "500" in e], page.console_errors
