"""SIU cases in a real browser: an SIU adjuster opens a case from a referred
claim's page, adds a note and closes it as confirmed fraud; a manager reopens
it; a viewer sees the totals and no investigation."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.browser.conftest import choose_option, screenshot
from tests.browser.test_claim_flow import sign_in

pytestmark = pytest.mark.browser


def _siu_claim_in_no_case(web_app) -> str:
    from db.flask_db import read_session
    from db.models import OPEN_STATUSES, Claim, Department, SiuCaseClaim

    with web_app.server.app_context():
        session = read_session()
        number = session.scalar(
            select(Claim.claim_number).join(Department, Department.id == Claim.department_id)
            .outerjoin(SiuCaseClaim, SiuCaseClaim.claim_id == Claim.id)
            .where(Department.code == "SIU", Claim.status.in_(OPEN_STATUSES), SiuCaseClaim.case_id.is_(None))
            .order_by(Claim.id.desc()).limit(1))
        session.close()
    assert number, "the demo leaves about half of the open SIU claims in no case"
    return number


def _settled(page) -> None:
    """Wait until no callback output is loading (a page rendered by Dash's router is
    interactive once its first callbacks have answered)."""
    page.wait_for_function("!document.querySelector('[data-dash-is-loading=\"true\"]')", timeout=10000)


def _fraud_label(web_app, number: str):
    from db.flask_db import read_session
    from db.models import Claim

    with web_app.server.app_context():
        session = read_session()
        value = session.scalar(select(Claim.fraud_label).where(Claim.claim_number == number)
                               .execution_options(populate_existing=True))
        session.close()
    return value


def test_investigator_opens_works_and_closes_a_case_and_a_manager_reopens_it(page, live_server, web_app, browser):
    number = _siu_claim_in_no_case(web_app)
    sign_in(page, live_server, "investigator@scope.example", "scope-demo-investigator")
    page.goto(live_server + f"/claims/{number}")
    page.wait_for_selector("#siu-claim-open", timeout=15000)
    page.click("#siu-claim-open")
    page.wait_for_selector("#siu-claim-case-link", timeout=10000)
    key = page.inner_text("#siu-claim-case-link")
    assert key.startswith("C-")
    page.wait_for_function("document.querySelector('#claim-timeline').innerText.includes('Added to SIU case')",
                           timeout=10000)

    page.click("#siu-claim-case-link")
    page.wait_for_selector("#siu-case-claims", timeout=15000)
    _settled(page)
    assert number in page.inner_text("#siu-case-claims")
    assert "lead: Sofia Marin" in page.inner_text("#siu-case-body")   # the opener, a member of SIU
    # Findings half typed when a note lands: only the activity is redrawn, so they stay.
    page.click("#siu-outcome >> text=Confirmed fraud")
    page.fill("#siu-findings", "Photos reused from an earlier claim; repair invoice altered. Claim denied.")
    page.fill("#siu-note", "Recorded statement: the driver's account contradicts the photos.")
    page.click("#siu-note-submit")
    page.wait_for_selector("#claim-timeline-list >> text=contradicts the photos", timeout=10000)
    assert page.input_value("#siu-note") == ""
    assert page.input_value("#siu-findings").startswith("Photos reused")
    assert page.is_checked("#siu-outcome >> text=Confirmed fraud")

    page.fill("#siu-saved", "two thousand")   # refused, and nothing typed is lost
    page.click("#siu-close-submit")
    page.wait_for_selector("#siu-case-msg .alert-danger", timeout=10000)
    assert "amount" in page.inner_text("#siu-case-msg").lower()
    assert page.input_value("#siu-findings").startswith("Photos reused")
    page.fill("#siu-saved", "2,500")
    page.click("#siu-close-submit")
    # Closing asks first, saying what it does; Cancel changes nothing.
    page.wait_for_selector("#siu-close-confirm", state="visible", timeout=10000)
    assert "found fraudulent" in page.inner_text("#siu-close-text")
    page.click("#siu-close-cancel")
    page.wait_for_selector("#siu-close-confirm", state="hidden", timeout=10000)
    assert page.locator("#siu-findings-text").count() == 0
    page.click("#siu-close-submit")
    page.wait_for_selector("#siu-close-confirm", state="visible", timeout=10000)
    page.click("#siu-close-confirm")
    # Closing renders the page again: the decision card now shows the finding.
    page.wait_for_selector("#siu-case-msg >> text=Case closed", timeout=10000)
    page.wait_for_selector("#siu-findings-text", timeout=10000)
    assert page.inner_text("#siu-case-status") == "Confirmed fraud"
    assert "Saved: $2,500.00" in page.inner_text("#siu-decision-card")
    assert page.locator("#siu-reopen-submit").count() == 0   # reopening is a manager's call
    assert _fraud_label(web_app, number) is True
    screenshot(page, "siu-case")
    page.goto(live_server + "/siu-cases?status=closed")
    page.wait_for_selector(f"#siu-case-row-{key}", timeout=15000)
    screenshot(page, "siu-cases")
    assert page.console_errors == []

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    manager = context.new_page()
    manager.console_errors = []
    manager.on("console", lambda m: manager.console_errors.append(m.text) if m.type == "error" else None)
    try:
        sign_in(manager, live_server, "manager@scope.example", "scope-demo-manager")
        manager.goto(live_server + f"/siu-cases?case={key}")
        manager.wait_for_selector("#siu-reopen-submit", timeout=15000)
        _settled(manager)
        manager.fill("#siu-reopen-note", "The shop produced the original invoice.")
        manager.click("#siu-reopen-submit")
        manager.wait_for_selector("#siu-case-msg >> text=Case reopened", timeout=10000)
        manager.wait_for_selector("#siu-close-submit", timeout=10000)
        assert manager.inner_text("#siu-case-status") == "Open"
        choose_option(manager, "siu-lead", "No lead")
        manager.click("#siu-lead-submit")
        manager.wait_for_selector("#siu-case-body >> text=lead: nobody yet", timeout=10000)
        activity = manager.inner_text("#siu-case-body")
        assert "Case reopened" in activity and "original invoice" in activity
        assert manager.console_errors == []
    finally:
        context.close()


def test_remove_asks_first_and_a_redrawn_claims_list_calls_nothing(page, live_server, app_session):
    """The rows' Remove buttons are not Dash inputs: Dash calls a callback whose inputs appear
    in a redrawn part of the page, so a pattern-matching callback on them was called (answered
    204) each time the claims were redrawn. Now a redraw sends nothing, Remove opens a
    confirmation without a request, and only "Remove from case" calls the server."""
    from tests.integration.test_siu_cases_web import _refer_to_siu

    first, second = _refer_to_siu(app_session, 2)
    sign_in(page, live_server, "investigator@scope.example", "scope-demo-investigator")
    page.goto(live_server + "/siu-cases")
    page.click("#siu-open-toggle")
    page.fill("#siu-open-claims", first)
    page.click("#siu-open-submit")
    page.wait_for_selector("#siu-case-claims", timeout=15000)
    _settled(page)
    posted = []
    page.on("request", lambda r: "_dash-update-component" in r.url and posted.append(r.post_data_json))
    page.fill("#siu-add-claims", second)
    page.click("#siu-add-submit")
    page.wait_for_selector(f"#siu-case-claims >> text={second}", timeout=10000)
    _settled(page)
    page.wait_for_timeout(500)
    assert [[i["id"] for i in body["inputs"]] for body in posted] == [["siu-add-submit"]], posted
    posted.clear()
    page.click(f"[data-siu-remove='{second}']")
    page.wait_for_selector("#siu-remove-confirm", state="visible", timeout=5000)
    assert page.inner_text("#siu-remove-number") == second and posted == []
    page.click("#siu-remove-cancel")
    page.wait_for_selector("#siu-remove-confirm", state="hidden", timeout=5000)
    assert second in page.inner_text("#siu-case-claims") and posted == []
    page.click(f"[data-siu-remove='{first}']")
    page.wait_for_selector("#siu-remove-confirm", state="visible", timeout=5000)
    page.click("#siu-remove-confirm")
    page.wait_for_selector("#siu-case-msg >> text=from the case", timeout=10000)
    page.wait_for_selector("#siu-remove-confirm", state="hidden", timeout=5000)
    _settled(page)
    page.wait_for_timeout(500)
    assert first not in page.inner_text("#siu-case-claims") and second in page.inner_text("#siu-case-claims")
    assert [[i["id"] for i in body["inputs"]] for body in posted] == [["siu-remove-confirm"]], posted
    assert page.console_errors == []


def test_viewer_sees_the_totals_but_no_investigation(page, live_server):
    sign_in(page, live_server, "viewer@scope.example", "scope-demo-viewer")
    page.goto(live_server + "/fraud-alerts")
    page.click("#fraud-nav-cases")
    page.wait_for_selector("#siu-stats", timeout=15000)
    assert page.locator("#siu-cases-table").count() == 0
    assert "open cases" in page.inner_text("#siu-stats").lower()
    page.goto(live_server + "/siu-cases?case=C-000001")
    page.wait_for_selector("text=Case not found", timeout=15000)
    assert page.console_errors == []


def test_tasks_card_details_edit_and_remove(page, live_server, app_session):
    """A task with details (long ones folded behind "Show all"), its details changed in the Edit
    dialog, and Remove, which asks first: Cancel changes nothing, OK takes it off the list and the
    activity says so."""
    from tests.integration.test_siu_cases_web import _own_case

    key, _ = _own_case(app_session, 1)
    sign_in(page, live_server, "investigator@scope.example", "scope-demo-investigator")
    page.goto(live_server + f"/siu-cases?case={key}")
    page.wait_for_selector("#siu-task-add", timeout=15000)
    _settled(page)
    long = "Twelve months, every account in the claimant's name; originals, not printouts. " * 6
    page.fill("#siu-task-title", "Request the claimant's bank statements")
    page.fill("#siu-task-details", long)
    page.click("#siu-task-add")
    page.wait_for_selector("#siu-task-msg >> text=Task added.", timeout=10000)
    assert page.input_value("#siu-task-details") == ""
    row = page.locator("#siu-task-list li").first
    assert row.locator(".siu-task-details-full").is_hidden()      # folded: the start and "Show all"
    row.locator("summary").click()
    assert row.locator(".siu-task-details-full").is_visible()
    assert row.locator(".siu-task-details-full").inner_text() == long.strip()

    row.locator("button", has_text="Edit").click()
    page.wait_for_selector("#siu-task-edit-details", state="visible", timeout=10000)
    assert page.input_value("#siu-task-edit-details") == long.strip()
    page.fill("#siu-task-edit-details", "Six months will do.")
    page.click("#siu-task-edit-save")
    page.wait_for_selector("#siu-task-msg >> text=Task changed.", timeout=10000)
    page.wait_for_selector("#siu-task-list >> text=Six months will do.", timeout=10000)
    assert "details changed" in page.inner_text("#siu-case-activity")
    _settled(page)

    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.locator("#siu-task-list li").first.locator("button", has_text="Remove").click()
    page.wait_for_timeout(500)
    assert asked == ["Remove the task \u201cRequest the claimant's bank statements\u201d from the case? "
                     "The case's activity will say that you removed it."]
    assert page.locator("#siu-task-list li").count() == 1
    page.once("dialog", lambda d: d.accept())
    page.locator("#siu-task-list li").first.locator("button", has_text="Remove").click()
    page.wait_for_selector("#siu-task-msg >> text=Removed the task", timeout=10000)
    page.wait_for_selector("#siu-tasks-empty", timeout=10000)
    latest = page.locator("#siu-case-activity li").first.inner_text()
    assert latest.startswith("Removed task") and "\u201cRequest the claimant's bank statements\u201d" in latest
    assert page.console_errors == []
