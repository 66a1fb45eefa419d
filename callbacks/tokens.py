"""API tokens page: create (the token is shown once) and revoke."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from db.flask_db import read_session, unit_of_work
from pages.tokens import token_table
from services.api_tokens import TokenError, create_token, list_tokens, revoke_token


def _shown_once(token: str) -> html.Div:
    return dbc.Alert([
        html.Div([html.Strong("Copy this token now: "), "it is shown only once and SCOPE keeps only a hash of it."]),
        html.Div([html.Code(token, id="token-value", className="token-value me-2"),
                  dcc.Clipboard(target_id="token-value", title="Copy", className="d-inline-block")],
                 className="d-flex align-items-center mt-2 p-2 bg-white rounded border"),
    ], color="warning", className="mb-0", id="token-shown-once")


@secure_callback(
    Perm.MANAGE_OWN_TOKENS,
    Output("token-created", "children"),
    Output("tokens-list", "children", allow_duplicate=True),
    Output("token-name", "invalid"),
    Output("token-name-feedback", "children"),
    Input("token-create", "n_clicks"),
    State("token-name", "value"),
    State("token-scopes", "value"),
    prevent_initial_call=True,
)
def create(n_clicks, name, scopes):
    user = user_or_none()
    if not isinstance(scopes, list):
        scopes = []
    try:
        with unit_of_work() as session:
            _, token = create_token(session, user, name=name if isinstance(name, str) else "", scopes=scopes)
    except TokenError as exc:
        return None, no_update, True, str(exc).capitalize()
    return _shown_once(token), token_table(list_tokens(read_session(), user)), False, None


@secure_callback(
    Perm.MANAGE_OWN_TOKENS,
    Output("tokens-list", "children"),
    Output("token-revoke-status", "children"),
    Input({"type": "token-revoke", "id": ALL}, "submit_n_clicks"),  # after the confirmation
    prevent_initial_call=True,
)
def revoke(clicks):
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(isinstance(c, int) and c > 0 for c in (clicks or [])):
        return no_update, no_update
    user = user_or_none()
    try:
        with unit_of_work() as session:
            row = revoke_token(session, user, trigger.get("id"))
            name = row.name
    except TokenError as exc:
        return no_update, str(exc).capitalize()
    return token_table(list_tokens(read_session(), user)), f"Revoked “{name}”: requests with it now get 401."
