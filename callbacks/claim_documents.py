"""The claim page's Documents card: attach (from the upload control) and remove (its row
buttons, through the card's store). The claim number comes from the page's store, the files
and the document ids from the browser: the services check every one again."""
from __future__ import annotations

import logging
import uuid

from dash import ClientsideFunction, Input, Output, State, clientside_callback, no_update
from dash.exceptions import PreventUpdate

from api.usage import track
from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.claim_actions import flash
from components.claim_documents import ASK_STORE, document_list
from components.row_actions import asked
from db.flask_db import WriteConflict, WriteFailed, read_session, unit_of_work
from services.access import AccessDenied, NotFound, OutsideDepartments
from services.claim_documents import (MAX_FILES_PER_UPLOAD, DocumentError, attach, documents_of_claim,
                                      from_data_url, remove)
from services.privacy import sees_personal_data
from services.workflow import get_claim

log = logging.getLogger(__name__)


def _listing(claim_number):
    session = read_session()
    session.expire_all()
    user = user_or_none()
    claim = get_claim(session, user, claim_number)
    return document_list(documents_of_claim(session, user, claim), may_download=sees_personal_data(user))


def _write(action, refused: str) -> tuple:
    """(message, whether it was written); ``refused`` leads a message about bad input."""
    try:
        with unit_of_work() as session:
            return flash(action(session)), True
    except DocumentError as exc:
        return flash(f"{refused}{exc}", "danger"), False
    except (NotFound, OutsideDepartments):  # outside one's departments a claim looks missing
        return flash("That claim or document does not exist any more.", "danger"), False
    except AccessDenied as exc:
        return flash(f"Not allowed: {exc}.", "danger"), False
    except (WriteConflict, WriteFailed):
        # The likeliest: the same file attached from another tab at the same moment.
        return flash("The documents could not be saved (changed at the same moment); nothing was written. "
                     "Try again.", "warning"), False
    except Exception:  # never a stack trace in the browser
        log.exception("claim documents write failed")
        return flash("Something went wrong; nothing was saved. Please reload the page.", "danger"), False


# Runs in the browser (assets/65-claim-documents.js): the files' sizes are only known there
# before they are sent, and listing them needs no server.
clientside_callback(ClientsideFunction("scope_documents", "staged"),
                    Output("doc-staged", "children"), Output("doc-attach", "disabled"),
                    Input("doc-upload", "contents"), State("doc-upload", "filename"), prevent_initial_call=True)


@secure_callback(
    Perm.WRITE_NOTES,
    Output("doc-msg", "children"),
    Output("doc-list", "children"),
    Output("doc-upload", "contents"),
    Output("doc-upload", "filename"),
    Output("doc-note", "value"),
    Output("claim-refresh", "data", allow_duplicate=True),
    Input("doc-attach", "n_clicks"),
    State("doc-upload", "contents"),
    State("doc-upload", "filename"),
    State("doc-kind", "value"),
    State("doc-note", "value"),
    State("claim-key", "data"),
    prevent_initial_call=True,
)
def on_attach(clicks, contents, names, kind, note, claim_number):
    if not clicks:
        raise PreventUpdate
    kept = (no_update,) * 5
    if not contents:
        return (flash("Choose or drop the files first.", "warning"),) + kept
    contents = contents if isinstance(contents, list) else [contents]
    names = names if isinstance(names, list) else [names]
    if len(contents) != len(names):
        return (flash("The files did not arrive whole; choose them again.", "danger"),) + kept
    if len(contents) > MAX_FILES_PER_UPLOAD:
        return (flash(f"Attach at most {MAX_FILES_PER_UPLOAD} files at a time (you chose {len(contents)}).",
                      "danger"),) + kept
    user = user_or_none()

    def run(session):
        files = [(name, from_data_url(data)) for name, data in zip(names, contents)]
        docs = attach(session, user, claim_number, files, kind, note)
        track(session, "document_attached", claim_number=claim_number)
        return f"Attached {len(docs)} document{'s' if len(docs) != 1 else ''}."

    message, written = _write(run, "Nothing was attached: ")
    if not written:
        return (message,) + kept
    return message, _listing(claim_number), None, None, "", uuid.uuid4().hex


@secure_callback(
    Perm.VIEW_CLAIMS,
    Output("doc-msg", "children", allow_duplicate=True),
    Output("doc-list", "children", allow_duplicate=True),
    Output("claim-refresh", "data", allow_duplicate=True),
    Input(ASK_STORE, "data"),
    State("claim-key", "data"),
    prevent_initial_call=True,
)
def on_remove(ask, claim_number):
    document_id = asked(ask, "id", int)
    if asked(ask, "action") != "remove" or document_id is None:
        raise PreventUpdate
    user = user_or_none()

    def run(session):
        doc = remove(session, user, document_id)
        return f"Removed “{doc.filename}”."

    message, written = _write(run, "")
    try:
        listing = _listing(claim_number)
    except (AccessDenied, NotFound):
        listing = no_update
    return message, listing, uuid.uuid4().hex if written else no_update
