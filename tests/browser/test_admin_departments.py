"""An admin changes Property's service level on the Departments page, and Workload
shows the new level at once; a manager is not allowed on the page."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in

pytestmark = pytest.mark.browser
ROW = "#dept-row-PROPERTY"


def _property_level(web_app, set_to: int | None = None) -> int:
    from db.flask_db import unit_of_work
    from db.models import Department

    with web_app.server.app_context(), unit_of_work() as session:
        if set_to is not None:
            session.execute(update(Department).where(Department.code == "PROPERTY").values(sla_days=set_to))
        return session.scalar(select(Department.sla_days).where(Department.code == "PROPERTY"))


@pytest.fixture()
def property_level(web_app):
    """Property's level before the test, put back after it (the web database is shared)."""
    before = _property_level(web_app)
    yield before
    _property_level(web_app, set_to=before)


def test_admin_changes_a_service_level_and_workload_follows(page, live_server, web_app, property_level):
    new = 30 if property_level != 30 else 45
    sign_in(page, live_server, "admin@scope.example", "scope-demo-admin")
    page.click("#nav-admin-menu")
    page.click("text=Departments")
    page.wait_for_selector("#departments-table")
    assert page.input_value(f"{ROW} input") == str(property_level)
    past_before = int(page.inner_text("#dept-past-PROPERTY").replace(",", ""))

    # an impossible value is refused with a message and saves nothing
    page.fill(f"{ROW} input", "0")
    page.click(f"{ROW} button")
    page.wait_for_selector("#departments-result.alert-danger")
    assert "whole number of days from 1 to 3650" in page.inner_text("#departments-result")
    assert _property_level(web_app) == property_level

    page.fill(f"{ROW} input", str(new))
    page.click(f"{ROW} button")
    page.wait_for_selector("#departments-result.alert-success")
    assert page.inner_text("#departments-result").startswith(
        f"Saved: Property has a service level of {new} days (was {property_level}).")
    assert _property_level(web_app) == new
    page.wait_for_function(f"document.querySelector('{ROW} input').value === '{new}'", timeout=10000)
    past_after = int(page.inner_text("#dept-past-PROPERTY").replace(",", ""))
    assert past_after >= past_before if new < property_level else past_after <= past_before
    screenshot(page, "admin_departments")

    page.goto(live_server + "/workload")
    page.wait_for_selector("#workload-past-sla-PROPERTY", timeout=30000)
    card = page.locator(".workload-card", has=page.locator("#workload-past-sla-PROPERTY"))
    assert f"Service level {new} days" in card.inner_text()
    assert page.inner_text("#workload-past-sla-PROPERTY") == f"{past_after:,} past it"
    assert page.console_errors == []


def test_manager_is_not_allowed_on_the_departments_page(page, live_server):
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/admin/departments")
    page.wait_for_selector(".alert-danger")
    assert "Not allowed" in page.inner_text(".alert-danger")
    assert page.locator("#departments-table").count() == 0
