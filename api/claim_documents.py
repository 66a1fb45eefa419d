"""Downloads of claim documents, for signed-in users (auth.guard sends anyone else to the
sign-in page). The file is always an attachment, never shown inline: a document is what
a member of the public sent in, and must not run as a page of SCOPE."""
from __future__ import annotations

import io
import logging

from flask import Blueprint, Response, request, send_file
from flask_limiter.util import get_remote_address

from auth.current import user_or_none
from auth.errors import error_response
from auth.limits import limiter
from db.flask_db import WriteConflict, WriteFailed, unit_of_work
from services.access import AccessDenied, NotFound, OutsideDepartments
from services.claim_documents import open_document

log = logging.getLogger(__name__)
bp = Blueprint("claim_documents", __name__)
# A file opened anyway (a saved download dragged into a tab) gets no scripts, forms or origin of
# SCOPE's: auth.headers keeps a policy a response set itself.
DOWNLOAD_POLICY = "sandbox; default-src 'none'; frame-ancestors 'none'"
# Per person: enough to read a claim's whole file (up to 100 documents) in a sitting, not to copy
# the claims' documents out in bulk before anyone reads the audit log.
DOWNLOAD_LIMIT = "60 per minute;600 per hour"
# How a download reached us (Fetch Metadata): a link on SCOPE's pages, or one typed or bookmarked.
OWN_SITE = (None, "same-origin", "none")


def _downloader() -> str:
    user = user_or_none()
    return f"document-download:{user.id}" if user else "document-download-ip:" + (get_remote_address() or "?")


def document_response(filename: str, content_type: str, data: bytes) -> Response:
    """A document as a download, for the claim page's link and the REST API alike: always an
    attachment, never sniffed into another type, never cached (documents hold personal data)."""
    response = send_file(io.BytesIO(data), mimetype=content_type, as_attachment=True, download_name=filename,
                         max_age=0, etag=False, conditional=False)
    # The stored type exactly: for a text type that names its charset, Flask appended a second one.
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOWNLOAD_POLICY
    return response


@bp.get("/claim-documents/<int:document_id>")
@limiter.limit(DOWNLOAD_LIMIT, key_func=_downloader)
def download(document_id: int):
    # This GET writes (the audit entry), and SameSite=Lax sends the session cookie on a top-level
    # navigation from anywhere: another site's link would download into a signed-in person's
    # browser and log a download they never asked for. Browsers without Fetch Metadata send no
    # header and are let through (as typed addresses are).
    if request.headers.get("Sec-Fetch-Site") not in OWN_SITE:
        return error_response(403, "Open documents from the claim's page in SCOPE.")
    user = user_or_none()
    try:
        with unit_of_work() as session:  # the download's audit entry is its one write
            doc, data = open_document(session, user, document_id)
            filename, content_type = doc.filename, doc.content_type
    except (NotFound, OutsideDepartments):  # outside one's departments a claim looks missing
        return error_response(404)
    except AccessDenied as exc:
        return error_response(403, f"Not allowed: {exc}.")
    except (WriteConflict, WriteFailed):
        log.exception("document download %s could not be recorded", document_id)
        return error_response(503, "The download could not be recorded, so it was not given. Try again.")
    return document_response(filename, content_type, data)
