"""The API tokens page: a token is revoked only after the confirmation."""
from __future__ import annotations

import json

from dash import dcc
from sqlalchemy import select

from db.models import ApiToken, User
from services import api_tokens


def _find(component, kind):
    if isinstance(component, kind):
        yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        yield from _find(child, kind)


def test_revoke_asks_first_and_only_the_confirmed_dialog_revokes(web_app, client_for, app_session):
    from pages.tokens import token_table

    def make(session):
        owner = session.scalar(select(User).where(User.email == "adjuster@scope.example"))
        row, _ = api_tokens.create_token(session, owner, name="ledger sync", scopes=["claims:read"])
        return row.id

    token_id = app_session(make)
    try:
        rows = app_session(lambda s: api_tokens.list_tokens(s, s.scalar(select(User).where(
            User.email == "adjuster@scope.example"))))
        [dialog] = [d for d in _find(token_table([r for r in rows if r["id"] == token_id]), dcc.ConfirmDialogProvider)]
        assert dialog.id == {"type": "token-revoke", "id": token_id}
        assert "ledger sync" in dialog.message and "cannot be undone" in dialog.message

        client = client_for("adjuster")
        ident = {"type": "token-revoke", "id": token_id}

        [key] = [k for k in web_app.callback_map if k == "..tokens-list.children...token-revoke-status.children.."]

        def post(value):
            # A pattern-matching id is named in changedPropIds as its JSON, like the browser does.
            changed = json.dumps(ident, sort_keys=True, separators=(",", ":")) + ".submit_n_clicks"
            return client.post("/_dash-update-component", json={
                "output": key, "outputs": [{"id": "tokens-list", "property": "children"},
                                           {"id": "token-revoke-status", "property": "children"}],
                "inputs": [[{"id": ident, "property": "submit_n_clicks", "value": value}]],
                "state": [], "changedPropIds": [changed]})

        # the dialog drawn, not confirmed: nothing happens
        response = post(0)
        assert response.status_code in (200, 204)
        assert app_session(lambda s: s.get(ApiToken, token_id).revoked_at) is None
        response = post(1)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert "ledger sync" in json.dumps(response.get_json())
        assert app_session(lambda s: s.get(ApiToken, token_id).revoked_at) is not None
    finally:
        app_session(lambda s: s.delete(s.get(ApiToken, token_id)))
