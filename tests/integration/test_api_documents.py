"""The REST API's claim documents: list, attach (multipart), download, with the claim page's rules."""
import io

from sqlalchemy import func, select

from db.models import AuditLog, ClaimDocument
from tests.integration.test_api import auth, make_token
from tests.integration.test_feedback import web_claim
from tests.unit.test_claim_documents import PNG_BYTES, office
from tests.unit.test_claim_documents import PDF_BYTES


def pdf(tag: str) -> bytes:
    return PDF_BYTES + f"% api {tag}\n".encode()


def post(client, token, number, files, kind="estimate", note=None):
    data = {"file": [(io.BytesIO(b), name) for name, b in files]}
    if kind is not None:
        data["kind"] = kind
    if note is not None:
        data["note"] = note
    return client.post(f"/api/v1/claims/{number}/documents", data=data, headers=auth(token),
                       content_type="multipart/form-data")


def n_docs(app_session, claim_id):
    return app_session(lambda s: s.scalar(select(func.count()).select_from(ClaimDocument)
                                          .where(ClaimDocument.claim_id == claim_id)))


def test_attach_list_and_download_through_the_api(web_app, client, app_session):
    claim = web_claim(web_app)
    writer = make_token(web_app, "adjuster@scope.example", ["claims:write", "claims:read"])
    response = post(client, writer, claim["number"],
                    [("estimate.pdf", pdf("a")), ("estimate.docx", office("[Content_Types].xml",
                                                                           "word/document.xml"))],
                    note="From the body shop")
    assert response.status_code == 201, response.get_json()
    docs = response.get_json()["documents"]
    assert [(d["filename"], d["kind"], d["note"]) for d in docs] == [
        ("estimate.pdf", "estimate", "From the body shop"), ("estimate.docx", "estimate", "From the body shop")]
    assert docs[1]["content_type"].endswith("wordprocessingml.document")
    listed = client.get(f"/api/v1/claims/{claim['number']}/documents", headers=auth(writer)).get_json()
    assert [d["id"] for d in listed["documents"]] == [d["id"] for d in docs]
    got = client.get(f"/api/v1/claims/{claim['number']}/documents/{docs[0]['id']}", headers=auth(writer))
    assert got.status_code == 200 and got.data == pdf("a")
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert app_session(lambda s: s.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "claim.document_downloaded", AuditLog.target_id == str(claim["id"])))) == 1
    # A retry of the same file: 409 naming the copy already there, nothing added.
    again = post(client, writer, claim["number"], [("estimate-again.pdf", pdf("a"))])
    assert again.status_code == 409 and again.get_json()["fields"]["existing_document_id"] == docs[0]["id"]
    assert n_docs(app_session, claim["id"]) == 2
    # The document id must belong to the claim in the path.
    other = web_claim(web_app)
    assert client.get(f"/api/v1/claims/{other['number']}/documents/{docs[0]['id']}",
                      headers=auth(writer)).status_code == 404


def test_refusals_write_nothing(web_app, client, app_session):
    claim = web_claim(web_app)
    writer = make_token(web_app, "adjuster@scope.example", ["claims:write", "claims:read"])
    reader = make_token(web_app, "adjuster@scope.example", ["claims:read"])
    cases = [
        (post(client, writer, claim["number"], [("ok.pdf", pdf("b")), ("photo.pdf", PNG_BYTES)]), 422),
        (post(client, writer, claim["number"], [("ok.pdf", pdf("b"))], kind=None), 422),
        (post(client, writer, claim["number"], [("ok.pdf", pdf("b"))], kind="selfie"), 422),
        (post(client, writer, claim["number"], [(f"f{i}.pdf", pdf(f"b{i}")) for i in range(6)]), 422),
        (post(client, writer, claim["number"], []), 422),
        (client.post(f"/api/v1/claims/{claim['number']}/documents", json={"file": "x"}, headers=auth(writer)), 415),
        (post(client, reader, claim["number"], [("ok.pdf", pdf("b"))]), 403),
        (post(client, writer, "NO-SUCH-CLAIM", [("ok.pdf", pdf("b"))]), 404),
        (post(client, "not-a-token", claim["number"], [("ok.pdf", pdf("b"))]), 401),
    ]
    for response, status in cases:
        assert response.status_code == status, (status, response.get_json())
        assert "error" in response.get_json()
    assert "“photo.pdf” is a PNG image" in cases[0][0].get_json()["fields"]["file"]
    assert n_docs(app_session, claim["id"]) == 0


def test_departments_and_personal_data_rules_hold_for_tokens(web_app, client, app_session):
    outside = web_claim(web_app, dept="PROPERTY")  # not among the demo adjuster's departments
    adjuster = make_token(web_app, "adjuster@scope.example", ["claims:write", "claims:read"])
    manager = make_token(web_app, "manager@scope.example", ["claims:write", "claims:read"])
    viewer = make_token(web_app, "viewer@scope.example", ["claims:read"])
    assert post(client, adjuster, outside["number"], [("x.pdf", pdf("c"))]).status_code == 404
    response = post(client, manager, outside["number"], [("x.pdf", pdf("c"))], kind="police_report")
    assert response.status_code == 201
    doc_id = response.get_json()["documents"][0]["id"]
    assert client.get(f"/api/v1/claims/{outside['number']}/documents", headers=auth(adjuster)).status_code == 404
    assert client.get(f"/api/v1/claims/{outside['number']}/documents/{doc_id}",
                      headers=auth(adjuster)).status_code == 404
    # A viewer's token lists documents but never downloads one (personal data).
    listed = client.get(f"/api/v1/claims/{outside['number']}/documents", headers=auth(viewer))
    assert listed.status_code == 200 and listed.get_json()["documents"][0]["id"] == doc_id
    assert client.get(f"/api/v1/claims/{outside['number']}/documents/{doc_id}",
                      headers=auth(viewer)).status_code == 403


def test_an_api_download_is_sandboxed_and_unrecorded_ones_are_not_given(web_app, client, app_session, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import api.v1.documents as documents_api

    claim = web_claim(web_app)
    token = make_token(web_app, "adjuster@scope.example", ["claims:write", "claims:read"])
    doc_id = post(client, token, claim["number"], [("scan.pdf", pdf("sandbox"))]).get_json()["documents"][0]["id"]
    got = client.get(f"/api/v1/claims/{claim['number']}/documents/{doc_id}", headers=auth(token))
    assert got.status_code == 200 and got.headers["Content-Security-Policy"].startswith("sandbox;")
    assert got.headers["X-Content-Type-Options"] == "nosniff"

    def audit_refused(*args, **kwargs):
        raise OperationalError("INSERT INTO audit_log", {}, Exception("the database went away"))

    monkeypatch.setattr(documents_api, "open_document", audit_refused)
    refused = client.get(f"/api/v1/claims/{claim['number']}/documents/{doc_id}", headers=auth(token))
    assert refused.status_code == 503 and "not given" in refused.get_json()["error"]
    assert refused.data != pdf("sandbox")
    described = client.get("/api/v1/openapi.json").get_json()["paths"]["/claims/{claim_number}/documents/{document_id}"]
    assert "503" in described["get"]["responses"]
