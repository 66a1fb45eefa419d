"""An adjuster works a claim in a real browser: reads why, disagrees, writes notes."""
from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in
from tests.integration.test_feedback import web_claim

pytestmark = pytest.mark.browser


def _open(page, live_server, number: str) -> None:
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(f"{live_server}/claims/{number}")
    page.wait_for_selector("#decision-reasons li", timeout=15000)


def _pick(page, dropdown_id: str, label: str) -> None:
    page.click(f"#{dropdown_id}")
    page.get_by_role("option", name=label, exact=True).click()


def test_adjuster_reads_why_disagrees_and_sees_it_on_the_timeline(page, live_server, web_app):
    claim = web_claim(web_app)
    _open(page, live_server, claim["number"])
    assert "toward" in page.inner_text("#decision-reasons")
    page.wait_for_selector("#counterfactual-text", timeout=15000)
    page.wait_for_selector("#similar-claims-list li, #claim-similar p", timeout=15000)

    page.click("text=Disagree")
    _pick(page, "fb-reason", "Needs special investigation")
    _pick(page, "fb-suggested", "Special Investigations")
    page.fill("#fb-comment", "Same plate as two claims last month.")
    page.click("#fb-submit")
    page.wait_for_selector("#fb-msg .alert-success", timeout=15000)
    page.wait_for_function("document.querySelector('#claim-timeline').innerText.includes('Disagreed with the routing')",
                           timeout=15000)
    timeline = page.inner_text("#claim-timeline")
    assert "Needs special investigation" in timeline and "Same plate as two claims last month." in timeline
    assert "You disagreed: Needs special investigation" in page.inner_text(".claim-feedback-current")

    page.click("text=Assign to me")
    page.wait_for_selector("#claim-action-msg .alert-success", timeout=15000)
    page.wait_for_selector("text=Start review", timeout=15000)
    screenshot(page, "claim_workflow")

    # Closing asks first: cancelled, nothing happens; confirmed, the claim is closed.
    page.click("text=Start review")
    page.wait_for_selector("#claim-close-button", timeout=15000)
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("#claim-close-button")
    page.wait_for_timeout(800)
    assert asked and "Only a manager can reopen" in asked[0]
    assert "In review" in page.inner_text("#claim-actions-body")
    page.once("dialog", lambda d: d.accept())
    page.click("#claim-close-button")
    page.wait_for_selector("#claim-action-msg >> text=is now Closed", timeout=15000)
    assert page.console_errors == []


def test_notes_with_markup_render_as_text_and_nothing_runs(page, live_server, web_app):
    claim = web_claim(web_app)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _open(page, live_server, claim["number"])
    for text in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>"):
        page.fill("#note-text", text)
        page.click("#note-submit")
        page.wait_for_function(
            f"document.querySelector('#claim-timeline').innerText.includes({text!r})", timeout=15000)
    page.wait_for_timeout(500)
    notes = page.locator("#claim-timeline .timeline-note")
    assert notes.count() == 2
    assert page.locator("#claim-timeline img").count() == 0
    assert page.locator("#claim-timeline script").count() == 0
    assert dialogs == []
    page.reload()
    page.wait_for_selector("#claim-timeline .timeline-note", timeout=15000)
    page.wait_for_timeout(500)
    assert dialogs == [] and page.locator("#claim-timeline img").count() == 0
