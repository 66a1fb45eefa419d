"""The API tokens page: a token is revoked only after the confirmation."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from dash import dcc, html
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
        # Revoke asks first in the browser (assets/62-row-actions.js), then puts the token in the
        # card's store: a button with an id of its own was posted, every one, at each redraw.
        [button] = [b for b in _find(token_table([r for r in rows if r["id"] == token_id]), html.Button)]
        question = getattr(button, "data-ask-confirm")
        assert getattr(button, "data-ask") == "token-revoke-ask" and json.loads(getattr(button, "data-ask-value")) \
            == {"id": token_id}
        assert "ledger sync" in question and "cannot be undone" in question
        assert not [k for k, entry in web_app.callback_map.items()
                    if any('"token-revoke"' in str(i.get("id")) for i in entry["inputs"])]

        client = client_for("adjuster")

        def post(value):
            return _post_own_revoke(web_app, client, value)

        # the store as drawn, or not as the page's script puts it: nothing happens
        for value in (None, {"id": token_id}, {"id": str(token_id), "at": 1}, [token_id]):
            response = post(value)
            assert response.status_code in (200, 204)
            assert app_session(lambda s: s.get(ApiToken, token_id).revoked_at) is None
        response = post({"id": token_id, "at": 1})
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert "ledger sync" in json.dumps(response.get_json())
        assert app_session(lambda s: s.get(ApiToken, token_id).revoked_at) is not None
    finally:
        app_session(lambda s: s.delete(s.get(ApiToken, token_id)))


# --- expiry and the admins' view of everyone's tokens -------------------------------------------------

CREATE_KEY = "token-created.children"
EVERYONE_KEY = "..everyone-tokens.children...everyone-revoke-status.children...tokens-list.children@"
OWN_REVOKE_KEY = "..tokens-list.children...token-revoke-status.children.."


def _user(session, local: str) -> User:
    return session.scalar(select(User).where(User.email == f"{local}@scope.example"))


def _make(app_session, local: str, name: str, **kw) -> int:
    return app_session(lambda s: api_tokens.create_token(s, _user(s, local), name=name, scopes=["claims:read"],
                                                         **kw)[0].id)


def _drop(app_session, *ids):
    app_session(lambda s: [s.delete(s.get(ApiToken, i)) for i in ids if s.get(ApiToken, i) is not None])


def _post_confirm(web_app, client, key_part: str, kind: str, token_id, value=1):
    [key] = [k for k in web_app.callback_map if k.startswith(key_part)]
    ident = {"type": kind, "id": token_id}
    changed = json.dumps(ident, sort_keys=True, separators=(",", ":")) + ".submit_n_clicks"
    from tests.webutil import outputs_of
    return client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs_of(key),
        "inputs": [[{"id": ident, "property": "submit_n_clicks", "value": value}]],
        "state": [], "changedPropIds": [changed]})


def _post_own_revoke(web_app, client, value):
    """The own token's Revoke, confirmed: its id in the page's store, as assets/62-row-actions.js puts it."""
    [key] = [k for k in web_app.callback_map if k == OWN_REVOKE_KEY]
    return client.post("/_dash-update-component", json={
        "output": key, "outputs": [{"id": "tokens-list", "property": "children"},
                                   {"id": "token-revoke-status", "property": "children"}],
        "inputs": [{"id": "token-revoke-ask", "property": "data", "value": value}],
        "state": [], "changedPropIds": ["token-revoke-ask.data"]})


def _component(tree, ident):
    """A component's props, by id, in a rendered page's JSON."""
    if isinstance(tree, dict):
        if tree.get("props", {}).get("id") == ident:
            return tree["props"]
        children = tree.values()
    elif isinstance(tree, list):
        children = tree
    else:
        return None
    return next((found for c in children if (found := _component(c, ident)) is not None), None)


def _texts(component) -> str:
    from tests.webutil import component_texts
    return " ".join(component_texts(component))


def test_create_from_the_page_takes_the_chosen_expiry_and_refuses_a_tampered_one(web_app, client_for, app_session):
    from tests.webutil import call_callback

    client = client_for("adjuster")
    outputs = [("token-created", "children"), ("tokens-list", "children"), ("token-name", "invalid"),
               ("token-name-feedback", "children")]

    def create(name, expiry):
        return call_callback(web_app, client, CREATE_KEY, outputs, [("token-create", "n_clicks", 1)],
                             state=[("token-name", "value", name), ("token-scopes", "value", ["claims:read"]),
                                    ("token-expiry", "value", expiry)])

    def stored(name):
        return app_session(lambda s: [t.expires_at for t in s.scalars(select(ApiToken).where(ApiToken.name == name))])

    ids = []
    try:
        before = dt.datetime.now(dt.timezone.utc)
        assert create("exp 30", "30").status_code == 200
        [expires] = stored("exp 30")
        assert dt.timedelta(days=30) <= expires - before < dt.timedelta(days=30, minutes=5)
        assert create("exp never", "0").status_code == 200
        assert stored("exp never") == [None]
        for bad in ("-1", "4000", "soon", None, 12.5):
            response = create("exp bad", bad)
            assert response.status_code == 200
            body = response.get_json()["response"]
            assert "expiry" in body["token-name-feedback"]["children"]
            assert stored("exp bad") == []  # nothing written
        ids = app_session(lambda s: s.scalars(select(ApiToken.id).where(ApiToken.name.like("exp %"))).all())
        # the list says when each expires, and that "never" is never
        rows = app_session(lambda s: api_tokens.list_tokens(s, _user(s, "adjuster")))
        from pages.tokens import token_table
        text = _texts(token_table([r for r in rows if r["id"] in ids]))
        assert "never" in text and expires.strftime("%Y-%m-%d") in text
    finally:
        _drop(app_session, *ids)


def test_an_expired_token_is_marked_expired_and_loses_its_revoke_button(web_app, app_session):
    from pages.tokens import token_table

    token_id = _make(app_session, "adjuster", "short lived",
                     expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2))
    try:
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
        [row] = [r for r in app_session(lambda s: api_tokens.list_tokens(s, _user(s, "adjuster"), now=later))
                 if r["id"] == token_id]
        table = token_table([row])
        assert "expired" in _texts(table) and "active" not in _texts(table)
        assert not list(_find(table, dcc.ConfirmDialogProvider))
    finally:
        _drop(app_session, token_id)


def test_admin_sees_everyones_active_tokens_and_others_do_not(web_app, client_for, app_session):
    from tests.webutil import render_page

    live = _make(app_session, "adjuster", "adj live integration")
    gone = _make(app_session, "adjuster", "adj revoked integration")
    old = _make(app_session, "adjuster", "adj expired integration",
                expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1))
    app_session(lambda s: api_tokens.revoke_token(s, _user(s, "adjuster"), gone))
    try:
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
        listed = app_session(lambda s: api_tokens.list_all_active_tokens(s, _user(s, "admin"), now=later))
        names = {t["name"] for t in listed}
        assert "adj live integration" in names
        assert not names & {"adj revoked integration", "adj expired integration"}
        [mine] = [t for t in listed if t["id"] == live]
        assert mine["owner_email"] == "adjuster@scope.example"
        for role in ("adjuster", "manager"):
            with pytest.raises(api_tokens.TokenError):
                app_session(lambda s, r=role: api_tokens.list_all_active_tokens(s, _user(s, r)))

        status, html_text = render_page(client_for("admin"), "/tokens")
        assert status == 200 and "Everyone's tokens" in html_text and "adj live integration" in html_text
        for role in ("adjuster", "manager"):
            status, html_text = render_page(client_for(role), "/tokens")
            assert status == 200 and "Your tokens" in html_text
            # the create form: 90 days unless one chooses otherwise, and "Never" has to be chosen
            select = _component(json.loads(html_text), "token-expiry")
            assert select["value"] == "90"
            assert [o["label"] for o in select["options"]] == ["30 days", "90 days", "1 year", "Never"]
            assert "Everyone" not in html_text and "everyone-token-revoke" not in html_text
    finally:
        _drop(app_session, live, gone, old)


def test_admin_revokes_anyones_token_after_the_confirmation_and_it_is_audited(web_app, client_for, app_session):
    from db.models import AuditLog
    from pages.tokens import everyone_table

    token_id = _make(app_session, "adjuster", "ledger export")
    try:
        listed = app_session(lambda s: api_tokens.list_all_active_tokens(s, _user(s, "admin")))
        [dialog] = [d for d in _find(everyone_table([t for t in listed if t["id"] == token_id]),
                                     dcc.ConfirmDialogProvider)]
        assert dialog.id == {"type": "everyone-token-revoke", "id": token_id}
        assert "ledger export" in dialog.message and "adjuster@scope.example" in dialog.message
        assert "cannot be undone" in dialog.message

        # another role cannot call it at all
        for role in ("adjuster", "manager"):
            response = _post_confirm(web_app, client_for(role), EVERYONE_KEY, "everyone-token-revoke", token_id)
            assert response.status_code in (204, 403)
            assert app_session(lambda s: s.get(ApiToken, token_id).revoked_at) is None

        admin = client_for("admin")
        response = _post_confirm(web_app, admin, EVERYONE_KEY, "everyone-token-revoke", token_id, value=0)
        assert response.status_code in (200, 204)
        assert app_session(lambda s: s.get(ApiToken, token_id).revoked_at) is None  # drawn, not confirmed
        response = _post_confirm(web_app, admin, EVERYONE_KEY, "everyone-token-revoke", token_id)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        body = json.dumps(response.get_json())
        assert "Revoked" in body and "ledger export" in body and "adjuster@scope.example" in body
        assert app_session(lambda s: s.get(ApiToken, token_id).revoked_at) is not None
        entry = app_session(lambda s: s.scalars(select(AuditLog).where(
            AuditLog.action == "api_token.revoke", AuditLog.target_id == str(token_id))).one())
        assert entry.actor == "admin@scope.example"
        assert entry.after["owner"] == "adjuster@scope.example"

        # a tampered id: a clear message, no server error
        response = _post_confirm(web_app, admin, EVERYONE_KEY, "everyone-token-revoke", 2**40)
        assert response.status_code == 200 and "No such token" in json.dumps(response.get_json())
    finally:
        _drop(app_session, token_id)


@pytest.mark.parametrize("role", ["adjuster", "admin"])
def test_the_own_token_revoke_refuses_someone_elses_token(web_app, client_for, app_session, role):
    other = "manager"
    token_id = _make(app_session, other, "not yours")
    try:
        response = _post_own_revoke(web_app, client_for(role), {"id": token_id, "at": 1})
        assert response.status_code == 200
        assert "No such token" in json.dumps(response.get_json())
        assert app_session(lambda s: s.get(ApiToken, token_id).revoked_at) is None
    finally:
        _drop(app_session, token_id)


def test_admins_everyone_list_follows_their_own_create_and_revoke(web_app, client_for, app_session):
    """The admin's own list is redrawn by Create and Revoke; Everyone's tokens (which holds the
    admin's own active tokens) is redrawn after it, for admins only."""
    [key] = [k for k in web_app.callback_map if k.startswith("everyone-tokens.children@")]
    token_id = _make(app_session, "admin", "admin own everyone-follow")

    def redraw(role):
        # a single output: the browser posts it as one object, with the key's property
        return client_for(role).post("/_dash-update-component", json={
            "output": key, "outputs": {"id": "everyone-tokens", "property": key.split(".", 1)[1]},
            "inputs": [{"id": "tokens-list", "property": "children", "value": None}],
            "state": [], "changedPropIds": ["tokens-list.children"]})

    try:
        response = redraw("admin")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert "admin own everyone-follow" in json.dumps(response.get_json())
        app_session(lambda s: api_tokens.revoke_token(s, _user(s, "admin"), token_id))
        response = redraw("admin")
        assert response.status_code == 200
        assert "admin own everyone-follow" not in json.dumps(response.get_json())
        for role in ("adjuster", "manager"):
            assert redraw(role).status_code in (204, 403)
    finally:
        _drop(app_session, token_id)
