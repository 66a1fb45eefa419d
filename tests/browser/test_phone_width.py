"""On a 390 px phone the manager's pages fit the screen: wide tables scroll inside their card,
dropdowns shrink; and the Reassign board rounds confidence down, as the queue does."""
from __future__ import annotations

import pytest

from tests.browser.test_claim_flow import sign_in
from tests.browser.test_operations import _refresh_rollups
from tests.integration.test_reassignment import web_claims

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# What each page must have drawn before it is measured (the parts that were too wide).
PAGES = {
    "/dashboard": "#dashboard-table table",
    "/operations": "#ops-calibration-table",
    "/reassign": "#reassign-source-line",
    "/dashboard/report": ".report-sheet",  # the sheet keeps its print width and scrolls inside the page
}


def _settle(page) -> None:
    for _ in range(150):
        if page.locator('[data-dash-is-loading="true"]').count() == 0:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)


def test_manager_pages_fit_a_phone_screen(page, live_server, web_app):
    _refresh_rollups(web_app)
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.set_viewport_size(PHONE)
    widths = {}
    for path, ready in PAGES.items():
        page.goto(live_server + path)
        page.wait_for_selector(ready, timeout=30000)
        _settle(page)
        widths[path] = page.evaluate("() => document.documentElement.scrollWidth")
    assert all(w <= PHONE["width"] + 1 for w in widths.values()), widths
    # the wide tables scroll inside their card rather than being cut off
    page.goto(live_server + "/dashboard")
    page.wait_for_selector("#dashboard-table .table-responsive table", timeout=30000)
    assert page.evaluate("() => { const d = document.querySelector('#dashboard-table .table-responsive');"
                         " return d.scrollWidth > d.clientWidth; }")
    # Fraud alerts: each alert is a block of labelled lines, its signals and buttons on screen
    # (as a table they sat off the right edge).
    page.goto(live_server + "/fraud-alerts")
    page.wait_for_selector("#fraud-alerts-table tbody tr", timeout=30000)
    _settle(page)
    inside = page.evaluate("() => { const r = document.querySelector('#fraud-alerts-table tbody tr');"
                           " const cells = [...r.querySelectorAll('td')];"
                           " return cells.every(c => c.getBoundingClientRect().right <= window.innerWidth + 1)"
                           " && getComputedStyle(r.querySelector('td'), '::before').content.includes('Claim'); }")
    assert inside
    assert not page.console_errors, page.console_errors


def _set_confidence(web_app, numbers: dict[str, float]) -> None:
    from sqlalchemy import update

    from db.flask_db import unit_of_work
    from db.models import Claim

    with web_app.server.app_context():
        with unit_of_work() as s:
            for number, confidence in numbers.items():
                s.execute(update(Claim).where(Claim.claim_number == number).values(routing_confidence=confidence))


def test_reassign_board_rounds_confidence_down(page, live_server, web_app):
    rows = web_claims(web_app, 2, "PROPERTY")
    # 0.99965 read "100%" on the board (rounded to 3 places, then d3 ".0%") and "99%" in the queue;
    # 0.49985 must not read "50%" beside a 50% threshold.
    confidence = {rows[0]["claim_number"]: 0.99965, rows[1]["claim_number"]: 0.49985}
    _set_confidence(web_app, confidence)
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/reassign")
    page.wait_for_selector("#reassign-grid")
    page.fill("#reassign-numbers", "\n".join(confidence))
    page.click("#reassign-load")
    page.wait_for_function("document.querySelector('#reassign-status').innerText.includes('2 open claims')",
                           timeout=15000)
    page.wait_for_selector("#reassign-grid .ag-row .ag-cell[col-id=confidence]", timeout=15000)
    shown = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#reassign-grid .ag-row')]
        .map(r => [r.getAttribute('row-id'), r.querySelector('.ag-cell[col-id=confidence]')])
        .filter(([, c]) => c).map(([id, c]) => [id, c.innerText.trim()]))""")
    by_number = {r["claim_number"]: shown.get(str(r["id"])) for r in rows}
    assert by_number == {rows[0]["claim_number"]: "99%", rows[1]["claim_number"]: "49%"}, shown
