"""Every route and every registered callback checks the user on the server."""
from __future__ import annotations

import pytest

from auth.guard import SIGNED_IN, callback_permission
from auth.permissions import ROLE_PERMISSIONS, Perm

from tests.webutil import render_page  # noqa: E402

PAGES = ["/", "/queues", "/models", "/claims/ANY-1"]


def _dash_body(output_key: str) -> dict:
    return {"output": output_key, "outputs": [], "inputs": [], "state": [], "changedPropIds": []}


def test_every_callback_declares_a_permission(web_app, client_for):
    keys = list(web_app.callback_map)
    assert keys, "the app registered no callbacks"
    # Clientside callbacks run in the browser and have nothing to run here (queue-url-sink
    # writes the address bar): the guard refuses a request naming one, whoever sends it.
    clientside = [k for k in keys if "callback" not in web_app.callback_map[k]]
    undeclared = [k for k in keys if k not in clientside and callback_permission(web_app, k) is None]
    assert undeclared == []
    assert "queue-url-sink.data" in clientside and set(clientside) <= {"queue-url-sink.data", "_pages_dummy.children",
                                                                  "..doc-staged.children...doc-attach.disabled.."}
    response = client_for("admin").post("/_dash-update-component", json={
        "output": "queue-url-sink.data", "outputs": {"id": "queue-url-sink", "property": "data"},
        "inputs": [{"id": "queue-filters", "property": "data", "value": {}}], "state": [],
        "changedPropIds": ["queue-filters.data"]})
    assert response.status_code == 403


@pytest.mark.parametrize("path", PAGES + ["/_dash-layout", "/_dash-dependencies"])
def test_pages_need_login(web_app, path):
    response = web_app.server.test_client().get(path)
    assert response.status_code in (302, 401)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
    assert b"SYN-" not in response.data


def test_unauthenticated_callback_gets_401_and_no_data(web_app):
    client = web_app.server.test_client()
    for key in web_app.callback_map:
        response = client.post("/_dash-update-component", json=_dash_body(key))
        assert response.status_code == 401, key
        assert response.get_json() == {"error": "authentication required"}


def test_unknown_callback_output_is_refused(client_for):
    client = client_for("admin")
    response = client.post("/_dash-update-component", json=_dash_body("..secret.children.."))
    assert response.status_code == 403


@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_each_role_reaches_only_its_callbacks(web_app, client_for, role):
    client = client_for(role)
    for key in web_app.callback_map:
        perm = callback_permission(web_app, key)
        allowed = perm == SIGNED_IN or perm in ROLE_PERMISSIONS[role]
        response = client.post("/_dash-update-component", json=_dash_body(key))
        if allowed:
            assert response.status_code != 403, key
        else:
            assert response.status_code == 403, key


def test_healthz_and_readyz(web_app):
    client = web_app.server.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["checks"] == {"database": True, "champion_model": True}


def test_login_rejects_wrong_password_and_foreign_next(web_app):
    from tests.conftest import login

    client = web_app.server.test_client()
    bad = login(client, "admin@scope.example", "wrong-password-123")
    assert bad.status_code == 401
    assert b"not correct" in bad.data
    page = client.get("/login?next=https://evil.example/")
    assert b"evil.example" not in page.data


def test_login_form_needs_csrf_token(web_app):
    client = web_app.server.test_client()
    response = client.post("/login", data={"email": "admin@scope.example", "password": "scope-demo-admin"})
    assert response.status_code == 400


@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_models_page_only_for_roles_with_permission(client_for, role):
    status, body = render_page(client_for(role), "/models")
    assert status == 200
    if Perm.VIEW_MODELS in ROLE_PERMISSIONS[role]:
        assert "Router models" in body and "synthetic-" in body
        # the metric headers explain themselves (Macro-F1, ECE were bare shorthand)
        assert "Calibration error: how far the model" in body and "weighs every department the same" in body
    else:
        assert "Not allowed" in body and "synthetic-" not in body


def test_adjuster_sees_only_own_department_queues(client_for):
    status, body = render_page(client_for("adjuster"), "/")
    assert status == 200
    assert "Auto Glass" in body and "Workers' Comp" not in body
    status, body = render_page(client_for("manager"), "/")
    assert "Workers" in body


def test_dash_is_fully_set_up_before_the_first_request(database_url):
    """A fresh worker must not serve a request half set up: Dash's own first-request
    hooks (scripts, callbacks, page routing) have run when create_app returns."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import json; from app import create_app; a = create_app(); "
             "print(json.dumps({'flags': a._got_first_request, 'dash_scripts': 'dash' in a.registered_paths, "
             "'routing': any('_pages_content.children' in k for k in a.callback_map)}))")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=root,
                            env={**os.environ, "DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr[-2000:]
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state == {"flags": {"pages": True, "setup_server": True}, "dash_scripts": True, "routing": True}
