from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("SCOPE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def live_server(web_app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, web_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("browser tests need Chromium: apt-get install -y chromium (or set SCOPE_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    # Playwright's wait_for_function evaluates strings in the page, which the app's
    # CSP (no 'unsafe-eval') forbids; tests/browser/test_csp.py visits every page
    # with the CSP enforced instead.
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, bypass_csp=True)
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda msg: msg.type == "error" and pg.console_errors.append(msg.text))
    pg.on("pageerror", lambda exc: pg.console_errors.append(str(exc)))
    yield pg
    context.close()


def screenshot(page, name: str) -> None:
    """Keep the current screenshots in docs/screenshots when SCOPE_SCREENSHOTS=1."""
    if os.environ.get("SCOPE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def choose_option(page, dropdown_id: str, text: str) -> None:
    """Pick a Dash dropdown option by clicking it (typing + Enter can fire before
    the options are filtered) and wait until the dropdown shows it."""
    page.click(f"#{dropdown_id}")
    page.locator(".dash-dropdown-option", has_text=text).first.click()
    page.wait_for_function(f"document.querySelector('#{dropdown_id}').innerText.includes({text!r})",
                           timeout=10000)
    page.keyboard.press("Escape")
