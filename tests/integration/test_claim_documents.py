"""Claim documents through the claim page's callbacks and the download route, on the shared
web database: who may attach, read, download and remove, and that a refused upload writes nothing."""
import base64
import json

from sqlalchemy import func, select

from db.models import AuditLog, Claim, ClaimDocument, ClaimEvent
from tests.integration.test_feedback import web_claim
from tests.unit.test_claim_documents import PDF_BYTES, PNG_BYTES
from tests.webutil import call_callback, render_page

ATTACH_OUT = [("doc-msg", "children"), ("doc-list", "children"), ("doc-upload", "contents"),
              ("doc-upload", "filename"), ("doc-note", "value"), ("claim-refresh", "data")]


def page_of(client, number) -> str:
    _, page = render_page(client, f"/claims/{number}")
    return page.replace("\\u002f", "/").replace('\\"', '"')


def text_of(body) -> str:
    return json.dumps(body, ensure_ascii=False)


def url(data: bytes, kind: str = "application/pdf") -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode()


def unique_pdf(tag: str) -> bytes:
    return PDF_BYTES + f"% {tag}\n".encode()


def attach(web_app, client, number, files, kind="estimate", note=None):
    response = call_callback(web_app, client, "doc-upload.contents", ATTACH_OUT, [("doc-attach", "n_clicks", 1)],
        [("doc-upload", "contents", [url(d) for _, d in files]), ("doc-upload", "filename", [n for n, _ in files]),
         ("doc-kind", "value", kind), ("doc-note", "value", note), ("claim-key", "data", number)])
    return response.status_code, (json.loads(response.get_data(as_text=True))["response"]
                                  if response.status_code == 200 else None)


def remove(web_app, client, number, document_id):
    key = next(k for k in web_app.callback_map if "doc-msg.children@" in k)
    response = client.post("/_dash-update-component", json={
        "output": key,
        "outputs": [{"id": "doc-msg", "property": "children"}, {"id": "doc-list", "property": "children"},
                    {"id": "claim-refresh", "property": "data"}],
        "inputs": [{"id": "claim-doc-ask", "property": "data",
                    "value": {"action": "remove", "id": document_id, "at": 1}}],
        "state": [{"id": "claim-key", "property": "data", "value": number}],
        "changedPropIds": ["claim-doc-ask.data"],
    })
    return response.status_code, (json.loads(response.get_data(as_text=True))["response"]
                                  if response.status_code == 200 else None)


def docs_of(app_session, claim_id):
    return app_session(lambda s: [(d.id, d.filename, d.removed_at is not None, d.content is not None)
                                  for d in s.scalars(select(ClaimDocument).where(ClaimDocument.claim_id == claim_id)
                                                     .order_by(ClaimDocument.id))])


def count(app_session, model, *where):
    return app_session(lambda s: s.scalar(select(func.count()).select_from(model).where(*where)))


def test_an_adjuster_attaches_files_and_they_show_in_the_card_and_history(web_app, client_for, app_session):
    claim = web_claim(web_app)
    client = client_for("adjuster")
    status, body = attach(web_app, client, claim["number"],
                          [("estimate.pdf", unique_pdf("a1")), ("bumper.png", PNG_BYTES + b"a1")],
                          note="Body shop estimate")
    assert status == 200
    text = text_of(body)
    assert "Attached 2 documents." in text and "estimate.pdf" in text and "bumper.png" in text
    assert body["doc-upload"]["contents"] is None  # the control is emptied for the next upload
    docs = docs_of(app_session, claim["id"])
    assert [(n, removed, has) for _, n, removed, has in docs] == [("estimate.pdf", False, True),
                                                                 ("bumper.png", False, True)]
    stored = app_session(lambda s: s.scalar(select(ClaimDocument.content).where(ClaimDocument.id == docs[0][0])))
    assert stored == unique_pdf("a1")
    assert count(app_session, ClaimEvent, ClaimEvent.claim_id == claim["id"], ClaimEvent.kind == "document") == 2
    assert count(app_session, AuditLog, AuditLog.action == "claim.document_attached",
                 AuditLog.target_id == str(claim["id"])) == 2
    page = page_of(client, claim["number"])
    assert "Document attached" in page and f"/claim-documents/{docs[0][0]}" in page


def test_a_refused_file_in_an_upload_attaches_none_of_them(web_app, client_for, app_session):
    claim = web_claim(web_app)
    client = client_for("adjuster")
    before = count(app_session, AuditLog)
    status, body = attach(web_app, client, claim["number"],
                          [("good.pdf", unique_pdf("b1")), ("photo.pdf", PNG_BYTES)])
    assert status == 200
    assert "Nothing was attached" in text_of(body) and "“photo.pdf” is a PNG image" in text_of(body)
    assert docs_of(app_session, claim["id"]) == []
    assert count(app_session, AuditLog) == before
    # The same file twice, in one upload or after an earlier one, is refused by name.
    _, body = attach(web_app, client, claim["number"], [("a.pdf", unique_pdf("b2")), ("b.pdf", unique_pdf("b2"))])
    assert "are the same file" in text_of(body)
    attach(web_app, client, claim["number"], [("a.pdf", unique_pdf("b3"))])
    _, body = attach(web_app, client, claim["number"], [("copy.pdf", unique_pdf("b3"))])
    assert "“copy.pdf” is already attached to this claim (as “a.pdf”" in text_of(body)
    assert len(docs_of(app_session, claim["id"])) == 1
    # A kind must be chosen; a tampered kind is refused the same way.
    for kind in (None, "<script>", ["estimate"]):
        _, body = attach(web_app, client, claim["number"], [("k.pdf", unique_pdf("b4"))], kind=kind)
        assert "Choose what kind of document" in text_of(body)
    assert len(docs_of(app_session, claim["id"])) == 1


def test_tampered_upload_payloads_write_nothing(web_app, client_for, app_session):
    claim = web_claim(web_app)
    client = client_for("adjuster")
    before = count(app_session, ClaimDocument)
    for contents, names in [("data:application/pdf;base64,!!!", "x.pdf"), (["data:x"], ["a.pdf", "b.pdf"]),
                            ([url(unique_pdf("t"))] * 6, ["f.pdf"] * 6), ([42], [None])]:
        response = call_callback(web_app, client, "doc-upload.contents", ATTACH_OUT, [("doc-attach", "n_clicks", 1)],
                                 [("doc-upload", "contents", contents), ("doc-upload", "filename", names),
                                  ("doc-kind", "value", "other"), ("doc-note", "value", None),
                                  ("claim-key", "data", claim["number"])])
        assert response.status_code == 200
        assert "danger" in response.get_data(as_text=True)
    for number in ("NOPE-1", None, {"x": 1}):
        _, body = attach(web_app, client, number, [("a.pdf", unique_pdf("t2"))])
        assert "does not exist" in text_of(body)
    assert count(app_session, ClaimDocument) == before


def test_who_may_attach_read_and_download(web_app, client_for, app_session):
    claim = web_claim(web_app)
    other_dept = web_claim(web_app, dept="PROPERTY")  # not one of the demo adjuster's departments
    adjuster, viewer, manager = client_for("adjuster"), client_for("viewer"), client_for("manager")
    attach(web_app, manager, claim["number"], [("police.pdf", unique_pdf("c1"))], kind="police_report")
    (doc_id, *_), = docs_of(app_session, claim["id"])
    # A viewer has no attach permission at all, and sees the list without links (personal data).
    status, _ = attach(web_app, viewer, claim["number"], [("v.pdf", unique_pdf("c2"))])
    assert status == 403
    page = page_of(viewer, claim["number"])
    assert "police.pdf" in page and f"/claim-documents/{doc_id}" not in page and "doc-upload" not in page
    assert viewer.get(f"/claim-documents/{doc_id}").status_code == 403
    # Outside the adjuster's departments the claim and its documents do not exist for them.
    _, body = attach(web_app, adjuster, other_dept["number"], [("o.pdf", unique_pdf("c3"))])
    assert "does not exist" in text_of(body) and docs_of(app_session, other_dept["id"]) == []
    attach(web_app, manager, other_dept["number"], [("o.pdf", unique_pdf("c4"))])
    (other_doc, *_), = docs_of(app_session, other_dept["id"])
    assert adjuster.get(f"/claim-documents/{other_doc}").status_code == 404
    assert adjuster.get("/claim-documents/999999999").status_code == 404
    # The adjuster downloads: an attachment, never shown inline, and audited.
    downloads = count(app_session, AuditLog, AuditLog.action == "claim.document_downloaded")
    response = adjuster.get(f"/claim-documents/{doc_id}")
    assert response.status_code == 200 and response.data == unique_pdf("c1")
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;") and "police.pdf" in \
        response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff" and "no-store" in response.headers["Cache-Control"]
    assert count(app_session, AuditLog, AuditLog.action == "claim.document_downloaded") == downloads + 1
    # Signed out: the sign-in page, not the file.
    anonymous = web_app.server.test_client()
    assert anonymous.get(f"/claim-documents/{doc_id}").status_code == 302


def test_removal_erases_the_file_and_keeps_the_record(web_app, client_for, app_session):
    claim = web_claim(web_app)
    adjuster, manager = client_for("adjuster"), client_for("manager")
    attach(web_app, manager, claim["number"], [("wrong-claim.pdf", unique_pdf("d1"))], kind="medical")
    attach(web_app, adjuster, claim["number"], [("mine.pdf", unique_pdf("d2"))])
    (by_manager, *_), (by_adjuster, *_) = docs_of(app_session, claim["id"])
    # An adjuster removes only what they attached; the card offers them no button on the other.
    page = page_of(adjuster, claim["number"])
    assert json.dumps({"action": "remove", "id": by_adjuster}, separators=(",", ":")) in page
    assert json.dumps({"action": "remove", "id": by_manager}, separators=(",", ":")) not in page
    _, body = remove(web_app, adjuster, claim["number"], by_manager)
    assert "Not allowed" in text_of(body)
    _, body = remove(web_app, adjuster, claim["number"], by_adjuster)
    assert "Removed “mine.pdf”." in text_of(body)
    # A manager removes anyone's (attached to the wrong claim, say).
    _, body = remove(web_app, manager, claim["number"], by_manager)
    assert "Removed “wrong-claim.pdf”." in text_of(body) and "2 removed" in text_of(body)
    assert [(removed, has) for _, _, removed, has in docs_of(app_session, claim["id"])] == [(True, False)] * 2
    assert adjuster.get(f"/claim-documents/{by_adjuster}").status_code == 404
    assert count(app_session, ClaimEvent, ClaimEvent.claim_id == claim["id"],
                 ClaimEvent.kind == "document_removed") == 2
    _, body = remove(web_app, manager, claim["number"], by_manager)
    assert "already removed" in text_of(body)
    # The same file can be attached again once the mistaken copy is gone.
    _, body = attach(web_app, adjuster, claim["number"], [("mine.pdf", unique_pdf("d2"))])
    assert "Attached 1 document." in text_of(body)
    for tampered in ({"action": "remove", "id": "1", "at": 1}, {"action": "remove", "id": True, "at": 1},
                     {"action": "remove", "id": 10**30, "at": 1}, "x"):
        key = next(k for k in web_app.callback_map if "doc-msg.children@" in k)
        response = adjuster.post("/_dash-update-component", json={
            "output": key, "outputs": [{"id": "doc-msg", "property": "children"},
                                       {"id": "doc-list", "property": "children"},
                                       {"id": "claim-refresh", "property": "data"}],
            "inputs": [{"id": "claim-doc-ask", "property": "data", "value": tampered}],
            "state": [{"id": "claim-key", "property": "data", "value": claim["number"]}],
            "changedPropIds": ["claim-doc-ask.data"]})
        assert response.status_code in (200, 204)
    assert sum(1 for _, _, removed, _ in docs_of(app_session, claim["id"]) if not removed) == 1


def test_one_upload_carries_at_most_20_mb_and_larger_requests_are_refused_unread(web_app, client_for, app_session):
    claim = web_claim(web_app)
    client = client_for("adjuster")
    files = [(f"part{i}.pdf", PDF_BYTES + bytes([i]) * (7 * 1024 * 1024)) for i in range(3)]  # 21 MB
    status, body = attach(web_app, client, claim["number"], files)
    assert status == 200 and "attach at most 20 MB at a time" in text_of(body)
    assert docs_of(app_session, claim["id"]) == []
    from app import MAX_REQUEST_BYTES

    response = client.post("/_dash-update-component", data=b"{" + b" " * MAX_REQUEST_BYTES + b"}",
                           content_type="application/json")
    assert response.status_code == 413


def test_downloads_of_odd_names_stay_attachments_in_a_sandbox(web_app, client_for, app_session):
    """Quotes, a semicolon, CR/LF and non-ASCII in a name cannot break out of Content-Disposition,
    and the file comes with the download's own sandboxing policy (the site-wide one, which lets
    SCOPE's scripts run, used to replace it)."""
    claim = web_claim(web_app)
    adjuster = client_for("adjuster")
    attach(web_app, adjuster, claim["number"],
           [('Ünal "final"; filename=evil.html\r\nX-Injected: 1.pdf', unique_pdf("odd1"))])
    (doc_id, stored, *_), = docs_of(app_session, claim["id"])
    assert stored == 'Ünal "final"; filename=evil.htmlX-Injected: 1.pdf'  # control characters dropped
    response = adjuster.get(f"/claim-documents/{doc_id}")
    assert response.status_code == 200 and response.data == unique_pdf("odd1")
    disposition = response.headers["Content-Disposition"]
    assert disposition == ('attachment; filename="Unal \\"final\\"; filename=evil.htmlX-Injected: 1.pdf"; '
                           "filename*=UTF-8''%C3%9Cnal%20%22final%22%3B%20filename%3Devil.htmlX-Injected%3A%201.pdf")
    assert "X-Injected" not in response.headers
    assert response.headers["Content-Security-Policy"].startswith("sandbox;")
    assert response.headers["Content-Type"] == "application/pdf"
    assert "no-store" in response.headers["Cache-Control"]
    # Pages keep the site's policy.
    assert "script-src" in adjuster.get(f"/claims/{claim['number']}").headers["Content-Security-Policy"]


def test_downloads_come_from_scope_pages_and_at_a_reading_pace(web_app, client_for, app_session):
    """A GET that writes the audit log: another site's link must not make a signed-in browser
    download (and log) a document, and one person cannot copy documents out in bulk."""
    from api.claim_documents import DOWNLOAD_LIMIT
    from auth.limits import limiter

    claim = web_claim(web_app)
    adjuster = client_for("adjuster")
    attach(web_app, adjuster, claim["number"], [("pace.pdf", unique_pdf("pace"))])
    (doc_id, *_), = docs_of(app_session, claim["id"])
    logged = count(app_session, AuditLog, AuditLog.action == "claim.document_downloaded")
    for site in ("cross-site", "same-site"):
        refused = adjuster.get(f"/claim-documents/{doc_id}", headers={"Sec-Fetch-Site": site})
        assert refused.status_code == 403 and b"Open documents from the claim" in refused.data
    assert count(app_session, AuditLog, AuditLog.action == "claim.document_downloaded") == logged
    for site in ("same-origin", "none", None):
        headers = {"Sec-Fetch-Site": site} if site else {}
        assert adjuster.get(f"/claim-documents/{doc_id}", headers=headers).status_code == 200
    per_minute = int(DOWNLOAD_LIMIT.split()[0])
    limiter.reset()  # the earlier tests' downloads count against the same person
    try:
        statuses = [adjuster.get(f"/claim-documents/{doc_id}").status_code for _ in range(per_minute + 1)]
        assert statuses == [200] * per_minute + [429]
        # Another person is not held by the first one's pace.
        assert client_for("manager").get(f"/claim-documents/{doc_id}").status_code == 200
    finally:
        limiter.reset()  # the memory store is shared by the session's other tests


def test_an_siu_case_lists_the_documents_of_its_claims(web_app, client_for, app_session):
    from tests.integration.test_siu_cases_web import INVESTIGATOR, _own_case
    from tests.conftest import login

    key, numbers = _own_case(app_session, 2)
    # Demo claims: some came with documents of their own (services.demo_documents).
    already = app_session(lambda s: s.scalar(select(func.count()).select_from(ClaimDocument).join(
        Claim, Claim.id == ClaimDocument.claim_id).where(Claim.claim_number.in_(numbers),
                                                        ClaimDocument.removed_at.is_(None))))
    manager = client_for("manager")
    attach(web_app, manager, numbers[0], [("statement.pdf", unique_pdf("siu1"))], kind="correspondence",
           note="Claimant's recorded statement")
    attach(web_app, manager, numbers[1], [("scene.png", PNG_BYTES + b"siu2")], kind="photo")
    investigator = web_app.server.test_client()
    assert login(investigator, *INVESTIGATOR).status_code == 302
    _, page = render_page(investigator, "/siu-cases", f"?case={key}")
    page = page.replace("\\u002f", "/")
    assert f"Documents ({already + 2})" in page and "statement.pdf" in page and "scene.png" in page
    assert "Claimant's recorded statement" in page.replace("\\u0027", "'")
    doc_ids = [d for d, *_ in docs_of(app_session, app_session(
        lambda s: s.scalar(select(Claim.id).where(Claim.claim_number == numbers[0]))))]
    assert f"/claim-documents/{doc_ids[-1]}" in page   # the newest: after any the demo gave the claim
    assert investigator.get(f"/claim-documents/{doc_ids[-1]}").data == unique_pdf("siu1")


def test_a_text_document_downloads_with_one_charset(web_app, client_for, app_session):
    claim = web_claim(web_app)
    adjuster = client_for("adjuster")
    letter = "From: the claimant\n\nThe estimate is attached. — Ünal\n".encode()
    attach(web_app, adjuster, claim["number"], [("letter.txt", letter)], kind="correspondence")
    (doc_id, *_), = docs_of(app_session, claim["id"])
    response = adjuster.get(f"/claim-documents/{doc_id}")
    assert response.status_code == 200 and response.data == letter
    # As stored: Flask added a second "; charset=utf-8" to a text type that named its charset.
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
