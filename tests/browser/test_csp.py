"""Every page works under the real Content-Security-Policy: no violation, no
console error, and charts (Plotly) and grids (AG Grid) still draw."""
from __future__ import annotations

import dash
import pytest
from sqlalchemy import select

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

# Reported to the console (which the test collects) from inside the page; an
# init script is injected by the browser itself, so the CSP does not block it.
REPORT_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
                ' at ' + (e.sourceFile || '') + ':' + (e.lineNumber || ''));
});
"""
CHART_PAGES = {"/": ".js-plotly-plot .main-svg", "/dashboard": ".js-plotly-plot .main-svg",
               "/queues": ".ag-root", "/claims": "#decision-waterfall .main-svg"}


def _claim_number(web_app) -> str:
    from db.flask_db import read_session
    from db.models import Claim, RoutingDecision

    with web_app.server.app_context():
        return read_session().scalar(select(Claim.claim_number).join(RoutingDecision,
                                                                      RoutingDecision.claim_id == Claim.id)
                                     .where(Claim.status != "closed").order_by(Claim.id).limit(1))


def _paths(web_app) -> list[str]:
    paths = []
    for page in dash.page_registry.values():
        path = page.get("path")
        # /404 is the in-app not-found page; visited directly it is the server's 404 page (no navbar)
        if not path or page.get("path_template") or page.get("module", "").endswith("not_found_404"):
            continue
        paths.append(path)
    paths.append(f"/claims/{_claim_number(web_app)}")
    paths.append("/queues?department=AUTO_PD")
    return sorted(set(paths))


def test_every_page_works_under_the_csp(browser, live_server, web_app, client_for):
    signed_in = client_for("admin")
    cookie = signed_in.get_cookie("scope_session")
    context = browser.new_context(viewport={"width": 1440, "height": 1000})  # CSP enforced
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"{page.url}: {msg.text}"))
    page.on("pageerror", lambda exc: problems.append(f"{page.url}: {exc}"))
    visited = []
    try:
        for path in _paths(web_app):
            page.goto(live_server + path)
            page.wait_for_selector(".scope-navbar", timeout=20000)
            page.wait_for_load_state("networkidle")
            key = "/claims" if path.startswith("/claims/") else path.split("?")[0]
            if key in CHART_PAGES:
                page.wait_for_selector(CHART_PAGES[key], timeout=20000)
            assert "Something went wrong" not in page.inner_text("body"), path
            visited.append(path)
    finally:
        context.close()
    assert len(visited) >= 10, visited
    assert problems == []


def test_error_page_is_plain_and_styled(page, live_server):
    """A form posted with a stale token gets the generic error page, styled, without internals."""
    page.goto(live_server + "/login")
    page.locator("input[name=csrf_token]").evaluate("e => e.value = 'stale'")
    page.fill("#email", "adjuster@scope.example")
    page.fill("#password", "scope-demo-adjuster")
    page.click("button[type=submit]")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "Bad request"
    assert "The form expired" in page.inner_text("body")
    screenshot(page, "error-page")
