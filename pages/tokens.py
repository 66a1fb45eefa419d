"""The signed-in user's API tokens: list, create (shown once), revoke."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed, page_header
from db.flask_db import read_session
from services.api_tokens import allowed_scopes, list_tokens

dash.register_page(__name__, path="/tokens", title="API tokens · SCOPE Assistant", name="API tokens")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def revoke_question(name: str) -> str:
    # A revoked token cannot be restored: whatever system uses it stops at once.
    return (f"Revoke the token “{name}”? Every system using it gets 401 from now on; this cannot be undone "
            "(create a new token to replace it).")


def token_table(tokens: list[dict]):
    if not tokens:
        return html.P("You have no API tokens yet.", className="text-muted mb-0", id="tokens-empty")
    head = html.Thead(html.Tr([html.Th(h) for h in ("Name", "Token", "Scopes", "Created", "Last used", "Expires",
                                                    "State", "")]))
    rows = []
    for t in tokens:
        revoked = t["revoked_at"] is not None
        rows.append(html.Tr([
            html.Td(t["name"]), html.Td(t["prefix"] + "…", className="font-monospace small"),
            html.Td([dbc.Badge(s, color="light", text_color="dark", className="me-1") for s in t["scopes"]]),
            html.Td(_when(t["created_at"]), className="small"), html.Td(_when(t["last_used_at"]), className="small"),
            html.Td(_when(t["expires_at"]), className="small"),
            html.Td(dbc.Badge(f"revoked {_when(t['revoked_at'])}", color="secondary") if revoked
                    else dbc.Badge("active", color="success")),
            html.Td(None if revoked else dcc.ConfirmDialogProvider(
                dbc.Button("Revoke", id={"type": "token-revoke-button", "id": t["id"]}, color="outline-danger",
                           size="sm", n_clicks=0),
                id={"type": "token-revoke", "id": t["id"]}, message=revoke_question(t["name"]))),
        ], className="text-muted" if revoked else None))
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, className="mb-0 align-middle",
                     id="tokens-table")


def layout(**_query):
    user = page_user(Perm.MANAGE_OWN_TOKENS, __name__)
    if user is None:
        return not_allowed()
    scopes = allowed_scopes(user.role)
    create = dbc.Card(dbc.CardBody([
        html.H5("Create a token", className="card-title"),
        dbc.Row([
            dbc.Col([dbc.Label("Name", html_for="token-name", className="small fw-semibold mb-1"),
                     dbc.Input(id="token-name", maxLength=80, placeholder="e.g. policy-admin system"),
                     dbc.FormFeedback(id="token-name-feedback", type="invalid")], md=5),
            dbc.Col([dbc.Label("Scopes", className="small fw-semibold mb-1"),
                     dbc.Checklist(id="token-scopes", options=[{"label": s, "value": s} for s in scopes],
                                   value=list(scopes), inline=True)], md=5),
            dbc.Col(dbc.Button("Create", id="token-create", color="primary", n_clicks=0, className="w-100"),
                    md=2, className="d-flex align-items-end"),
        ]),
        html.Div(id="token-created", className="mt-3"),
    ]), className="shadow-sm mb-4")
    listing = dbc.Card(dbc.CardBody([
        html.H5("Your tokens", className="card-title"),
        html.Div(token_table(list_tokens(read_session(), user)), id="tokens-list"),
        html.Div(id="token-revoke-status", className="small mt-2"),
    ]), className="shadow-sm mb-4")
    api = html.Span(["Send ", html.Code("Authorization: Bearer <token>"), " to the ",
                     html.A("REST API", href="/api/v1/openapi.json", target="_blank"), "."],
                    className="small text-muted")
    return html.Div([page_header("API tokens", "Tokens act as you, with at most your role's permissions.", right=api),
                     create, listing])
