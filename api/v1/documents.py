"""A claim's documents: list, attach (multipart/form-data), download. The same rules as the
claim page (services.claim_documents): the token's owner must be able to work the claim to
attach, and to see personal data to download. A retried upload is refused with 409 and the id
of the copy already attached, so retries are safe without an Idempotency-Key."""
from __future__ import annotations

from flask import jsonify, request

from api.claim_documents import document_response
from api.v1 import bp
from api.v1.auth import caller, require_scope
from api.v1.errors import ApiError
from db.flask_db import WriteConflict, WriteFailed, read_session, unit_of_work
from services.access import AccessDenied, NotFound, OutsideDepartments
from services.claim_documents import (MAX_FILES_PER_UPLOAD, DocumentError, DuplicateDocument, attach,
                                      document_json, live_documents, open_document)

_NO_CLAIM = "no such claim"  # outside the caller's departments looks the same as missing


@bp.get("/claims/<claim_number>/documents")
@require_scope("claims:read")
def list_documents(claim_number: str):
    try:
        docs = live_documents(read_session(), caller().user, claim_number)
    except (NotFound, AccessDenied):
        raise ApiError(404, _NO_CLAIM) from None
    return jsonify({"claim_number": claim_number, "documents": [document_json(d) for d in docs]})


@bp.post("/claims/<claim_number>/documents")
@require_scope("claims:write")
def attach_documents(claim_number: str):
    if not request.mimetype == "multipart/form-data":
        raise ApiError(415, "send multipart/form-data with one or more 'file' parts, 'kind' and optionally 'note'")
    uploads = request.files.getlist("file")
    if not uploads:
        raise ApiError(422, "no file", {"file": "is required (one or more parts)"})
    if len(uploads) > MAX_FILES_PER_UPLOAD:
        raise ApiError(422, "too many files", {"file": f"at most {MAX_FILES_PER_UPLOAD} per request"})
    files = [(u.filename, u.read()) for u in uploads]
    user = caller().user
    try:
        with unit_of_work() as session:
            docs = attach(session, user, claim_number, files, request.form.get("kind"), request.form.get("note"))
            body = {"claim_number": claim_number, "documents": [document_json(d) for d in docs]}
    except DuplicateDocument as exc:
        raise ApiError(409, str(exc), {"existing_document_id": exc.existing_id}) from None
    except DocumentError as exc:
        raise ApiError(422, "nothing was attached", {"file": str(exc)}) from None
    except (NotFound, OutsideDepartments):
        raise ApiError(404, _NO_CLAIM) from None
    except AccessDenied as exc:
        raise ApiError(403, str(exc)) from None
    except (WriteConflict, WriteFailed):
        raise ApiError(409, "the claim's documents changed at the same moment; nothing was attached, retry") \
            from None
    return jsonify(body), 201


@bp.get("/claims/<claim_number>/documents/<int:document_id>")
@require_scope("claims:read")
def download_document(claim_number: str, document_id: int):
    user = caller().user
    try:
        with unit_of_work() as session:
            doc, data = open_document(session, user, document_id, claim_number)
            filename, content_type = doc.filename, doc.content_type
    except (NotFound, OutsideDepartments):
        raise ApiError(404, "no such document on this claim") from None
    except AccessDenied as exc:
        raise ApiError(403, str(exc)) from None
    except (WriteConflict, WriteFailed):  # the download's audit entry could not be written
        raise ApiError(503, "the download could not be recorded, so it was not given; retry") from None
    return document_response(filename, content_type, data)
