"""The signed-in user's API tokens: list, create (shown once, with an expiry), revoke; for admins, every
user's active tokens, each revocable, and a token created for another active user (an integration's)."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm, role_has
from components.common import not_allowed, page_header
from components.row_actions import ask_button
from db.flask_db import read_session
from services.api_tokens import (DEFAULT_EXPIRY_DAYS, EXPIRY_CHOICES, MANAGE_ALL_TOKENS, allowed_scopes,
                                 list_all_active_tokens, list_tokens, owner_choices)

dash.register_page(__name__, path="/tokens", title="API tokens · SCOPE Assistant", name="API tokens")

REVOKE_ASK = "token-revoke-ask"
# Admins only. A pattern-matching id read with ALL: on anyone else's page it is absent, and the create
# callback gets [] (a plain State of a missing component fails in the browser).
OWNER = {"type": "token-owner", "id": "for"}


def owner_label(u: dict, me: int | None) -> str:
    who = f"{u['name']} <{u['email']}>" if u["name"] else u["email"]
    return f"Yourself ({who})" if u["id"] == me else f"{who} · {u['role']}"


def owner_hint(u: dict | None, me: int | None):
    """Under the For select: whose permissions the token has, and where its owner sees it."""
    if u is None or u["id"] == me:
        return "The token acts as you."
    who = u["name"] or u["email"]
    text = f"The token acts as {who}, with at most the {u['role']} role's permissions."
    if not role_has(u["role"], Perm.MANAGE_OWN_TOKENS):
        # A viewer has no API tokens page: the token is theirs, but only an admin lists and revokes it.
        return text + " A viewer has no API tokens page: it is listed under Everyone's tokens."
    return text + f" {who} sees it in their own list."


def _owner_field(user):
    choices = owner_choices(read_session(), user)
    return dbc.Row(dbc.Col([
        dbc.Label("For", className="small fw-semibold mb-1"),
        dcc.Dropdown(id=OWNER, options=[{"label": owner_label(u, user.id), "value": u["id"]} for u in choices],
                     value=user.id, clearable=False, searchable=True, placeholder="Search users",
                     className="token-owner"),
        html.Div(owner_hint(None, user.id), id="token-owner-hint", className="form-text"),
    ], lg=8), className="g-3 mb-3")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _expires(value) -> str:
    return _when(value) if value else "never expires"


def revoke_question(name: str, owner: str | None = None) -> str:
    # A revoked token cannot be restored: whatever system uses it stops at once.
    whose = f" of {owner}" if owner else ""
    return (f"Revoke the token “{name}”{whose}? Every system using it gets 401 from now on; this cannot be undone "
            "(create a new token to replace it).")


def _state(t: dict):
    if t["revoked_at"] is not None:
        return dbc.Badge(f"revoked {_when(t['revoked_at'])}", color="secondary")
    if t["expired"]:
        return dbc.Badge("expired", color="warning", text_color="dark")
    return dbc.Badge("active", color="success")


def _scopes(scopes: list[str]):
    # One wrapping block: as separate cells' children a phone's stacked row could not wrap them.
    return html.Div([dbc.Badge(s, color="light", text_color="dark") for s in scopes],
                    className="d-flex flex-wrap gap-1")


def token_table(tokens: list[dict]):
    if not tokens:
        return html.P("You have no API tokens yet.", className="text-muted mb-0", id="tokens-empty")
    headers = ("Name", "Token", "Scopes", "Created", "Last used", "Expires", "State", "")
    head = html.Thead(html.Tr([html.Th(h) for h in headers]))
    rows = []
    for t in tokens:
        revoked = t["revoked_at"] is not None
        cells = [
            (t["name"], None), (t["prefix"] + "…", "font-monospace small text-nowrap"), (_scopes(t["scopes"]), None),
            (_when(t["created_at"]), "small text-nowrap"), (_when(t["last_used_at"]), "small text-nowrap"),
            (_expires(t["expires_at"]), "small text-nowrap"), (_state(t), None),
            # Asked first, then through the card's store (components.row_actions): the list is redrawn by
            # Create and by the admins' Revoke, and buttons of their own were posted, every one, each time.
            (None if revoked or t["expired"] else ask_button("Revoke", REVOKE_ASK, {"id": t["id"]}, color="danger",
                                                             outline=True, confirm=revoke_question(t["name"])),
             None),
        ]
        rows.append(html.Tr(_cells(cells, headers), className="text-muted" if revoked or t["expired"] else None))
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True,
                     className="mb-0 align-middle stack-on-phone", id="tokens-table")


def _cells(cells, headers):
    # data-label: on a phone each row is a block of labelled lines (stack-on-phone in assets/10-scope.css),
    # so Expires, State and Revoke do not sit off the screen.
    return [html.Td(value, className=cls, **{"data-label": label}) for (value, cls), label in zip(cells, headers)]


def everyone_table(tokens: list[dict]):
    """Admins: every user's tokens that still work, each with a Revoke behind the same confirmation."""
    if not tokens:
        return html.P("No user has an active token.", className="text-muted mb-0", id="everyone-tokens-empty")
    headers = ("Owner", "Name", "Scopes", "Created", "Last used", "Expires", "")
    head = html.Thead(html.Tr([html.Th(h) for h in headers]))
    rows = []
    for t in tokens:
        owner = f"{t['owner_name']} <{t['owner_email']}>" if t["owner_name"] else t["owner_email"]
        cells = [
            (html.Div([html.Div(t["owner_name"] or t["owner_email"]),
                       html.Div(t["owner_email"], className="small text-muted") if t["owner_name"] else None,
                       None if t["owner_active"] else dbc.Badge("deactivated", color="secondary")]), None),
            (html.Div([html.Div(t["name"]),
                       html.Div(t["prefix"] + "…", className="font-monospace small text-muted")]), None),
            (_scopes(t["scopes"]), None),
            (_when(t["created_at"]), "small text-nowrap"), (_when(t["last_used_at"]), "small text-nowrap"),
            (_expires(t["expires_at"]), "small text-nowrap"),
            (dcc.ConfirmDialogProvider(
                dbc.Button("Revoke", id={"type": "everyone-token-revoke-button", "id": t["id"]},
                           color="outline-danger", size="sm", n_clicks=0),
                id={"type": "everyone-token-revoke", "id": t["id"]}, message=revoke_question(t["name"], owner)),
             None),
        ]
        rows.append(html.Tr(_cells(cells, headers)))
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True,
                     className="mb-0 align-middle stack-on-phone", id="everyone-tokens-table")


def everyone_section(user):
    """The admins' card, or nothing for anyone else."""
    if not role_has(user.role, MANAGE_ALL_TOKENS):
        return None
    return dbc.Card(dbc.CardBody([
        html.H5("Everyone's tokens", className="card-title"),
        html.P("Active tokens of every user (not revoked, not expired), soonest to expire first.",
               className="small text-muted"),
        html.Div(everyone_table(list_all_active_tokens(read_session(), user)), id="everyone-tokens"),
        html.Div(id="everyone-revoke-status", className="small mt-2"),
    ]), className="shadow-sm mb-4", id="everyone-tokens-card")


def layout(**_query):
    user = page_user(Perm.MANAGE_OWN_TOKENS, __name__)
    if user is None:
        return not_allowed()
    scopes = allowed_scopes(user.role)
    create = dbc.Card(dbc.CardBody([
        html.H5("Create a token", className="card-title"),
        _owner_field(user) if role_has(user.role, MANAGE_ALL_TOKENS) else None,   # admins only
        dbc.Row([
            dbc.Col([dbc.Label("Name", html_for="token-name", className="small fw-semibold mb-1"),
                     dbc.Input(id="token-name", maxLength=80, placeholder="e.g. policy-admin system"),
                     dbc.FormFeedback(id="token-name-feedback", type="invalid")], lg=4, md=6),
            dbc.Col([dbc.Label("Scopes", className="small fw-semibold mb-1"),
                     dbc.Checklist(id="token-scopes", options=[{"label": s, "value": s} for s in scopes],
                                   value=list(scopes), inline=True)], lg=4, md=6),
            dbc.Col([dbc.Label("Expires after", html_for="token-expiry", className="small fw-semibold mb-1"),
                     dbc.Select(id="token-expiry", value=str(DEFAULT_EXPIRY_DAYS),
                                options=[{"label": label, "value": str(days)}
                                         for days, label in EXPIRY_CHOICES.items()])], lg=2, md=6),
            dbc.Col(dbc.Button("Create", id="token-create", color="primary", n_clicks=0, className="w-100"),
                    lg=2, md=6, className="d-flex align-items-end"),
        ], className="g-3"),
        html.Div(id="token-created", className="mt-3"),
    ]), className="shadow-sm mb-4")
    listing = dbc.Card(dbc.CardBody([
        html.H5("Your tokens", className="card-title"),
        dcc.Store(id=REVOKE_ASK),
        html.Div(token_table(list_tokens(read_session(), user)), id="tokens-list"),
        html.Div(id="token-revoke-status", className="small mt-2"),
    ]), className="shadow-sm mb-4")
    api = html.Span(["Send ", html.Code("Authorization: Bearer <token>"), " to the ",
                     html.A("REST API", href="/api/v1/openapi.json", target="_blank"), "."],
                    className="small text-muted")
    admin = role_has(user.role, MANAGE_ALL_TOKENS)
    lead = ("A token acts as its owner, with at most the owner's role's permissions: give an integration a user "
            "of its own." if admin else "Tokens act as you, with at most your role's permissions.")
    return html.Div([page_header("API tokens", lead, right=api),
                     create, listing, everyone_section(user)])
