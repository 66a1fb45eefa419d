"""Executive dashboard in a real browser: filters write the URL and change the charts;
drill-down from the time series and from a breakdown bar, paged; the printable
report prints on one page."""
from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import SCREENSHOTS, screenshot
from tests.browser.test_claim_flow import sign_in

pytestmark = pytest.mark.browser


def _wait(page, expression: str, timeout: float = 30.0) -> None:
    """Poll a JavaScript expression until it is truthy. page.wait_for_function
    evaluates its predicate with eval, which the app's Content-Security-Policy
    (no 'unsafe-eval') refuses; page.evaluate goes through the DevTools protocol."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        page.wait_for_timeout(100)


def wait_for_charts(page, n: int) -> None:
    _wait(page, f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n}")


def choose_option(page, dropdown_id: str, text: str) -> None:
    page.click(f"#{dropdown_id}")
    page.locator(".dash-dropdown-option", has_text=text).first.click()
    _wait(page, f"document.querySelector('#{dropdown_id}').innerText.includes({text!r})")
    page.keyboard.press("Escape")


def _refresh_rollups(web_app):
    from db.flask_db import unit_of_work
    from services.aggregates import refresh

    with web_app.server.app_context():
        with unit_of_work() as session:
            refresh(session)


def _bars(page, graph_id: str) -> int:
    return page.locator(f"#{graph_id} .bars path").count()


def _click_center(page, locator) -> None:
    # plotly's drag layer sits over the marks, so click where the mark is drawn
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _drill_links(page) -> list[str]:
    return page.eval_on_selector_all("#dashboard-drill-body a", "els => els.map(e => e.getAttribute('href'))")


def _close_drill(page) -> None:
    page.keyboard.press("Escape")
    page.wait_for_selector(".modal.show", state="detached", timeout=5000)
    # the backdrop fades out after the dialog; a click before that lands on it, not on a chart
    page.wait_for_selector(".modal-backdrop", state="detached", timeout=5000)


def test_manager_filters_dashboard_and_charts_follow(page, live_server, web_app):
    _refresh_rollups(web_app)
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/dashboard")
    wait_for_charts(page, 4)
    page.wait_for_selector("#kpi-received", timeout=15000)
    before = page.inner_text("#kpi-received")
    assert int(before.replace(",", "")) > 0
    departments_before = _bars(page, "dashboard-departments")
    assert departments_before > 1
    screenshot(page, "dashboard")

    choose_option(page, "dashboard-department", "Property")
    _wait(page, "window.location.search.includes('department=PROPERTY')")
    # the loading spinner empties the card for a moment: wait for a number that differs
    _wait(page, f"document.querySelector('#kpi-received') && "
                f"/^[0-9,]+$/.test(document.querySelector('#kpi-received').innerText) && "
                f"document.querySelector('#kpi-received').innerText !== {before!r}")
    after = int(page.inner_text("#kpi-received").replace(",", ""))
    assert 0 < after < int(before.replace(",", ""))
    assert "start=" in page.evaluate("window.location.search")
    # the department chart keeps every department, Property highlighted with its share of the
    # whole in the title, the others greyed; a grey bar still lists its own department's claims
    _wait(page, "document.querySelector('#dashboard-departments .gtitle') && "
                "document.querySelector('#dashboard-departments .gtitle').textContent.startsWith('Property: ')")
    assert re.search(r"^Property: \d+% of all claims received",
                     page.text_content("#dashboard-departments .gtitle"))
    assert _bars(page, "dashboard-departments") == departments_before
    fills = page.eval_on_selector_all("#dashboard-departments .bars path", "els => els.map(e => e.style.fill)")
    grey = "rgb(206, 212, 218)"
    assert fills.count(grey) == departments_before - 1
    # the KPI values of a row line up: every label and change stays on one line at 1280 px
    page.set_viewport_size({"width": 1280, "height": 900})
    page.wait_for_timeout(300)
    tops = page.eval_on_selector_all("[id^=kpi-]:not([id^=kpi-label])",
                                     "els => els.map(e => Math.round(e.getBoundingClientRect().top))")
    assert len(tops) == 12 and len(set(tops)) == 2, tops
    heights = page.eval_on_selector_all(".kpi-label, .kpi-delta", "els => els.map(e => e.offsetHeight)")
    assert max(heights) < 1.6 * min(heights), heights
    # the manager's full navbar (ten links, name, Sign out) stays one line at 1280 px
    assert page.evaluate("document.querySelector('.scope-navbar').offsetHeight") < 70
    screenshot(page, "dashboard-property")
    labels = page.locator("#dashboard-departments .ytick text")
    other = next(i for i in range(labels.count()) if labels.nth(i).text_content() != "Property")
    name = labels.nth(other).text_content()
    _click_center(page, page.locator("#dashboard-departments .bars path").nth(other))
    _wait(page, "document.querySelector('#dashboard-drill-title') && "
                f"document.querySelector('#dashboard-drill-title').innerText.startsWith({'Claims received · ' + name!r})"
                " && document.querySelectorAll('#dashboard-drill-body a').length > 0")
    departments = page.eval_on_selector_all("#dashboard-drill-body tbody tr td:nth-child(4)",
                                            "els => els.map(e => e.innerText)")
    assert set(departments) == {name}
    _close_drill(page)
    page.set_viewport_size({"width": 1440, "height": 900})

    # a shared link with a year-long range shows weeks, and the report link carries the filters
    page.goto(live_server + "/dashboard?start=2025-11-01&end=2026-10-31&line=auto")
    wait_for_charts(page, 4)
    _wait(page, "document.querySelector('#dashboard-trend .gtitle') && "
                           "document.querySelector('#dashboard-trend .gtitle').textContent.includes('per week')")
    assert "Auto" in page.inner_text("#dashboard-line")
    # the line chart keeps every line with the chosen one highlighted, its share in the title
    _wait(page, "document.querySelector('#dashboard-lines .gtitle') && "
                "/^Auto: \\d+% of claims received/.test(document.querySelector('#dashboard-lines .gtitle').textContent)")
    line_fills = page.eval_on_selector_all("#dashboard-lines .bars path", "els => els.map(e => e.style.fill)")
    assert len(line_fills) > 1 and line_fills.count("rgb(206, 212, 218)") == len(line_fills) - 1
    screenshot(page, "dashboard-line")
    _wait(page, "document.querySelector('#dashboard-report-link').getAttribute('href')"
                           ".includes('line=auto')", 10)

    # filters no claim matches: the charts say so instead of bare axes or a flat zero line
    page.goto(live_server + "/dashboard?department=PROPERTY&line=auto")
    wait_for_charts(page, 4)
    for graph in ("dashboard-regions", "dashboard-trend"):
        _wait(page, f"document.querySelector('#{graph} .annotation-text') && "
                    f"document.querySelector('#{graph} .annotation-text').textContent === 'No claims for these filters'")
        assert page.locator(f"#{graph} .xtick").count() == 0
    screenshot(page, "dashboard-empty")
    assert page.console_errors == []


def test_drill_down_from_time_series_and_region_bar(page, live_server, web_app):
    _refresh_rollups(web_app)
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/dashboard")
    wait_for_charts(page, 4)
    page.wait_for_selector("#kpi-received", timeout=15000)

    # a point of the Received line (the first trace): the claims received that day. Other
    # tests add claims reported today, so the period's last weeks may be empty days: take the
    # busiest day whose point stands clear of the Closed line's point, so the click lands on it.
    received = page.locator("#dashboard-trend .scatterlayer .trace").nth(0).locator(".points path")
    closed = page.locator("#dashboard-trend .scatterlayer .trace").nth(1).locator(".points path")
    assert received.count() > 10
    ys = [(received.nth(i).bounding_box()["y"], closed.nth(i).bounding_box()["y"])
          for i in range(received.count())]
    clear = [i for i, (r, c) in enumerate(ys) if abs(r - c) > 12]
    assert clear
    _click_center(page, received.nth(min(clear, key=lambda i: ys[i][0])))
    page.wait_for_selector(".modal.show #dashboard-drill-body a", timeout=30000)
    title = page.inner_text("#dashboard-drill-title")
    assert re.search(r"Claims received · \d{4}-\d{2}-\d{2}$", title), title
    first = _drill_links(page)
    assert first and all(h.startswith("/claims/") for h in first)
    pager = page.inner_text("#dashboard-drill-pager")
    total = int(re.search(r"of ([\d,]+)", pager).group(1).replace(",", ""))
    assert total >= len(first)
    page.wait_for_timeout(500)  # let the fade-in finish before the screenshot
    screenshot(page, "dashboard-drill-trend")
    if total > 25:
        page.click("#dashboard-drill-next")
        _wait(page, "document.querySelector('#dashboard-drill-pager').innerText.includes('page 2')")
        assert not set(_drill_links(page)) & set(first)
    _close_drill(page)

    # a point of the Closed line (the second trace): the claims closed that day. Take the
    # day where the Closed point stands furthest *above* the Received one (so that day had
    # closings, more than arrivals), and the click cannot land on a Received point. (The
    # furthest apart either way was once a busy arrival day with no closing: an empty list.)
    assert closed.count() == received.count()
    above = [received.nth(i).bounding_box()["y"] - closed.nth(i).bounding_box()["y"]
             for i in range(closed.count())]
    target = max(range(len(above)), key=above.__getitem__)
    assert above[target] > 20
    _click_center(page, closed.nth(target))
    _wait(page, "document.querySelector('#dashboard-drill-title') && "
                "document.querySelector('#dashboard-drill-title').innerText.startsWith('Claims closed · ') && "
                "document.querySelectorAll('#dashboard-drill-body a').length > 0")
    headers = page.eval_on_selector_all("#dashboard-drill-body thead th", "els => els.map(e => e.innerText)")
    assert headers[:3] == ["Claim", "Reported", "Closed"]
    statuses = page.eval_on_selector_all("#dashboard-drill-body tbody tr td:nth-child(6)",
                                         "els => els.map(e => e.innerText)")
    day = page.inner_text("#dashboard-drill-title").rsplit(" ", 1)[-1]
    closing = page.eval_on_selector_all("#dashboard-drill-body tbody tr td:nth-child(3)",
                                        "els => els.map(e => e.innerText)")
    assert statuses and set(statuses) == {"Closed"} and set(closing) <= {day, ""}
    page.wait_for_timeout(500)
    screenshot(page, "dashboard-drill-closed")
    _close_drill(page)

    # a region bar (the top one is the largest region): claims of that region in the period
    region = page.locator("#dashboard-regions .ytick text").last.text_content()
    expected = "Unknown region" if region == "Unknown" else region
    opened = ("document.querySelector('#dashboard-drill-title') && "
              f"document.querySelector('#dashboard-drill-title').innerText.startsWith("
              f"{'Claims received · ' + expected!r}) && "
              "document.querySelectorAll('#dashboard-drill-body a').length > 0")
    for attempt in range(3):  # under load plotly may still be redrawing the bar when the first click lands
        _click_center(page, page.locator("#dashboard-regions .bars path").last)
        try:
            _wait(page, opened, timeout=10.0 if attempt < 2 else 30.0)
            break
        except AssertionError:
            if attempt == 2:
                raise
    regions = page.eval_on_selector_all("#dashboard-drill-body tbody tr td:nth-child(6)",
                                        "els => els.map(e => e.innerText)")
    assert regions and set(regions) == {"" if region == "Unknown" else region}
    page.wait_for_timeout(500)
    screenshot(page, "dashboard-drill")
    # the claim link opens the claim page
    href = _drill_links(page)[0]
    page.click(f"#dashboard-drill-body a[href='{href}']")
    _wait(page, f"window.location.pathname === {href!r}")
    assert page.console_errors == []


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_printable_report_fits_one_page_of_figures_and_one_of_tables(page, live_server, web_app, tmp_path):
    _refresh_rollups(web_app)
    sign_in(page, live_server, "manager@scope.example", "scope-demo-manager")
    page.goto(live_server + "/dashboard/report?department=PROPERTY")
    wait_for_charts(page, 4)
    page.wait_for_selector("#report-kpi-received", timeout=15000)
    assert "Property" in page.inner_text(".report-filters")
    # what the print looks like: print media on an A4-landscape-sized viewport
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 1123, "height": 794})
    page.wait_for_timeout(300)
    assert page.locator(".scope-navbar").is_hidden()
    # the department chart is not one fat bar: every department, Property highlighted
    assert page.locator("#dashboard-report .report-figure").nth(1).locator(".bars path").count() > 1
    screenshot(page, "dashboard-report")
    # every figure stays inside the sheet (990 px: the printable width of A4 and Letter in
    # landscape), at least 12 px from either edge, on paper and on screen
    for media in ("print", "screen"):
        page.emulate_media(media=media)
        page.wait_for_timeout(200)
        sheet = page.evaluate("""(() => { const r = document.querySelector('#dashboard-report')
            .getBoundingClientRect(); return {left: r.left, right: r.right, width: r.width}; })()""")
        assert sheet["width"] <= 990
        boxes = page.eval_on_selector_all("#dashboard-report .report-figure .main-svg:first-of-type",
                                          "els => els.map(e => { const r = e.getBoundingClientRect();"
                                          " return {left: r.left, right: r.right}; })")
        assert len(boxes) == 4
        for box in boxes:
            assert box["left"] >= sheet["left"] + 12 and box["right"] <= sheet["right"] - 12, (media, box, sheet)
    page.emulate_media(media="print")
    page.wait_for_timeout(200)
    for fmt in ("A4", "Letter"):
        pdf = page.pdf(format=fmt, landscape=True, print_background=True)
        (tmp_path / f"report-{fmt}.pdf").write_bytes(pdf)
        height = page.evaluate("document.documentElement.scrollHeight")
        # page 1: the figures (the sheet starting the tables breaks before itself), page 2: the tables
        assert _pdf_pages(pdf) == 2, f"{fmt}: {_pdf_pages(pdf)} pages (document {height}px high in print)"
    tables = page.locator("#dashboard-report-breakdowns .report-table")
    assert tables.count() == 3
    department = tables.nth(0).inner_text().upper()  # innerText follows the headers' text-transform
    assert "PROPERTY" in department and "ROUTING ACCURACY" in department
    assert page.console_errors == []
    assert SCREENSHOTS.name == "screenshots"
