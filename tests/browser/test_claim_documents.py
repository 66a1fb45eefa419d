"""Attaching, downloading and removing a claim's documents in a real browser."""
from __future__ import annotations

import time

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_claim_flow import sign_in
from tests.integration.test_feedback import web_claim

pytestmark = pytest.mark.browser


def test_adjuster_attaches_downloads_and_removes_documents(page, live_server, web_app, tmp_path):
    claim = web_claim(web_app)
    stamp = str(time.time_ns()).encode()
    estimate, photo, misnamed = tmp_path / "estimate.pdf", tmp_path / "bumper.jpg", tmp_path / "scan.pdf"
    estimate.write_bytes(b"%PDF-1.4\n% " + stamp + b"\n%%EOF\n")
    photo.write_bytes(b"\xff\xd8\xff\xe0" + stamp + b"\x00" * 2000)
    misnamed.write_bytes(b"\x89PNG\r\n\x1a\n" + stamp)
    sign_in(page, live_server, "adjuster@scope.example", "scope-demo-adjuster")
    page.goto(f"{live_server}/claims/{claim['number']}")
    page.wait_for_selector("#claim-documents #doc-empty")
    upload = page.locator("#doc-upload input[type=file]")

    upload.set_input_files([str(misnamed)])
    page.wait_for_selector("#doc-staged:has-text('scan.pdf')")
    page.select_option("#doc-kind", "photo")
    page.click("#doc-attach")
    page.wait_for_selector("#doc-msg .alert-danger")
    assert "“scan.pdf” is a PNG image" in page.inner_text("#doc-msg")
    assert page.locator("#doc-items li").count() == 0

    upload.set_input_files([str(estimate), str(photo)])
    page.fill("#doc-note", "Estimate from the body shop")
    page.click("#doc-attach")
    page.wait_for_selector("#doc-items li >> nth=1")
    assert "Attached 2 documents." in page.inner_text("#doc-msg")
    assert page.inner_text("#doc-staged").strip() == ""  # the control is empty again
    page.wait_for_selector("#claim-timeline .kind-document")
    screenshot(page, "claim-documents")

    with page.expect_download() as download:
        page.locator("#doc-items a.doc-link", has_text="estimate.pdf").click()
    assert download.value.suggested_filename == "estimate.pdf"
    assert open(download.value.path(), "rb").read() == estimate.read_bytes()

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#doc-items li", has_text="bumper.jpg").locator("button", has_text="Remove").click()
    page.wait_for_selector("#claim-documents details summary")
    assert "1 removed" in page.inner_text("#claim-documents details summary")
    assert page.locator("#doc-items li").count() == 1
    page.wait_for_selector("#claim-timeline .kind-document_removed")

    # Together more than one upload may carry: listed with sizes, Attach held, nothing sent.
    big = [tmp_path / f"scan{i}.pdf" for i in range(3)]
    for i, path in enumerate(big):
        path.write_bytes(b"%PDF-1.4\n" + bytes([i]) * (8 * 1024 * 1024))
    upload.set_input_files([str(p) for p in big])
    page.wait_for_selector("#doc-staged:has-text('attach at most 20.0 MB')", timeout=20000)
    assert "scan2.pdf (8.0 MB)" in page.inner_text("#doc-staged")
    assert page.locator("#doc-attach").is_disabled()
    assert page.console_errors == []
