"""An adjuster filters a queue, saves the filter and applies it again after a reload."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import choose_option, screenshot
from tests.browser.test_claim_flow import sign_in

pytestmark = pytest.mark.browser
COUNT = re.compile(r"^(about )?([\d,]+) ")


def count_of(page) -> int:
    match = COUNT.search(page.inner_text("#queue-status"))
    assert match, page.inner_text("#queue-status")
    return int(match.group(2).replace(",", ""))


def wait_status(page, text: str) -> None:
    page.wait_for_function(
        "t => (document.querySelector('#queue-status') || {}).innerText?.includes(t)", arg=text, timeout=15000)


def grid_statuses(page) -> set[str]:
    return set(page.locator(".ag-center-cols-container [col-id=status]").all_inner_texts())


def test_adjuster_filters_saves_and_reapplies(page, live_server):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/queues?department=AUTO_PD")
    page.wait_for_selector(".claim-link", timeout=15000)
    wait_status(page, "open claims")
    everything = count_of(page)

    choose_option(page, "qf-statuses", "Assigned")
    page.fill("#qf-amount-min", "500")
    page.click("#qf-apply")
    wait_status(page, "status Assigned")
    page.wait_for_selector(".claim-link", timeout=15000)
    filtered = count_of(page)
    assert 0 < filtered < everything
    page.wait_for_function("() => [...document.querySelectorAll('.ag-center-cols-container [col-id=status]')]"
                           ".every(e => e.innerText.trim() === 'Assigned')", timeout=15000)
    assert grid_statuses(page) == {"Assigned"}
    screenshot(page, "queue_filtered")

    page.fill("#qf-save-name", "Assigned over 500")
    page.click("#qf-save")
    page.wait_for_selector("#qf-saved-message:has-text('Saved')", timeout=15000)

    # The filters live in the address: a reload, a claim's back link and the browser's Back keep them.
    page.reload()
    page.wait_for_selector(".claim-link", timeout=15000)
    wait_status(page, "status Assigned")
    assert count_of(page) == filtered and page.input_value("#qf-amount-min") == "500"
    page.locator(".claim-link").first.click()
    page.wait_for_selector("#claim-back", timeout=15000)
    page.click("#claim-back")
    wait_status(page, "status Assigned")
    assert count_of(page) == filtered
    page.locator(".claim-link").first.click()
    page.wait_for_selector("#claim-back", timeout=15000)
    page.go_back()
    wait_status(page, "status Assigned")
    assert count_of(page) == filtered and page.input_value("#qf-amount-min") == "500"
    page.click("#qf-clear")
    wait_status(page, "open claims")
    assert count_of(page) == everything and "f=" not in page.url
    choose_option(page, "qf-saved", "Assigned over 500")
    wait_status(page, "status Assigned")
    assert count_of(page) == filtered
    assert page.input_value("#qf-amount-min") == "500"

    page.click("#qf-delete")
    page.wait_for_selector("#qf-saved-message:has-text('Deleted')", timeout=15000)
    page.click("#qf-clear")
    wait_status(page, "open claims")
    assert count_of(page) == everything
    assert page.console_errors == []


def test_queue_and_my_work_pages(page, live_server):
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(live_server + "/queues?department=AUTO_PD")
    page.wait_for_selector(".claim-link", timeout=15000)
    screenshot(page, "queue")
    page.goto(live_server + "/my-work")
    page.wait_for_selector(".claim-link", timeout=15000)
    wait_status(page, "assigned to you")
    assert count_of(page) > 0
    choose_option(page, "qf-confidence", "High")
    page.click("#qf-apply")
    wait_status(page, "confidence high")
    screenshot(page, "my_work")

    # "Past service level": only claims whose report date is red (open past their level)
    page.click("#qf-clear")
    wait_status(page, "assigned to you")
    everything = count_of(page)
    page.click("label[for=qf-overdue]")
    page.click("#qf-apply")
    wait_status(page, "past service level")
    page.wait_for_selector(".claim-link", timeout=15000)
    late = count_of(page)
    assert 0 < late <= everything
    page.wait_for_function("() => { const cells = [...document.querySelectorAll("
                           "'.ag-center-cols-container [col-id=report_date]')];"
                           " return cells.length > 0 && cells.every(e => e.classList.contains('sla-overdue')); }",
                           timeout=15000)
    screenshot(page, "my_work_overdue")
    assert page.console_errors == []


def _description_width(page) -> float:
    return page.evaluate("document.querySelector('.ag-header-cell[col-id=description]')"
                         ".getBoundingClientRect().width")


def test_queue_columns_fit_a_laptop_screen(page, live_server):
    """At 1280 px the description column is readable and on screen (it showed about
    four characters, the rest of it past the grid's right edge)."""
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    for path, name in (("/queues?department=AUTO_PD", "queue_1280"), ("/my-work", "my_work_1280")):
        page.goto(live_server + path)
        page.wait_for_selector(".claim-link", timeout=15000)
        assert _description_width(page) >= 200, path
        right = page.evaluate("(() => { const g = document.querySelector('#queue-grid .ag-root-wrapper')"
                              ".getBoundingClientRect(); const d = document.querySelector("
                              "'.ag-header-cell[col-id=description]').getBoundingClientRect();"
                              " return g.right - d.right; })()")
        assert right >= -1, (path, right)  # no sideways scrolling to reach it
        screenshot(page, name)
    assert page.console_errors == []
