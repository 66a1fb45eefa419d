"""Markup in claim descriptions and party names renders as text in a real
browser: nothing executes, no element is injected, in the claim page and the
queue grid. And the admin audit page, searched and verified in the browser."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in
from tests.integration.test_feedback import web_claim

pytestmark = pytest.mark.browser

PAYLOADS = ("<script>alert('desc')</script>", "<img src=x onerror=alert('img')>",
            "<svg onload=alert('svg')></svg>", "\"><iframe src=javascript:alert('frame')>")


@pytest.fixture()
def hostile_claim(web_app):
    from db.flask_db import unit_of_work
    from db.models import Claim, Party

    claim = web_claim(web_app, dept="AUTO_GLASS")
    with web_app.server.app_context():
        with unit_of_work() as s:
            c = s.get(Claim, claim["id"])
            c.description = "Windshield cracked. " + " ".join(PAYLOADS)
            c.report_date = dt.date.today()  # first in the queue's default order (newest reported first)
            s.add(Party(claim_id=c.id, role="claimant", name="<b>Bold</b><img src=x onerror=alert('party')>",
                        address="<script>alert('addr')</script>"))
    return claim


def _assert_inert(page, dialogs) -> None:
    page.wait_for_timeout(800)
    assert dialogs == []
    main = page.locator("#_pages_content")
    assert main.locator("img[src=x], iframe, svg[onload], b:has-text('Bold'), script").count() == 0


def test_markup_in_description_and_party_names_does_not_run(page, live_server, hostile_claim):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(f"{live_server}/claims/{hostile_claim['number']}")
    page.wait_for_selector("#claim-description", timeout=15000)
    text = page.inner_text("#claim-description")
    for payload in PAYLOADS:
        assert payload in text  # shown literally, as typed
    parties = page.inner_text(".party-name")
    assert "<b>Bold</b><img src=x onerror=alert('party')>" in parties
    assert page.locator("#claim-description *").count() == 0  # plain text: no child elements at all
    _assert_inert(page, dialogs)
    page.wait_for_selector("#claim-similar", timeout=15000)
    _assert_inert(page, dialogs)

    page.goto(f"{live_server}/queues?department=AUTO_GLASS")
    page.wait_for_selector(".ag-row", timeout=20000)
    page.wait_for_selector(f".ag-row:has-text('{hostile_claim['number']}')", timeout=20000)
    page.wait_for_function("document.querySelector('.ag-root').innerText.includes(\"<script>alert('desc')\")",
                           timeout=10000)  # the description cell shows the markup as text
    _assert_inert(page, dialogs)
    assert page.locator(".ag-root img, .ag-root iframe, .ag-root svg[onload]").count() == 0


def test_admin_searches_the_audit_log_and_verifies_the_chain(page, live_server, web_app):
    import threading

    from db.flask_db import independent_sessions
    from jobs import on_demand

    sign_in(page, live_server, "admin@scope.example", "scope-demo-admin")
    page.goto(live_server + "/admin/audit")
    page.wait_for_selector(".audit-table", timeout=15000)
    page.click("#audit-verify")
    page.wait_for_selector("#audit-verify-waiting", timeout=15000)  # asked of the scheduler process
    with web_app.server.app_context():
        factory = independent_sessions()
    stop = threading.Event()
    on_demand.start_polling(factory, web_app.server.config["SCOPE_SETTINGS"], stop)  # what `scope scheduler` runs
    try:
        # The page follows the check on its own (an earlier result may show meanwhile: wait for the end).
        page.wait_for_function("!document.querySelector('#audit-verify-waiting, #audit-verify-running') "
                               "&& document.querySelector('#audit-chain-ok')", timeout=30000)
    finally:
        stop.set()
    assert "Chain intact" in page.inner_text("#audit-chain-status")
    assert page.locator("#audit-verify-waiting, #audit-verify-running").count() == 0
    page.fill("#audit-action", "auth")
    page.press("#audit-action", "Enter")
    page.wait_for_function("document.querySelector('#audit-pager').innerText.includes('entries')", timeout=15000)
    page.wait_for_timeout(800)
    actions = page.locator(".audit-table tbody td:nth-child(4)").all_inner_texts()
    assert actions and all(a.startswith("auth.") for a in actions)
    page.fill("#audit-action", "")
    page.press("#audit-action", "Enter")
    page.wait_for_timeout(1200)
    screenshot(page, "admin_audit")
    assert page.console_errors == []
