"""A page whose request fails says so instead of silently doing nothing: after the
session ended (sign in again in a new tab, nothing typed is lost) and on a server
error (with the reference that finds the logged trace)."""
from __future__ import annotations

import re

import dash
import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in
from tests.browser.test_queues_flow import wait_status

pytestmark = pytest.mark.browser
BOX = "#scope-request-problem"


def test_an_ended_session_says_so_and_keeps_what_was_typed(page, live_server):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/queues?department=AUTO_PD")
    page.wait_for_selector(".claim-link", timeout=15000)
    wait_status(page, "open claims")
    page.evaluate("window.__sameDocument = 42")
    page.fill("#qf-amount-min", "777")

    page.context.clear_cookies()  # as after the idle timeout: the server no longer knows this browser
    page.click("#qf-apply")
    box = page.wait_for_selector(BOX, timeout=15000)
    assert "Your session has ended" in box.inner_text()
    link = page.locator(f"{BOX} a", has_text="Sign in in a new tab")
    assert link.get_attribute("href") == "/login?next=%2Fqueues%3Fdepartment%3DAUTO_PD"
    assert link.get_attribute("target") == "_blank"
    screenshot(page, "session_ended")
    assert page.evaluate("window.__sameDocument") == 42, "the page was reloaded or left"
    assert page.input_value("#qf-amount-min") == "777"

    # Sign in again in another tab of the same browser, then repeat the action here.
    other = page.context.new_page()
    sign_in(other, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    other.close()
    page.click(f"{BOX} .btn-close")
    page.click("#qf-apply")
    wait_status(page, "amount ≥ $777")
    assert page.locator(BOX).count() == 0


def test_a_server_error_shows_its_reference(page, live_server, monkeypatch):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/queues?department=AUTO_PD")
    page.wait_for_selector(".claim-link", timeout=15000)

    def boom(**_):
        raise RuntimeError("simulated failure")

    my_work = next(p for p in dash.page_registry.values() if p["path"] == "/my-work")
    monkeypatch.setitem(my_work, "layout", boom)
    with page.expect_response(lambda r: "_dash-update-component" in r.url and r.status == 500) as failure:
        page.click("a.nav-link[href='/my-work']")
    reference = failure.value.headers["x-request-id"]
    box = page.wait_for_selector(f"{BOX}[data-kind=error]", timeout=15000)
    text = box.inner_text()
    assert "Something went wrong" in text and reference in text
    assert re.fullmatch(r"[0-9a-f]{16}", reference)
    assert "simulated" not in text
    screenshot(page, "server_error_banner")


@pytest.mark.parametrize("role", ["viewer", "adjuster", "manager"])
def test_normal_use_raises_no_banner_on_any_page_of_a_role(browser, live_server, client_for, role):
    """Every page a role can open runs its callbacks without a refusal or an error
    (which would now show the banner): no page holds a control its role may not use."""
    from auth.permissions import ROLE_PERMISSIONS
    from components.shell import ADMIN_NAV, NAV

    signed_in = client_for(role)
    cookie = signed_in.get_cookie("scope_session")
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, bypass_csp=True)
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])
    page = context.new_page()
    failures: list[str] = []
    page.on("response", lambda r: "_dash-update-component" in r.url and r.status >= 400
            and failures.append(f"{page.url}: {r.status}"))
    try:
        allowed = ROLE_PERMISSIONS[role]
        paths = [path for _, path, perm in NAV + ADMIN_NAV if perm in allowed] + ["/profile"]
        assert len(paths) >= 4
        for path in paths:
            page.goto(live_server + path)
            page.wait_for_selector(".scope-navbar", timeout=20000)
            page.wait_for_load_state("networkidle")
            assert page.locator(BOX).count() == 0, f"{role} {path}: {page.inner_text(BOX)}"
    finally:
        context.close()
    assert failures == []
