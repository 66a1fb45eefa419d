"""A person's path through SCOPE in a real browser."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import screenshot
from tests.mfautil import answer_in_browser

pytestmark = pytest.mark.browser


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    answer_in_browser(page, email)
    page.wait_for_selector(".scope-navbar")


def wait_for_charts(page, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n}", timeout=15000)


def test_login_page_shows_error_for_bad_password(page, live_server):
    page.goto(live_server + "/login")
    screenshot(page, "login")
    page.fill("#email", "adjuster@scope.example")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    assert "not correct" in page.inner_text(".alert-danger")


def test_adjuster_opens_queue_and_reads_why_a_claim_was_routed(page, live_server):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.wait_for_selector(".queue-card")
    wait_for_charts(page, 2)
    screenshot(page, "overview")
    page.goto(live_server + "/queues?department=AUTO_PD")
    page.wait_for_selector(".claim-link", timeout=15000)
    status = page.inner_text("#queue-status")
    assert re.search(r"[\d,]+ open claims", status), status
    screenshot(page, "queue")

    page.locator(".claim-link").first.click()
    page.wait_for_selector("#decision-reasons li", timeout=15000)
    reasons = page.inner_text("#decision-reasons")
    assert "toward" in reasons
    page.wait_for_selector("#decision-waterfall .main-svg", timeout=15000)
    page.wait_for_selector("#decision-probabilities .main-svg", timeout=15000)
    assert "synthetic-" in page.inner_text("#decision-model-version")
    screenshot(page, "claim")
    assert page.console_errors == []


def test_manager_sees_models_page(page, live_server):
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/models")
    page.wait_for_selector("text=Router models")
    assert page.locator("text=champion").count() >= 1
    wait_for_charts(page, 2)
    screenshot(page, "models")
    assert page.console_errors == []


def test_viewer_opens_a_claim_without_console_errors(page, live_server, web_app):
    # A viewer may not give feedback or write notes, so the page has no feedback card:
    # no callback may name a component that only that card draws.
    from sqlalchemy import select

    from db.flask_db import read_session
    from db.models import Claim, RoutingDecision

    with web_app.server.app_context():
        session = read_session()
        number = session.scalar(select(Claim.claim_number).join(RoutingDecision, RoutingDecision.claim_id == Claim.id)
                                .where(Claim.status != "closed").order_by(Claim.id).limit(1))
        session.close()
    sign_in(page, live_server, "viewer@scope.example", "scope-demo-viewer")
    page.goto(f"{live_server}/claims/{number}")
    page.wait_for_selector("#decision-reasons li", timeout=15000)
    page.wait_for_selector("#decision-waterfall .main-svg", timeout=15000)
    page.wait_for_selector("#counterfactual-text", timeout=20000)
    assert page.locator("#fb-submit").count() == 0 and page.locator("#note-submit").count() == 0
    assert page.console_errors == []


def test_opening_a_claim_asks_the_server_only_for_the_page_and_its_insights(page, live_server):
    """A claim page used to run its refresh callback as soon as it opened (the refresh
    store started as None) and then the status callback for the redrawn buttons: two
    more round trips, competing with the counterfactual and similar claims."""
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/queues?department=AUTO_PD")
    page.wait_for_selector(".claim-link", timeout=15000)
    outputs = []
    page.on("request", lambda req: "_dash-update-component" in req.url
            and outputs.append((req.post_data_json or {}).get("output", "")))
    page.locator(".claim-link").first.click()
    page.wait_for_selector("#decision-reasons li", timeout=15000)
    page.wait_for_selector("#counterfactual-text", timeout=20000)
    page.wait_for_selector("#similar-claims-list li, #claim-similar p", timeout=20000)
    page.wait_for_timeout(1000)
    assert any("claim-counterfactual" in o for o in outputs) and any("claim-similar" in o for o in outputs)
    assert not [o for o in outputs if "claim-actions-body" in o or "claim-action-msg" in o], outputs
    assert page.console_errors == []


def test_on_a_phone_the_navigation_is_one_row(browser, live_server):
    """At 390 px the links stacked one per line (the bar has no menu button): the bar
    took about 200 px, a quarter of the screen, before any claim."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    try:
        sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
        tops = page.eval_on_selector_all(".scope-navbar .navbar-nav .nav-link",
                                         "links => links.map(a => Math.round(a.getBoundingClientRect().top))")
        assert len(tops) >= 4 and len(set(tops)) == 1, tops
        height = page.eval_on_selector(".scope-navbar", "bar => bar.getBoundingClientRect().height")
        assert height < 150, height
    finally:
        context.close()


def test_on_a_phone_the_decision_comes_before_the_facts(page, live_server):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/queues?department=AUTO_PD")
    page.wait_for_selector(".claim-link", timeout=15000)
    href = page.locator(".claim-link").first.get_attribute("href")
    for width in (390, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server + href)
        page.wait_for_selector("#decision-reasons li", timeout=15000)
        box = {sel: page.locator(sel).bounding_box() for sel in ("#claim-description", "#decision-reasons",
                                                                  "#claim-circumstances")}
        if width == 390:  # one column: work, description, decision, then the facts
            assert box["#claim-description"]["y"] < box["#decision-reasons"]["y"] < box["#claim-circumstances"]["y"]
        else:  # the facts in the left column, beside the decision
            assert box["#claim-circumstances"]["x"] + box["#claim-circumstances"]["width"] <= box["#decision-reasons"]["x"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.console_errors == []
