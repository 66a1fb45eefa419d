"""Buttons that ask through a page's store (assets/62-row-actions.js): one request per store at a
time, shown on the buttons, and the keyboard focus kept when the answer redraws the list.

A different button of the same store pressed while the first request ran posted too: on a claim
the version check then refused it ("changed by someone else"), on Jobs it simply ran. And Run now
sent the focus to the page's body (the list is drawn anew), as did the list's 5-second refresh."""
from __future__ import annotations

import threading

import pytest

from tests.browser.test_admin_jobs import _manual_runs
from tests.browser.test_claim_flow import sign_in
from tests.integration.test_feedback import web_claim

pytestmark = pytest.mark.browser

# Each ask button of the page: what it does, whether it is held and whether it is the one working.
BUTTONS = """() => [...document.querySelectorAll('[data-ask]')].map(b => ({
    value: b.getAttribute('data-ask-value'), disabled: b.getAttribute('aria-disabled') === 'true',
    busy: b.getAttribute('aria-busy') === 'true', focused: b === document.activeElement}))"""
IDLE = "() => !document.querySelector('[data-ask][aria-disabled]')"


@pytest.fixture()
def held_job(monkeypatch):
    """route_unscored waits, once started, until the test lets it finish."""
    from jobs.registry import JOBS, Job

    started, gate = threading.Event(), threading.Event()

    def held(session, settings):
        started.set()
        gate.wait(30)
        return {"rows": 0}

    job = JOBS["route_unscored"]
    monkeypatch.setitem(JOBS, job.name, Job(job.name, held, job.schedule, job.description))
    yield started, gate
    gate.set()


def test_run_now_holds_the_other_buttons_until_it_answered_and_keeps_the_focus(page, live_server, web_app,
                                                                                 held_job):
    started, gate = held_job
    sign_in(page, live_server, "admin@scope.example", "scope-demo-admin")
    page.goto(live_server + "/admin/jobs")
    page.wait_for_selector("#jobs-table")
    before = {job: _manual_runs(web_app, job) for job in ("route_unscored", "refresh_aggregates")}
    # by keyboard, as a keyboard user presses it
    page.focus("#job-row-route_unscored button")
    page.keyboard.press("Enter")
    assert started.wait(15)
    buttons = page.evaluate(BUTTONS)
    [pressed] = [b for b in buttons if b["value"] == '{"job":"route_unscored"}']
    assert pressed["busy"] and pressed["disabled"] and pressed["focused"]
    assert all(b["disabled"] and not b["busy"] for b in buttons if b is not pressed), buttons
    assert page.inner_text("#scope-row-action-status") == "Working…"
    # Another Run now of the list, and the same one again, post nothing while it runs.
    page.evaluate("document.querySelector('#job-row-refresh_aggregates button').click()")
    page.keyboard.press("Enter")
    # The 5-second refresh draws the list anew meanwhile: still held, the focus still on Run now.
    page.evaluate("window.__oldButton = document.querySelector('#job-row-route_unscored button')")
    page.wait_for_function("!window.__oldButton.isConnected", timeout=15000)
    page.wait_for_timeout(300)
    buttons = page.evaluate(BUTTONS)
    assert all(b["disabled"] for b in buttons) and [b["value"] for b in buttons if b["busy"]] == [
        '{"job":"route_unscored"}'], buttons
    assert [b["value"] for b in buttons if b["focused"]] == ['{"job":"route_unscored"}']

    gate.set()
    page.wait_for_selector("#jobs-run-result", timeout=30000)
    page.wait_for_function(IDLE, timeout=15000)
    assert page.inner_text("#jobs-run-result").startswith("route_unscored: succeeded")
    assert _manual_runs(web_app, "route_unscored") == before["route_unscored"] + 1
    assert _manual_runs(web_app, "refresh_aggregates") == before["refresh_aggregates"]
    # Run now's answer drew the list anew: the focus is on the same job's Run now, not the page's body.
    buttons = page.evaluate(BUTTONS)
    assert [b["value"] for b in buttons if b["focused"]] == ['{"job":"route_unscored"}']
    assert not any(b["busy"] for b in buttons) and page.inner_text("#scope-row-action-status") == ""
    # and the keyboard goes on from there: Space runs it again
    page.wait_for_timeout(1100)   # past the double-click guard
    page.keyboard.press(" ")
    page.wait_for_function(IDLE, timeout=15000)
    page.wait_for_timeout(300)
    assert _manual_runs(web_app, "route_unscored") == before["route_unscored"] + 2
    assert page.console_errors == []


def test_a_claim_takes_one_status_change_at_a_time_and_the_focus_stays_on_the_card(page, live_server, web_app,
                                                                                    monkeypatch):
    import callbacks.claim as claim_callbacks

    started, gate = threading.Event(), threading.Event()
    change_status = claim_callbacks.change_status

    def held(*args, **kwargs):
        started.set()
        gate.wait(30)
        return change_status(*args, **kwargs)

    monkeypatch.setattr(claim_callbacks, "change_status", held)
    claim = web_claim(web_app, status="in_review")
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(f"{live_server}/claims/{claim['number']}")
    page.wait_for_selector("#claim-actions-body [data-ask]", timeout=15000)
    labels = page.eval_on_selector_all("#claim-actions-body [data-ask]", "els => els.map(e => e.innerText)")
    assert {"Assign to me", "Awaiting information"} <= set(labels), labels
    page.get_by_role("button", name="Awaiting information").focus()
    page.keyboard.press("Enter")
    try:
        assert started.wait(15)
        # "Assign to me" while the status change runs: held (it carried the claim's old version).
        page.evaluate("[...document.querySelectorAll('#claim-actions-body [data-ask]')]"
                      ".find(b => b.innerText === 'Assign to me').click()")
        buttons = page.evaluate(BUTTONS)
        assert all(b["disabled"] for b in buttons) and [b["value"] for b in buttons if b["busy"]] == [
            '{"action":"awaiting_info"}'], buttons
    finally:
        gate.set()
    page.wait_for_selector("#claim-action-msg >> text=is now Awaiting information", timeout=15000)
    page.wait_for_function(IDLE, timeout=15000)
    page.wait_for_timeout(1500)   # a second request would have answered by now
    assert "changed by someone else" not in page.inner_text("#claim-action-msg")
    assert "Information received" in page.inner_text("#claim-actions-body")
    # The pressed button is gone with the new status: the focus is on the card's heading, not the body.
    focused = page.evaluate("() => [document.activeElement.tagName, document.activeElement.innerText]")
    assert focused == ["H5", "Work on this claim"], focused

    from sqlalchemy import select

    from db.flask_db import unit_of_work
    from db.models import Claim

    with web_app.server.app_context(), unit_of_work() as session:
        stored = session.scalar(select(Claim).where(Claim.claim_number == claim["number"]))
        assert stored.status == "awaiting_info" and stored.adjuster_id is None
    assert page.console_errors == []


def _jobs_page(page, live_server) -> list[str]:
    """The Jobs page as admin; returns the list the page's uncaught script errors go to (the
    console also shows the failed request itself, which is not a script error)."""
    exceptions = []
    page.on("pageerror", lambda exc: exceptions.append(str(exc)))
    sign_in(page, live_server, "admin@scope.example", "scope-demo-admin")
    page.goto(live_server + "/admin/jobs")
    page.wait_for_selector("#jobs-table")
    return exceptions


def _asks(request, store: str) -> bool:
    return "_dash-update-component" in request.url and f'"{store}"' in (request.post_data or "")


BANNER = "() => document.querySelector('#scope-request-problem')?.innerText || ''"


@pytest.mark.parametrize("failure, banner", [
    ("server error", "Something went wrong"),
    ("refused", "Not allowed"),
    ("no network", "SCOPE cannot be reached"),
    ("nothing to do", ""),   # the callback's PreventUpdate: an empty answer, nothing to show
])
def test_a_request_that_fails_releases_the_buttons_at_once_and_says_why(page, live_server, monkeypatch,
                                                                         failure, banner):
    """The buttons wait for the answer, whatever it is: a failed request is an answer too. Held
    until the 130-second last resort, Run now looked broken with the reason already on the screen."""
    import callbacks.admin_jobs as jobs_callbacks
    from dash.exceptions import PreventUpdate

    from auth import guard

    started, gate, routes = threading.Event(), threading.Event(), []

    def held(outcome):
        def answer(*args, **kwargs):
            started.set()
            gate.wait(30)
            return outcome()
        return answer

    def fail():
        raise RuntimeError("simulated failure")

    def prevent():
        raise PreventUpdate

    if failure == "server error":
        monkeypatch.setattr(jobs_callbacks, "run_job", held(fail))
    elif failure == "nothing to do":
        monkeypatch.setattr(jobs_callbacks, "asked", held(prevent))
    elif failure == "refused":
        # As when the admin's role is changed while the page is open: the guard refuses the callback.
        permission, refuse = guard.callback_permission, held(lambda: "nobody")
        monkeypatch.setattr(guard, "callback_permission",
                            lambda app, key: refuse() if "jobs-run-status" in key else permission(app, key))
    exceptions = _jobs_page(page, live_server)
    if failure == "no network":
        page.route("**/_dash-update-component*",
                   lambda route: routes.append(route) if _asks(route.request, "jobs-run-ask") else route.continue_())

    page.click("#job-row-route_unscored button")
    if failure == "no network":
        page.wait_for_function("() => true")   # lets the route handler run
        for _ in range(100):
            if routes:
                break
            page.wait_for_timeout(100)
        assert routes
    else:
        assert started.wait(15)
    buttons = page.evaluate(BUTTONS)
    assert all(b["disabled"] for b in buttons) and [b["value"] for b in buttons if b["busy"]] == [
        '{"job":"route_unscored"}'], buttons
    assert page.inner_text("#scope-row-action-status") == "Working…"

    if routes:
        routes[0].abort("failed")
    gate.set()
    page.wait_for_function(IDLE, timeout=5000)
    assert not any(b["busy"] for b in page.evaluate(BUTTONS))
    assert page.inner_text("#scope-row-action-status") == ""
    if banner:
        page.wait_for_selector("#scope-request-problem", timeout=5000)
    assert banner in page.evaluate(BANNER) and (banner or page.evaluate(BANNER) == "")
    # and the buttons work again: the next Run now is posted
    page.wait_for_timeout(1100)   # past the double-click guard
    with page.expect_request(lambda r: _asks(r, "jobs-run-ask"), timeout=5000):
        page.click("#job-row-refresh_aggregates button")
    assert exceptions == []


# Dash's internal state as another Dash version might have it: not there (nor a way to be told of
# changes), or there but failing when read.
UNREADABLE = {
    "missing": """() => { window.dash_stores = window.dash_stores.map(s => ({dispatch: s.dispatch,
        getState: () => new Proxy(s.getState(), {get: (t, k) => k === 'callbacks' ? undefined : t[k]})})); }""",
    "unreadable": """() => { window.dash_stores = window.dash_stores.map(s => ({dispatch: s.dispatch,
        subscribe: s.subscribe, getState: () => new Proxy(s.getState(), {get: (t, k) => {
            if (k === 'callbacks') throw new Error('no such state'); return t[k]; }})})); }""",
}


@pytest.mark.parametrize("state", sorted(UNREADABLE))
def test_without_dashs_internal_state_a_double_click_still_runs_once_and_nothing_is_held(page, live_server, web_app,
                                                                                          state):
    """The busy state reads Dash's internals: without them it is left out, never buttons held for
    130 s with nobody to release them, nor a script error at each change of Dash's state."""
    exceptions = _jobs_page(page, live_server)
    before = _manual_runs(web_app, "route_unscored")
    page.evaluate(UNREADABLE[state])
    held = page.evaluate("""() => { const b = document.querySelector('#job-row-route_unscored button');
                                    b.click(); setTimeout(() => b.click(), 40);
                                    return !!document.querySelector('[data-ask][aria-disabled]'); }""")
    assert held is False
    page.wait_for_selector("#jobs-run-result", timeout=30000)
    page.wait_for_timeout(1500)   # the second click's request would have run by now
    assert page.inner_text("#jobs-run-result").startswith("route_unscored: succeeded")
    assert _manual_runs(web_app, "route_unscored") == before + 1
    assert page.evaluate(IDLE) and page.inner_text("#scope-row-action-status") == ""
    # A button whose store is not on the page asks nothing and holds nothing.
    page.evaluate("""() => { const b = document.createElement('button');
        b.id = 'stray'; b.setAttribute('data-ask', 'no-such-store'); b.setAttribute('data-ask-value', '{"x":1}');
        document.querySelector('#jobs-table').before(b); b.click(); }""")
    page.wait_for_timeout(300)
    assert page.evaluate(IDLE) and page.inner_text("#scope-row-action-status") == ""
    assert exceptions == [] and page.console_errors == []


def test_on_alerts_a_rules_delete_holds_its_edit_and_the_other_rule_buttons(page, live_server, monkeypatch):
    """A rule's Edit and Delete ask through two stores: an Edit pressed while the Delete was asked
    opened the editor and the delete question together. One group now: one of them at a time."""
    import services.alerts as alerts_service

    started, gate = threading.Event(), threading.Event()
    rule_name = alerts_service.rule_name

    def held(*args, **kwargs):
        started.set()
        gate.wait(30)
        return rule_name(*args, **kwargs)

    monkeypatch.setattr(alerts_service, "rule_name", held)
    asked_for = []
    page.on("request", lambda r: asked_for.extend(s for s in ("alert-edit-ask", "alert-toggle-ask", "alert-ack-ask")
                                                  if _asks(r, s)))
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/alerts")
    page.wait_for_selector("#alerts-rules-table [data-ask]", timeout=15000)
    rule = page.get_attribute(".alert-rule-row", "data-rule")
    row = f".alert-rule-row[data-rule='{rule}']"
    page.click(f"{row} [data-ask=alert-delete-ask]")
    try:
        assert started.wait(15)
        # Edit and Disable of the same rule while its Delete is asked: held, nothing posted.
        page.evaluate(f"""() => {{ document.querySelector("{row} [data-ask=alert-edit-ask]").click();
                                  document.querySelector("{row} [data-ask=alert-toggle-ask]").click(); }}""")
        page.wait_for_timeout(500)
        buttons = page.eval_on_selector_all("[data-ask-group=alerts]", """els => els.map(b => ({
            store: b.dataset.ask, rule: JSON.parse(b.dataset.askValue).id,
            disabled: b.getAttribute('aria-disabled') === 'true', busy: b.getAttribute('aria-busy') === 'true'}))""")
        assert {b["store"] for b in buttons} >= {"alert-edit-ask", "alert-toggle-ask", "alert-delete-ask"}
        assert all(b["disabled"] for b in buttons), buttons
        # the spinner on the Delete only, though the rule's Edit carries the same {"id": ...}
        assert [(b["store"], b["rule"]) for b in buttons if b["busy"]] == [("alert-delete-ask", int(rule))], buttons
    finally:
        gate.set()
    page.wait_for_selector("#alert-delete-confirm", state="visible", timeout=15000)
    page.wait_for_function(IDLE, timeout=15000)
    page.wait_for_timeout(1000)
    assert asked_for == [] and not page.is_visible("#alert-form-save")
    # Kept, and the rule's Edit works again.
    page.click("#alert-delete-cancel")
    page.wait_for_selector(".modal.show", state="detached", timeout=5000)
    page.click(f"{row} [data-ask=alert-edit-ask]")
    page.wait_for_selector("#alert-form-save", state="visible", timeout=15000)
    assert asked_for == ["alert-edit-ask"]
    assert page.console_errors == []
