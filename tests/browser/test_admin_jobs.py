"""An admin runs route_unscored from the jobs page and sees the succeeded run."""
from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in

pytestmark = pytest.mark.browser


def test_admin_runs_a_job_now_and_sees_it_in_the_history(page, live_server):
    sign_in(page, live_server, "admin@scope.example", "scope-demo-admin")
    page.goto(live_server + "/admin/jobs")
    page.wait_for_selector("#jobs-table")
    page.click("#job-row-route_unscored button")
    page.wait_for_selector("#jobs-run-result", timeout=30000)
    assert page.inner_text("#jobs-run-result").startswith("route_unscored: succeeded")
    page.wait_for_selector(".job-history-row[data-job=route_unscored][data-status=succeeded]", timeout=15000)
    assert "admin@scope.example" in page.inner_text("#jobs-history-table")
    screenshot(page, "admin_jobs")
    # the history narrows to one job
    page.select_option("#jobs-history-job", "refresh_aggregates")
    page.wait_for_selector(".job-history-row[data-job=route_unscored]", state="detached", timeout=15000)
    jobs_shown = page.eval_on_selector_all(".job-history-row", "els => els.map(e => e.dataset.job)")
    assert set(jobs_shown) <= {"refresh_aggregates"}
    assert page.console_errors == []


def test_manager_is_not_allowed_on_the_jobs_page(page, live_server):
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/admin/jobs")
    page.wait_for_selector(".alert-danger")
    assert "Not allowed" in page.inner_text(".alert-danger")


def _manual_runs(web_app, job: str) -> int:
    from sqlalchemy import func, select

    from db.flask_db import unit_of_work
    from db.models import JobRun

    with web_app.server.app_context(), unit_of_work() as session:
        return session.scalar(select(func.count(JobRun.id)).where(JobRun.job == job, JobRun.slot.like("manual-%")))


def test_a_double_click_on_run_now_runs_the_job_once(page, live_server, web_app):
    # Both clicks of a double click reached the store (assets/62-row-actions.js): two posts, two runs
    # (and on a claim, the second status change of a double click read "changed by someone else").
    sign_in(page, live_server, "admin@scope.example", "scope-demo-admin")
    page.goto(live_server + "/admin/jobs")
    page.wait_for_selector("#jobs-table")
    before = _manual_runs(web_app, "route_unscored")
    page.evaluate("""() => { const b = document.querySelector('#job-row-route_unscored button');
                             b.click(); setTimeout(() => b.click(), 40); }""")
    page.wait_for_selector("#jobs-run-result", timeout=30000)
    page.wait_for_timeout(3000)   # a second request would have run by now
    assert _manual_runs(web_app, "route_unscored") == before + 1
    # a later click is a new request
    page.click("#job-row-route_unscored button")
    page.wait_for_timeout(4000)
    assert _manual_runs(web_app, "route_unscored") == before + 2
    assert page.console_errors == []


def test_on_a_phone_each_job_and_each_run_is_a_block_of_labelled_lines(page, live_server):
    """At 390 px both tables scrolled sideways, Run now off the screen; wide screens keep the tables."""
    sign_in(page, live_server, "admin@scope.example", "scope-demo-admin")
    page.goto(live_server + "/admin/jobs")
    page.wait_for_selector("#jobs-history-table .job-history-row", timeout=15000)
    assert page.is_visible("#jobs-table thead") and page.is_visible("#jobs-history-table thead")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    measured = page.evaluate("""() => {
        const fits = el => el.getBoundingClientRect().right <= window.innerWidth + 1;
        const scrolls = id => { const t = document.querySelector(id).closest('.table-responsive');
                                return t.scrollWidth > t.clientWidth + 1; };
        const label = td => getComputedStyle(td, '::before').content;
        const run = document.querySelector('#jobs-history-table .job-history-row');
        return {page: document.documentElement.scrollWidth,
                scrolls: [scrolls('#jobs-table'), scrolls('#jobs-history-table')],
                heads: [...document.querySelectorAll('#jobs-table thead, #jobs-history-table thead')]
                       .map(h => getComputedStyle(h).display),
                buttons: [...document.querySelectorAll('#jobs-table [data-ask]')].every(fits),
                cells: [...document.querySelectorAll('#jobs-table td, #jobs-history-table td')].every(fits),
                jobLabels: [...document.querySelectorAll('#job-row-refresh_aggregates td')].map(label),
                runLabels: [...run.querySelectorAll('td')].filter(td => td.offsetParent).map(label)};
    }""")
    assert measured["page"] <= 391 and measured["scrolls"] == [False, False], measured
    assert measured["heads"] == ["none", "none"] and measured["buttons"] and measured["cells"], measured
    assert measured["jobLabels"][1:3] == ['"Last run (UTC)"', '"Schedule (UTC)"'], measured["jobLabels"]
    assert measured["runLabels"][:4] == ['"Started (UTC)"', '"Job"', '"Triggered by"', '"Status"'], measured
    # no line for what a job never run (or a run without a count or outcome) does not have
    hidden = page.evaluate("""() => [...document.querySelectorAll('#jobs-table td.jobs-nothing,'
                                                         + ' #jobs-history-table td.jobs-nothing')]
                                    .map(td => td.offsetParent === null)""")
    assert hidden and all(hidden), hidden
    assert page.console_errors == []
