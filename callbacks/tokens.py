"""API tokens page: create (the token is shown once, with an expiry) and revoke; admins revoke anyone's
and create tokens for other active users (the For select, on their page only)."""
from __future__ import annotations

from types import SimpleNamespace

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.row_actions import asked
from db.flask_db import read_session, unit_of_work
from pages.tokens import OWNER, REVOKE_ASK, everyone_table, owner_hint, token_table
from services.api_tokens import (MANAGE_ALL_TOKENS, TokenError, allowed_scopes, create_token, create_token_for,
                                 expiry_for_days, list_all_active_tokens, list_tokens, owner_choices,
                                 revoke_any_token, revoke_token)

OWNERS = {**OWNER, "id": ALL}   # the For select where there is one (admins): a list of none or one value


def _shown_once(token: str, owner=None) -> html.Div:
    whose = None
    if owner is not None:
        who = f"{owner.name} <{owner.email}>" if owner.name else owner.email
        whose = html.Div([html.Strong("For "), who, f" ({owner.role}): it acts as them."], id="token-shown-owner",
                         className="mb-1")
    return dbc.Alert([
        whose,
        html.Div([html.Strong("Copy this token now: "), "it is shown only once and SCOPE keeps only a hash of it."]),
        # The token is one long word: on a phone it breaks anywhere rather than widen the page.
        html.Div([html.Code(token, id="token-value", className="token-value me-2 text-break", style={"minWidth": 0}),
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
    State("token-expiry", "value"),
    State(OWNERS, "value"),   # [] unless an admin's page: [the chosen user's id]
    prevent_initial_call=True,
)
def create(n_clicks, name, scopes, expiry, owners):
    user = user_or_none()
    if not isinstance(scopes, list):
        scopes = []
    name = name if isinstance(name, str) else ""
    try:
        owner_id = _owner_id(owners, user.id)
        expires_at = expiry_for_days(expiry)  # the select's value is text; anything else is refused
        with unit_of_work() as session:
            if owner_id is None:
                _, token = create_token(session, user, name=name, scopes=scopes, expires_at=expires_at)
                owner = None
            else:
                # The service refuses anyone but an admin: a tampered For from another role writes nothing.
                _, token, made_for = create_token_for(session, user, owner_id, name=name, scopes=scopes,
                                                      expires_at=expires_at)
                owner = SimpleNamespace(name=made_for.name, email=made_for.email, role=made_for.role)
    except TokenError as exc:
        return None, no_update, True, str(exc).capitalize()
    # The admin's own list is redrawn either way: Everyone's tokens follows it (and shows the new one).
    return _shown_once(token, owner), token_table(list_tokens(read_session(), user)), False, None


def _owner_id(owners, me: int) -> int | None:
    """The For select's value: None for the signed-in user's own token (no select, or themselves chosen)."""
    if owners is None or owners == []:
        return None
    if not isinstance(owners, list) or len(owners) != 1:
        raise TokenError("choose whom the token is for")
    value = owners[0]
    if value == me and not isinstance(value, bool):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenError("choose whom the token is for")
    return value


@secure_callback(
    MANAGE_ALL_TOKENS,
    Output("token-scopes", "options"),
    Output("token-scopes", "value"),
    Output("token-owner-hint", "children"),
    Input(OWNERS, "value"),
    prevent_initial_call=True,
)
def scopes_for_owner(owners):
    """Choosing whom a token is for offers the scopes that user's role allows (all ticked, as for oneself)."""
    user = user_or_none()
    value = owners[0] if isinstance(owners, list) and len(owners) == 1 else None
    try:
        chosen = next((u for u in owner_choices(read_session(), user) if u["id"] == value and
                       not isinstance(value, bool)), None)
    except TokenError:
        chosen = None
    if chosen is None:
        scopes = allowed_scopes(user.role)
        return ([{"label": s, "value": s} for s in scopes], scopes,
                "Choose an active user whose role allows an API scope.")
    return ([{"label": s, "value": s} for s in chosen["scopes"]], list(chosen["scopes"]),
            owner_hint(chosen, user.id))


@secure_callback(
    Perm.MANAGE_OWN_TOKENS,
    Output("tokens-list", "children"),
    Output("token-revoke-status", "children"),
    Input(REVOKE_ASK, "data"),  # a row's Revoke, after the confirmation (assets/62-row-actions.js)
    prevent_initial_call=True,
)
def revoke(ask):
    token_id = asked(ask, "id", int)
    if token_id is None:
        return no_update, no_update
    user = user_or_none()
    try:
        with unit_of_work() as session:
            row = revoke_token(session, user, token_id)
            name = row.name
    except TokenError as exc:
        return no_update, str(exc).capitalize()
    return token_table(list_tokens(read_session(), user)), f"Revoked “{name}”: requests with it now get 401."


@secure_callback(
    MANAGE_ALL_TOKENS,
    Output("everyone-tokens", "children", allow_duplicate=True),
    # The admin's own list is redrawn by Create and by Revoke: everyone's active tokens include the
    # admin's own, so they are redrawn too (a new token was missing, a revoked one kept its Revoke).
    # Only admins have this card; for anyone else the callback has no output on the page.
    Input("tokens-list", "children"),
    prevent_initial_call=True,
)
def everyone_after_own_change(_own):
    return everyone_table(list_all_active_tokens(read_session(), user_or_none()))


@secure_callback(
    MANAGE_ALL_TOKENS,
    Output("everyone-tokens", "children"),
    Output("everyone-revoke-status", "children"),
    Output("tokens-list", "children", allow_duplicate=True),  # the admin's own token may be among them
    Input({"type": "everyone-token-revoke", "id": ALL}, "submit_n_clicks"),  # after the confirmation
    prevent_initial_call=True,
)
def revoke_anyones(clicks):
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(isinstance(c, int) and c > 0 for c in (clicks or [])):
        return no_update, no_update, no_update
    user = user_or_none()
    try:
        with unit_of_work() as session:
            done = revoke_any_token(session, user, trigger.get("id"))
    except TokenError as exc:
        return no_update, str(exc).capitalize(), no_update
    session = read_session()
    whose = "your own token" if done["owner_id"] == user.id else f"of {done['owner_email']}"
    return (everyone_table(list_all_active_tokens(session, user)),
            f"Revoked “{done['name']}” ({whose}): requests with it now get 401.",
            token_table(list_tokens(session, user)))
