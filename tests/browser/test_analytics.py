"""A fresh adjuster works in a real browser: clicks are sampled, page views and
the decision are recorded, the weekly rating is asked once; a manager then
reads it all on /analytics."""
from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest
from sqlalchemy import func, select

from db.models import UsageClick, UsageEvent, UsageRating
from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in
from tests.integration.test_feedback import web_claim

pytestmark = pytest.mark.browser
_seq = itertools.count(1)
PASSWORD = "usage-browser-pw-1234"


def _adjuster(web_app) -> tuple[int, str]:
    from db.flask_db import unit_of_work
    from services.users import create_user

    email = f"usage{next(_seq)}-{time.time_ns()}@scope.example"
    with web_app.server.app_context(), unit_of_work() as s:
        user = create_user(s, email=email, role="adjuster", password=PASSWORD, department_codes=["AUTO_PD"],
                           name="Usage Tester")
        return user.id, email


def _count(web_app, model, *where) -> int:
    from db.flask_db import read_session

    with web_app.server.app_context():
        s = read_session()
        try:
            return s.scalar(select(func.count()).select_from(model).where(*where))
        finally:
            s.close()


def _wait_for(fn, timeout: float = 15) -> None:
    end = time.time() + timeout
    while not fn():
        if time.time() > end:
            raise AssertionError("timed out")
        time.sleep(0.3)


def test_usage_is_recorded_and_managers_read_it(browser, page, live_server, web_app):
    uid, email = _adjuster(web_app)
    claim = web_claim(web_app)
    page.add_init_script("window.SCOPE_USAGE_SAMPLE_RATE = 1;")  # every click, so the test is deterministic
    sign_in(page, live_server, email, PASSWORD)
    page.wait_for_selector(".queue-card")
    page.goto(live_server + "/queues?department=AUTO_PD")
    page.wait_for_selector(".claim-link", timeout=15000)
    for x, y in ((200, 150), (700, 160), (1200, 140), (300, 600)):
        page.mouse.click(x, y)
    page.goto(f"{live_server}/claims/{claim['number']}")
    page.wait_for_selector("#decision-reasons li", timeout=15000)
    page.click("text=Agree")
    page.click("#fb-submit")
    page.wait_for_selector("#fb-msg .alert-success", timeout=15000)
    page.evaluate("window.scopeUsageFlush()")

    _wait_for(lambda: _count(web_app, UsageClick, UsageClick.user_id == uid) >= 6)
    pages = {p for p in _pages(web_app, uid)}
    assert {"/", "/queues", "/claims/<claim_number>"} <= pages
    assert _count(web_app, UsageEvent, UsageEvent.user_id == uid, UsageEvent.action == "claim_opened") == 1
    assert _count(web_app, UsageEvent, UsageEvent.user_id == uid, UsageEvent.action == "decision_recorded") == 1
    _wait_for(lambda: _count(web_app, UsageEvent, UsageEvent.user_id == uid, UsageEvent.action == "time_on_page") >= 1)

    # Three pages into the day, the Overview asks the weekly question once.
    page.goto(live_server + "/")
    page.wait_for_selector("#usage-rating-card", timeout=15000)
    page.locator("#usage-rating-card label", has_text="4").click()
    page.fill("#usage-rating-comment", "Reasons are clear")
    page.locator("#usage-rating-card").scroll_into_view_if_needed()
    screenshot(page, "analytics-rating")
    page.click("#usage-rating-send")
    page.wait_for_selector("#usage-rating-msg .text-success", timeout=15000)
    assert _count(web_app, UsageRating, UsageRating.user_id == uid, UsageRating.rating == 4) == 1
    page.reload()
    page.wait_for_selector(".queue-card")
    page.wait_for_timeout(1500)
    assert page.locator("#usage-rating-card").count() == 0
    assert page.console_errors == []

    manager = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    sign_in(manager, live_server, "manager@scope.example", "scope-demo-manager")
    manager.goto(live_server + "/analytics")
    manager.wait_for_selector("#usage-page-views", timeout=20000)
    # Polled from Python: the app's Content Security Policy forbids Playwright's string predicates.
    _wait_for(lambda: manager.locator(".js-plotly-plot .main-svg").count() >= 5)
    assert int(manager.inner_text("#usage-page-views").replace(",", "")) > 0
    assert "Adjusters" in manager.inner_text("#usage-funnel-table")
    manager.wait_for_selector("#analytics-heatmap-graph", timeout=15000)
    manager.wait_for_timeout(800)
    screenshot(manager, "analytics")

    manager.click("#analytics-role")
    manager.locator(".dash-dropdown-option", has_text="Adjusters").first.click()
    # The role goes to the URL, the URL drives the cards: adjusters only, the same figure as
    # straight from the table.
    since = dt.datetime.combine(dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=29), dt.time(),
                                tzinfo=dt.timezone.utc)
    expected = _count(web_app, UsageEvent, UsageEvent.role == "adjuster", UsageEvent.action == "page_view",
                      UsageEvent.at >= since)
    _wait_for(lambda: manager.inner_text("#usage-page-views").replace(",", "") == str(expected))
    manager.context.close()


def _pages(web_app, uid) -> list[str]:
    from db.flask_db import read_session

    with web_app.server.app_context():
        s = read_session()
        try:
            return s.scalars(select(UsageEvent.page).where(UsageEvent.user_id == uid,
                                                           UsageEvent.action == "page_view")).all()
        finally:
            s.close()


def test_adjuster_is_refused_analytics_in_the_browser(page, live_server):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    assert page.locator("a.nav-link", has_text="Analytics").count() == 0
    page.goto(live_server + "/analytics")
    page.wait_for_selector(".alert-danger", timeout=15000)
    assert "Not allowed" in page.inner_text(".alert-danger")
