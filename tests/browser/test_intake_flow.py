"""A claims handler records a first notice of loss and sees where it went and why."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in

pytestmark = pytest.mark.browser


def test_fnol_form_shows_field_message_then_routes_the_claim(page, live_server):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/intake")
    page.wait_for_selector("#intake-submit")
    page.select_option("#intake-line_of_business", "auto")
    page.fill("#intake-loss_date", (dt.date.today() - dt.timedelta(days=2)).isoformat())
    page.fill("#intake-claimed_amount", "-50")
    page.fill("#intake-description", "Backed into a pole in the parking lot, rear bumper dented and light broken.")
    page.fill("#intake-policy_number", "PAU-5551234")
    page.select_option("#intake-state", "CA")
    page.fill("#intake-postcode", "94103")
    page.select_option("#intake-loss_location", "parking_lot")
    page.select_option("#intake-police_report", "false")
    page.fill("#intake-vehicle_count", "1")
    page.click("#intake-submit")
    page.wait_for_selector("#intake-claimed_amount.is-invalid")
    feedback = page.inner_text("#intake-claimed_amount-feedback")
    assert "must be greater than 0" in feedback
    assert page.is_visible("#intake-claimed_amount-feedback")
    # A third decimal reaches the server, which says what is wrong (the browser used to blank
    # it against the input's step, and the message was "Claimed amount is required").
    page.fill("#intake-claimed_amount", "1234.567")
    page.click("#intake-submit")
    page.wait_for_function("document.querySelector('#intake-claimed_amount-feedback').innerText"
                           ".includes('decimals')", timeout=15000)
    assert "required" not in page.inner_text("#intake-claimed_amount-feedback")
    page.fill("#intake-claimed_amount", "1850")
    page.click("#intake-submit")
    page.wait_for_selector("#intake-routed-to", timeout=20000)
    assert not page.query_selector("#intake-claimed_amount.is-invalid")
    # A stored claim empties the form, so pressing Submit again cannot store it twice.
    page.wait_for_function("document.querySelector('#intake-description').value === ''")
    assert page.input_value("#intake-policy_number") == ""
    routed = page.inner_text("#intake-routed-to")
    assert "FNOL-" in routed and "routed to" in routed
    reasons = page.inner_text("#decision-reasons")
    assert reasons.strip()
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2", timeout=15000)
    screenshot(page, "intake")
    assert page.console_errors == []


def test_tokens_page_shows_a_new_token_once(page, live_server):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/tokens")
    page.wait_for_selector("#token-create")
    page.fill("#token-name", "claims portal")
    page.click("#token-create")
    page.wait_for_selector("#token-shown-once")
    token = page.inner_text("#token-value")
    assert token.startswith("scope_")
    page.wait_for_selector("#tokens-table")
    assert "claims portal" in page.inner_text("#tokens-table")
    screenshot(page, "tokens")
    page.reload()
    page.wait_for_selector("#tokens-table")
    assert token not in page.content()
    assert page.console_errors == []


def test_a_party_error_opens_the_people_fold_again_after_it_was_closed(page, live_server):
    # The fold's "open" is a Dash prop the browser's own toggle did not update: once the first
    # error had opened it, closing it by hand and submitting the same error again left it shut.
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/intake")
    page.wait_for_selector("#intake-submit")
    page.click("#intake-parties-more summary")
    page.select_option("#intake-party-2-role", "repair_shop")
    page.fill("#intake-party-2-phone", "12")
    page.click("#intake-parties-more summary")
    assert not page.evaluate("document.querySelector('#intake-parties-more').open")
    page.click("#intake-submit")
    page.wait_for_selector("#intake-party-2-phone.is-invalid", timeout=15000)
    assert page.evaluate("document.querySelector('#intake-parties-more').open")
    page.click("#intake-parties-more summary")
    assert not page.evaluate("document.querySelector('#intake-parties-more').open")
    page.click("#intake-submit")
    page.wait_for_function("document.querySelector('#intake-parties-more').open", timeout=15000)
    assert not page.console_errors
