"""A manager opens Operations, filters by department: the URL and the figures follow."""
from __future__ import annotations

import pytest

from tests.browser.conftest import choose_option, screenshot
from tests.browser.test_claim_flow import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture()
def page(browser):
    """The shared page fixture, with the site's Content-Security-Policy bypassed so that
    Playwright's wait_for_function (it evaluates strings) can run."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, bypass_csp=True)
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda msg: msg.type == "error" and pg.console_errors.append(msg.text))
    pg.on("pageerror", lambda exc: pg.console_errors.append(str(exc)))
    yield pg
    context.close()


def _refresh_rollups(web_app):
    from db.flask_db import unit_of_work
    from services.aggregates import refresh

    with web_app.server.app_context():
        with unit_of_work() as session:
            refresh(session)


def wait_for_charts(page, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n}", timeout=45000)


def _number(page, selector: str) -> str:
    return page.inner_text(selector).strip()


def test_manager_filters_operations_by_department(page, live_server, web_app):
    _refresh_rollups(web_app)
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/operations")
    wait_for_charts(page, 7)
    page.wait_for_selector("#ops-kpi-open", timeout=15000)
    before = {k: _number(page, f"#ops-kpi-{k}") for k in ("open", "accuracy", "moves", "agreement")}
    assert int(before["open"].replace(",", "")) > 0
    # the demo history gives routing quality real content on a first start
    assert before["accuracy"] != "—" and before["agreement"] != "—"
    assert page.locator("#ops-sankey .sankey-node").count() > 0
    assert page.locator("#ops-confusion .hm, #ops-confusion .heatmaplayer").count() > 0
    page.wait_for_timeout(500)
    screenshot(page, "operations")
    # Department names sit outside the flows, not over them (also on a laptop screen).
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.wait_for_timeout(800)
    outside = page.evaluate("""(() => {
        const links = [...document.querySelectorAll('#ops-sankey .sankey-link')].map(e => e.getBoundingClientRect());
        const lo = Math.min(...links.map(r => r.left)), hi = Math.max(...links.map(r => r.right));
        return [...document.querySelectorAll('#ops-sankey .annotation')].map(e => e.getBoundingClientRect())
            .map(r => r.right <= lo + 1 || r.left >= hi - 1);
    })()""")
    assert outside and all(outside), outside
    screenshot(page, "operations_1280")
    page.set_viewport_size({"width": 1440, "height": 1000})

    choose_option(page, "ops-department", "Property")
    page.wait_for_function("window.location.search.includes('department=PROPERTY')", timeout=15000)
    # the cards are re-rendered (empty while loading), then show the department's figure
    for _ in range(60):
        shown = page.locator("#ops-kpi-open").all_inner_texts()
        if shown and shown[0].strip() and shown[0] != before["open"]:
            break
        page.wait_for_timeout(250)
    after = int(_number(page, "#ops-kpi-open").replace(",", ""))
    assert 0 < after < int(before["open"].replace(",", ""))
    assert "start=" in page.evaluate("window.location.search")
    assert page.locator("#ops-adjusters tbody tr").count() >= 1
    page.wait_for_timeout(500)
    screenshot(page, "operations-property")
    assert page.console_errors == []


def test_adjuster_is_not_allowed(page, live_server):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/operations")
    page.wait_for_selector(".alert-danger", timeout=15000)
    assert "Not allowed" in page.inner_text(".alert-danger")
    assert page.locator("#ops-kpi-open").count() == 0

