"""Fraud alerts in a real browser: a manager dismisses one alert and refers
another claim to SIU; an adjuster flags a claim for SIU review."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in

pytestmark = pytest.mark.browser


def _first_row(page) -> tuple[str, str]:
    row = page.locator("#fraud-alerts-table tbody tr").first
    return row.get_attribute("id"), row.locator("a.claim-link").first.inner_text()


def _tab_counts(page) -> dict:
    return {s: int(page.inner_text(f"#fraud-tab-{s} .badge").replace(",", ""))
            for s in ("open", "referred", "dismissed")}


def test_manager_dismisses_one_alert_and_refers_another(page, live_server):
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.click(".scope-navbar >> text=Fraud")
    page.wait_for_selector("#fraud-alerts-table", timeout=15000)
    screenshot(page, "fraud-alerts")

    tabs = _tab_counts(page)
    row_id, claim = _first_row(page)
    page.click(f"#{row_id} >> text=Dismiss")
    page.wait_for_selector("#fraud-modal-confirm", state="visible", timeout=10000)
    assert claim in page.inner_text("#fraud-modal-title")
    page.click("#fraud-modal-confirm")  # no reason given: refused, nothing changes
    page.wait_for_selector("#fraud-modal-msg .alert-danger", timeout=10000)
    assert "Say why" in page.inner_text("#fraud-modal-msg")
    page.fill("#fraud-modal-note", "Called the claimant: genuine, photos match")
    page.click("#fraud-modal-confirm")
    page.wait_for_selector("#fraud-result .alert-success", timeout=10000)
    assert f"The alert on {claim} was dismissed" in page.inner_text("#fraud-result")
    page.wait_for_selector(f"#{row_id}", state="detached", timeout=10000)
    # The tabs' counts and the figures follow the decision without a reload.
    assert _tab_counts(page) == {**tabs, "open": tabs["open"] - 1, "dismissed": tabs["dismissed"] + 1}
    assert page.inner_text("#fraud-stats .stat-value >> nth=0") == f"{tabs['open'] - 1:,}"

    row_id, referred = _first_row(page)
    page.click(f"#{row_id} >> text=Refer to SIU")
    page.wait_for_selector("#fraud-modal-confirm", state="visible", timeout=10000)
    page.click("#fraud-modal-confirm")
    page.wait_for_selector("#fraud-result .alert-success", timeout=10000)
    assert f"{referred} was referred to Special Investigations" in page.inner_text("#fraud-result")

    page.click("#fraud-tab-dismissed")
    page.wait_for_selector("#fraud-alerts-table >> text=photos match", timeout=10000)
    assert claim in page.inner_text("#fraud-alerts-table")
    assert "Refer to SIU" not in page.inner_text("#fraud-alerts-table")
    page.goto(live_server + f"/claims/{referred}")
    page.wait_for_selector("#fraud-card-status", timeout=15000)
    assert "Special Investigations" in page.inner_text(".page-header")
    assert page.inner_text("#fraud-card-status") == "Referred to SIU"
    assert "Referral to Special Investigations" in page.inner_text("#claim-timeline") or \
        "Special Investigations" in page.inner_text("#claim-timeline")
    assert page.console_errors == []


def test_adjuster_flags_a_claim_for_siu_review(page, live_server, web_app):
    from db.flask_db import read_session
    from db.models import Claim, Department, FraudAlert

    with web_app.server.app_context():
        session = read_session()
        number = session.scalar(
            select(Claim.claim_number).join(Department, Department.id == Claim.department_id)
            .outerjoin(FraudAlert, FraudAlert.claim_id == Claim.id)
            .where(Department.code == "AUTO_GLASS", Claim.status == "new", FraudAlert.id.is_(None))
            .order_by(Claim.id).limit(1))
        session.close()
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + f"/claims/{number}")
    page.wait_for_selector("#fraud-flag-submit", timeout=15000)
    assert page.locator("#fraud-card-status").count() == 0  # no alert yet
    page.fill("#fraud-flag-note", "Third windscreen this month, same shop, photos reused")
    page.click("#fraud-flag-submit")
    page.wait_for_selector("#fraud-card-status", timeout=10000)
    assert page.inner_text("#fraud-card-status") == "Open"
    card = page.inner_text("#fraud-card")
    assert "Flagged by Chris Ng" in card and "photos reused" in card
    page.wait_for_function("document.querySelector('#claim-timeline').innerText.includes('Flagged for SIU review')",
                           timeout=10000)
    screenshot(page, "fraud-flagged-claim")
    # The adjuster's Fraud alerts list now holds it.
    page.click(".scope-navbar >> text=Fraud")
    page.wait_for_selector("#fraud-alerts-table", timeout=15000)
    assert number in page.inner_text("#fraud-alerts-table")
    assert page.locator("text=Refer to SIU").count() == 0  # adjusters ask; managers decide
    assert page.console_errors == []


def test_manager_refers_from_the_claim_page(page, live_server, app_session):
    from auth.current import SessionUser
    from db.models import Claim, Department, FraudAlert, User
    from services import fraud_alerts

    def flagged(session):
        manager = SessionUser.from_model(session.scalar(select(User).where(User.email == "manager@scope.example")))
        siu = session.scalar(select(Department.id).where(Department.code == "SIU"))
        claim = session.scalar(select(Claim).outerjoin(FraudAlert, FraudAlert.claim_id == Claim.id)
                               .where(Claim.status == "assigned", Claim.department_id != siu,
                                      FraudAlert.id.is_(None)).order_by(Claim.id).limit(1))
        fraud_alerts.flag(session, manager, claim.id, "Invoice from a shop that closed last year")
        return claim.claim_number

    number = app_session(flagged)
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + f"/claims/{number}")
    page.wait_for_selector("#fraud-claim-refer", timeout=15000)
    assert "Invoice from a shop" in page.inner_text("#fraud-card")
    page.click("#fraud-claim-dismiss")  # no reason: refused
    page.wait_for_selector("#fraud-claim-msg .alert-danger", timeout=10000)
    page.fill("#fraud-claim-note", "Shop reopened under a new owner; SIU should still look")
    page.click("#fraud-claim-refer")
    page.wait_for_selector("#fraud-card-status >> text=Referred to SIU", timeout=10000)
    assert "Special Investigations queue" in page.inner_text("#fraud-card")
    page.wait_for_function("document.querySelector('#claim-timeline').innerText.includes('Referred from a fraud alert')",
                           timeout=10000)
    screenshot(page, "fraud-referred-claim")
    page.click("#fraud-card >> text=Show the page as it is now")  # the header still named the old department
    page.wait_for_selector("#fraud-card-status", timeout=15000)
    assert "Special Investigations" in page.inner_text(".page-header")
    assert page.console_errors == []
