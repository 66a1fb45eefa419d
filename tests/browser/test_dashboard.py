"""A manager filters the executive dashboard by department: the URL and the KPIs follow."""
from __future__ import annotations

import pytest

from tests.browser.conftest import choose_option, screenshot
from tests.browser.test_claim_flow import sign_in, wait_for_charts

pytestmark = pytest.mark.browser


def _refresh_rollups(web_app):
    from db.flask_db import unit_of_work
    from services.aggregates import refresh

    with web_app.server.app_context():
        with unit_of_work() as session:
            refresh(session)


def test_manager_filters_dashboard_by_department(page, live_server, web_app):
    _refresh_rollups(web_app)
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/dashboard")
    wait_for_charts(page, 4)
    page.wait_for_selector("#kpi-received", timeout=15000)
    before = page.inner_text("#kpi-received")
    assert int(before.replace(",", "")) > 0
    screenshot(page, "dashboard")

    choose_option(page, "dashboard-department", "Property")
    page.wait_for_function("window.location.search.includes('department=PROPERTY')", timeout=15000)
    page.wait_for_function(f"document.querySelector('#kpi-received') && "
                           f"document.querySelector('#kpi-received').innerText !== {before!r}", timeout=15000)
    after = int(page.inner_text("#kpi-received").replace(",", ""))
    assert 0 < after < int(before.replace(",", ""))
    assert "start=" in page.evaluate("window.location.search")
    screenshot(page, "dashboard-property")

    # plotly's drag layer sits over the bars, so click where the bar is drawn
    box = page.locator("#dashboard-departments .bars path").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#dashboard-drill-body a", timeout=15000)
    assert page.locator("#dashboard-drill-body a").count() > 0
    page.wait_for_selector(".modal.show", timeout=5000)
    page.wait_for_timeout(500)  # let the fade-in finish before the screenshot
    screenshot(page, "dashboard-drill")
    assert page.console_errors == []
