"""A manager follows a possible fraud ring from the Rings page to a member claim and back."""
from __future__ import annotations

from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in


def test_manager_opens_a_ring_and_one_of_its_claims(page, live_server):
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.click(".scope-navbar >> text=Rings")
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


def test_adjuster_sees_rings_of_their_departments_only(page, live_server):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/rings")
    page.wait_for_selector("#rings-rule", timeout=15000)
    # The demo adjuster works Auto Physical Damage, Auto Glass and Triage: no other department's badge.
    badges = page.locator("#rings-table .dept-badge").all_inner_texts() if page.locator("#rings-table").count() else []
    assert set(badges) <= {"Auto Physical Damage", "Auto Glass", "Triage"}, set(badges)
    assert page.console_errors == []
