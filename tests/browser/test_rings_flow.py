"""A manager follows a possible fraud ring from the Rings page to a member claim and back."""
from __future__ import annotations

from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in


def test_manager_opens_a_ring_and_one_of_its_claims(page, live_server):
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.click(".scope-navbar >> text=Fraud")
    page.click("#fraud-nav-rings")
    page.wait_for_selector("#rings-table a.claim-link", timeout=15000)
    screenshot(page, "rings")
    key = page.inner_text("#rings-table a.claim-link >> nth=0")
    page.click("#rings-table a.claim-link >> nth=0")
    page.wait_for_selector("#ring-network .main-svg", timeout=15000)
    assert f"Ring {key}" in page.inner_text("h2")
    members = page.locator("#ring-members a.claim-link")
    assert members.count() >= 3
    assert page.locator("#ring-links li").count() >= 1
    screenshot(page, "ring")
    member = members.nth(1).inner_text()
    members.nth(1).click()
    page.wait_for_selector("#claim-ring", timeout=15000)
    assert member in page.inner_text("h2") and key in page.inner_text("#claim-ring")
    # Linked claims lists claims that share an identifier with this one.
    assert page.locator("#linked-claims-list a.claim-link").count() >= 1
    page.click("#claim-ring a")
    page.wait_for_selector("#ring-network .main-svg", timeout=15000)
    assert page.console_errors == []


def test_adjuster_is_shown_nothing_of_other_departments_claims(page, live_server, web_app):
    """Every ring page an adjuster can reach names no claim outside their departments
    (the demo adjuster: Auto Physical Damage, Auto Glass, Triage)."""
    from sqlalchemy import select

    from db.flask_db import read_session
    from db.models import Claim, Department, FraudRing

    with web_app.server.app_context():
        session = read_session()
        keys = list(session.scalars(select(FraudRing.key)))
        members = {i for ids in session.scalars(select(FraudRing.claim_ids)) for i in ids}
        hidden = set(session.scalars(
            select(Claim.claim_number).join(Department, Department.id == Claim.department_id)
            .where(Claim.id.in_(members), Department.code.notin_(("AUTO_PD", "AUTO_GLASS", "TRIAGE")))))
        session.close()
    assert keys and hidden, "the demo has rings with claims outside the adjuster's departments"
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    for path in ["/rings"] + [f"/rings?ring={k}" for k in keys]:
        page.goto(live_server + path)
        page.wait_for_selector("#rings-rule, #ring-back", timeout=15000)
        text = page.inner_text("body")
        assert not [n for n in hidden if n in text], path
    assert page.console_errors == []
