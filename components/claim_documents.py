"""The claim page's Documents card: the files on the claim, and the form that attaches more.
Filenames and notes are typed by people: plain text children only (Dash escapes them)."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.row_actions import ask_button
from services.claim_documents import (ACCEPT_ATTRIBUTE, KINDS, MAX_BYTES, MAX_FILES_PER_UPLOAD, MAX_UPLOAD_BYTES,
                                      NOTE_MAX)

ASK_STORE = "claim-doc-ask"


def download_href(document_id: int) -> str:
    return f"/claim-documents/{document_id}"


def _item(d, *, may_download: bool):
    name = (html.A(d.filename, href=download_href(d.id), className="fw-semibold text-break doc-link")
            if may_download else html.Span(d.filename, className="fw-semibold text-break"))
    remove = ask_button("Remove", ASK_STORE, {"action": "remove", "id": d.id}, color="danger", outline=True,
                        confirm=f"Remove “{d.filename}” from this claim? Its file is erased; the claim's history "
                                "keeps that it was attached and removed.",
                        className="ms-2 flex-shrink-0", **{"aria-label": f"Remove {d.filename}"}) \
        if d.can_remove else None
    return html.Li([
        html.Div([html.Div([name, dbc.Badge(d.kind, color="light", text_color="dark", className="ms-2")],
                           className="min-w-0"), remove],
                 className="d-flex justify-content-between align-items-start"),
        html.Div(f"{d.size} · {d.uploaded_by}, {d.uploaded_at:%d %b %Y %H:%M} UTC", className="small text-muted"),
        html.Div(d.note, className="small doc-note") if d.note else None,
    ], className="list-group-item px-0")


def document_list(docs, *, may_download: bool):
    live = [d for d in docs if d.removed is None]
    removed = [d for d in docs if d.removed is not None]
    parts = []
    if live:
        parts.append(html.Ul([_item(d, may_download=may_download) for d in live],
                             className="list-group list-group-flush mb-2", id="doc-items"))
    else:
        parts.append(html.P("No documents yet.", className="text-muted small mb-2", id="doc-empty"))
    if live and not may_download:
        parts.append(html.P("Documents hold personal data: your role sees the list, not the files.",
                            className="small text-muted mb-2"))
    if removed:
        parts.append(html.Details([
            html.Summary(f"{len(removed)} removed", className="small text-muted"),
            html.Ul([html.Li([html.Span(d.filename, className="text-decoration-line-through"), html.Br(),
                              html.Span(d.removed, className="text-muted")], className="small mb-1")
                     for d in removed], className="list-unstyled mt-1 mb-0 ps-2"),
        ], className="mb-2"))
    return parts


def upload_form():
    mb = MAX_BYTES // (1024 * 1024)
    return html.Div([
        dcc.Upload(
            id="doc-upload", multiple=True, max_size=MAX_BYTES, accept=ACCEPT_ATTRIBUTE,
            children=html.Div([html.Span("Drop files here or "), html.Span("choose files", className="link-primary"),
                               html.Div(f"PDF, photos, Word, Excel or text · up to {mb} MB each, "
                                        f"{MAX_FILES_PER_UPLOAD} files or {MAX_UPLOAD_BYTES // (1024 * 1024)} MB "
                                        "at a time", className="small text-muted")]),
            className="doc-drop", className_active="doc-drop doc-drop-active",
        ),
        html.Div(id="doc-upload-limits", hidden=True,
                 **{"data-max-total": str(MAX_UPLOAD_BYTES), "data-max-files": str(MAX_FILES_PER_UPLOAD)}),
        html.Div(id="doc-staged", className="small mt-2 doc-staged", **{"aria-live": "polite"}),
        dbc.Row([
            dbc.Col([dbc.Label("Kind", html_for="doc-kind", className="small mb-1"),
                     dbc.Select(id="doc-kind", options=[{"label": v, "value": k} for k, v in KINDS.items()],
                                placeholder="Choose…", size="sm")], xs=12, sm=5),
            dbc.Col([dbc.Label("Note (optional)", html_for="doc-note", className="small mb-1"),
                     dbc.Input(id="doc-note", maxLength=NOTE_MAX, size="sm", placeholder="e.g. Body shop estimate")],
                    xs=12, sm=7),
        ], className="g-2 mt-1"),
        dbc.Button("Attach", id="doc-attach", n_clicks=0, color="secondary", size="sm", className="mt-2"),
    ], className="mt-2")


def documents_card(docs, *, can_attach: bool, may_download: bool) -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H5("Documents", className="card-title", id="doc-heading", tabIndex="-1"),
        dcc.Store(id=ASK_STORE),
        html.Div(document_list(docs, may_download=may_download), id="doc-list"),
        upload_form() if can_attach else None,
        html.Div(id="doc-msg", className="mt-2"),
    ]), className="shadow-sm mb-4", id="claim-documents")


def case_documents_card(groups: dict, *, may_download: bool) -> dbc.Card:
    """An SIU case's evidence in one place: the documents on each of its claims (read-only;
    they are attached and removed on the claim's page)."""
    n = sum(len(docs) for docs in groups.values())
    if not groups:
        body = [html.P("No documents on this case's claims yet. Attach them on each claim's page.",
                       className="text-muted small mb-0")]
    else:
        body = []
        for number, docs in sorted(groups.items()):
            body.append(html.Div([
                html.A(number, href=f"/claims/{number}", className="fw-semibold small"),
                html.Ul([_item(d, may_download=may_download) for d in docs],
                        className="list-group list-group-flush mb-2"),
            ], className="mb-2"))
        if not may_download:
            body.append(html.P("Documents hold personal data: your role sees the list, not the files.",
                               className="small text-muted mb-0"))
    return dbc.Card(dbc.CardBody([html.H5(f"Documents ({n})", className="card-title"), *body]),
                    className="shadow-sm mb-4", id="siu-case-documents")
