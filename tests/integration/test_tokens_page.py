"""The API tokens page: a token is revoked only after the confirmation."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from dash import dcc, html
from sqlalchemy import func, select

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
    client = client_for("adjuster")

    def create(name, expiry):
        return _post_create(web_app, client, name, ["claims:read"], expiry, [])

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


# --- an admin's token for another user (the For select) ---------------------------------------------------

OWNER_ID = {"type": "token-owner", "id": "for"}
SCOPES_KEY = "..token-scopes.options...token-scopes.value...token-owner-hint.children.."


def _owners(value):
    """The For select as the browser posts an ALL-wildcard dependency: [] where there is none."""
    return value if not isinstance(value, (int, type(None))) or isinstance(value, bool) \
        else [{"id": OWNER_ID, "property": "value", "value": value}]


def _post_create(web_app, client, name, scopes, expiry="90", owners=None):
    """Create as the page posts it; ``owners``: the For select's entries ([] on a non-admin's page),
    or an int for the one select holding that value."""
    [key] = [k for k in web_app.callback_map if CREATE_KEY in k]
    from tests.webutil import outputs_of
    return client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs_of(key),
        "inputs": [{"id": "token-create", "property": "n_clicks", "value": 1}],
        "state": [{"id": "token-name", "property": "value", "value": name},
                  {"id": "token-scopes", "property": "value", "value": scopes},
                  {"id": "token-expiry", "property": "value", "value": expiry},
                  _owners(owners) if owners is not None else []],
        "changedPropIds": ["token-create.n_clicks"]})


def _post_scopes(client, value):
    return client.post("/_dash-update-component", json={
        "output": SCOPES_KEY, "outputs": [{"id": "token-scopes", "property": "options"},
                                          {"id": "token-scopes", "property": "value"},
                                          {"id": "token-owner-hint", "property": "children"}],
        "inputs": [_owners(value)], "state": [],
        "changedPropIds": [json.dumps(OWNER_ID, sort_keys=True, separators=(",", ":")) + ".value"]})


def _tokens_named(app_session, name) -> list[tuple]:
    return app_session(lambda s: [tuple(r) for r in s.execute(
        select(ApiToken.id, ApiToken.user_id, ApiToken.scopes).where(ApiToken.name == name))])


def _writes(app_session) -> tuple[int, int]:
    from db.models import AuditLog
    return app_session(lambda s: (s.scalar(select(func.count()).select_from(ApiToken)),
                                  s.scalar(select(func.count()).select_from(AuditLog)
                                           .where(AuditLog.action == "api_token.create"))))


def _made(session, role: str, *, active: bool = True) -> User:
    """A user of its own in the test's rolled-back database (db_session has no demo logins)."""
    from services.users import create_user
    n = session.scalar(select(func.count()).select_from(User))
    made = create_user(session, email=f"tok{n}-{role}@test.example", role=role, password="pw-123456789",
                       name=f"Tok {role.title()} {n}", department_codes=[])
    made.is_active = active
    session.flush()
    return made


def test_service_admin_creates_a_token_for_another_active_user_within_their_role(db_session):
    from db.models import AuditLog

    s = db_session
    admin, viewer, manager = (_made(s, r) for r in ("admin", "viewer", "manager"))
    row, token, owner = api_tokens.create_token_for(s, admin, viewer.id, name="reporting feed",
                                                    scopes=["claims:read"])
    assert (row.user_id, owner.id, row.scopes) == (viewer.id, viewer.id, ["claims:read"])
    assert token.startswith("scope_") and api_tokens.authenticate(s, token).id == viewer.id
    [entry] = s.scalars(select(AuditLog).where(AuditLog.action == "api_token.create",
                                               AuditLog.target_id == str(row.id)))
    assert (entry.actor, entry.actor_id) == (admin.email, admin.id)
    assert entry.after["owner"] == viewer.email and entry.after["owner_id"] == viewer.id
    # The owner's list has it (the viewer has no page for it, but the list is theirs).
    assert [t["name"] for t in api_tokens.list_tokens(s, viewer)] == ["reporting feed"]
    # Refused, each with a reason, and nothing written.
    gone, adjuster = _made(s, "adjuster", active=False), _made(s, "adjuster")
    before = (s.scalar(select(func.count()).select_from(ApiToken)), s.scalar(select(func.count()).select_from(AuditLog)))
    for who, owner_id, scopes, message in (
            (admin, viewer.id, ["claims:write"], f"the role of {viewer.email} \\(viewer\\) cannot grant claims:write"),
            (admin, gone.id, ["claims:read"], "no such active user"),
            (admin, 2**40, ["claims:read"], "choose whom"), (admin, "12", ["claims:read"], "choose whom"),
            (admin, True, ["claims:read"], "choose whom"), (admin, None, ["claims:read"], "choose whom"),
            (manager, viewer.id, ["claims:read"], "only an admin"),
            (adjuster, manager.id, ["claims:read"], "only an admin"),
            (None, viewer.id, ["claims:read"], "only an admin")):
        with pytest.raises(api_tokens.TokenError, match=message):
            api_tokens.create_token_for(s, who, owner_id, name="nope", scopes=scopes)
    assert (s.scalar(select(func.count()).select_from(ApiToken)),
            s.scalar(select(func.count()).select_from(AuditLog))) == before
    # Whom the select offers: active users only, the admin first, each with what their role allows.
    choices = api_tokens.owner_choices(s, admin)
    assert choices[0]["id"] == admin.id and gone.id not in [c["id"] for c in choices]
    assert next(c for c in choices if c["id"] == viewer.id)["scopes"] == ["claims:read", "queues:read"]
    with pytest.raises(api_tokens.TokenError, match="only an admin"):
        api_tokens.owner_choices(s, manager)


def test_own_token_audit_names_the_owner_too(db_session):
    from db.models import AuditLog

    s = db_session
    adjuster = _made(s, "adjuster")
    row, _ = api_tokens.create_token(s, adjuster, name="mine", scopes=["claims:read"])
    [entry] = s.scalars(select(AuditLog).where(AuditLog.action == "api_token.create",
                                               AuditLog.target_id == str(row.id)))
    assert (entry.actor_id, entry.after["owner_id"]) == (adjuster.id, adjuster.id)


def test_admin_creates_a_token_for_another_user_from_the_page(web_app, client_for, app_session):
    from db.models import AuditLog
    from tests.webutil import render_page

    status, page = render_page(client_for("admin"), "/tokens")
    select_ = _component(json.loads(page), OWNER_ID)
    adjuster = app_session(lambda s: _user(s, "adjuster").id)
    admin = app_session(lambda s: _user(s, "admin").id)
    assert status == 200 and select_["value"] == admin and select_["options"][0]["label"].startswith("Yourself")
    assert any(o["value"] == adjuster and "adjuster@scope.example" in o["label"] for o in select_["options"])
    client = client_for("admin")
    try:
        # Choosing the adjuster offers what an adjuster's role allows, all ticked.
        body = _post_scopes(client, adjuster).get_json()["response"]
        assert body["token-scopes"]["value"] == ["claims:read", "claims:write", "queues:read"]
        hint = body["token-owner-hint"]["children"]
        assert "the adjuster role's permissions" in hint and "sees it in their own list" in hint
        viewer = app_session(lambda s: _user(s, "viewer").id)
        body = _post_scopes(client, viewer).get_json()["response"]
        assert body["token-scopes"]["value"] == ["claims:read", "queues:read"]
        assert "no API tokens page" in body["token-owner-hint"]["children"]

        response = _post_create(web_app, client, "fnol integration", ["claims:read", "claims:write"], "30", adjuster)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        text = json.dumps(response.get_json(), ensure_ascii=False)
        assert "shown only once" in text and "adjuster@scope.example" in text and "it acts as them" in text
        [(token_id, owner, scopes)] = _tokens_named(app_session, "fnol integration")
        assert (owner, scopes) == (adjuster, ["claims:read", "claims:write"])
        entry = app_session(lambda s: s.scalars(select(AuditLog).where(
            AuditLog.action == "api_token.create", AuditLog.target_id == str(token_id))).one())
        assert (entry.actor, entry.after["owner"]) == ("admin@scope.example", "adjuster@scope.example")
        # The owner sees it in their own list; the admin's own list does not have it.
        _, page = render_page(client_for("adjuster"), "/tokens")
        assert "fnol integration" in json.dumps(_component(json.loads(page), "tokens-list"))
        assert "fnol integration" not in json.dumps(response.get_json()["response"]["tokens-list"])
        # More than the owner's role allows is refused, with the owner named; nothing written.
        before = _writes(app_session)
        viewer_token = _post_create(web_app, client, "too much", ["claims:write"], "30", viewer).get_json()
        assert "viewer@scope.example (viewer) cannot grant claims:write" in json.dumps(viewer_token)
        assert _writes(app_session) == before
    finally:
        _drop(app_session, *[t[0] for t in _tokens_named(app_session, "fnol integration")])


@pytest.mark.parametrize("owners", [
    [{"id": OWNER_ID, "property": "value", "value": "x"}],
    [{"id": OWNER_ID, "property": "value", "value": True}],
    [{"id": OWNER_ID, "property": "value", "value": 2**40}],
    [{"id": OWNER_ID, "property": "value", "value": None}],
    [{"id": OWNER_ID, "property": "value", "value": 1}, {"id": {**OWNER_ID, "id": "x"}, "property": "value",
                                                           "value": 2}],
    "nonsense", {"value": 1},
])
def test_admin_tampered_for_writes_nothing(web_app, client_for, app_session, owners):
    before = _writes(app_session)
    response = _post_create(web_app, client_for("admin"), "tampered for", ["claims:read"], "90", owners)
    # A shape no browser sends is Dash's 400 before the callback; the rest get the form's message.
    assert response.status_code in (200, 400) and "Traceback" not in response.get_data(as_text=True)
    if response.status_code == 200:
        assert response.get_json()["response"]["token-name"]["invalid"] is True
    assert _writes(app_session) == before and _tokens_named(app_session, "tampered for") == []


@pytest.mark.parametrize("role", ["adjuster", "manager"])
def test_non_admin_naming_another_user_is_refused_and_writes_nothing(web_app, client_for, app_session, role):
    from tests.webutil import render_page

    status, page = render_page(client_for(role), "/tokens")
    assert status == 200 and "token-owner" not in page       # no For select
    other = app_session(lambda s: _user(s, "viewer").id)
    before = _writes(app_session)
    response = _post_create(web_app, client_for(role), "sneaky", ["claims:read"], "90", other)
    feedback = response.get_json()["response"]["token-name-feedback"]["children"]
    assert feedback == "Only an admin can create tokens for other people"
    assert _writes(app_session) == before and _tokens_named(app_session, "sneaky") == []
    # Naming oneself is one's own token, as without the select.
    me = app_session(lambda s: _user(s, role).id)
    response = _post_create(web_app, client_for(role), "own via for", ["claims:read"], "90", me)
    try:
        assert "shown only once" in response.get_data(as_text=True)
        assert [t[1] for t in _tokens_named(app_session, "own via for")] == [me]
    finally:
        _drop(app_session, *[t[0] for t in _tokens_named(app_session, "own via for")])
    # The scopes of another user's role are not theirs to ask for either.
    assert _post_scopes(client_for(role), other).status_code in (204, 403)
    assert _post_create(web_app, client_for("viewer"), "viewer", ["claims:read"], "90", other).status_code == 403
