"""Request hardening: the Origin check (CSRF), security headers on every kind
of response, and errors that show no internals."""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import re

import pytest

from services.users import create_user
from tests.conftest import as_browser, login
from tests.webutil import render_page

PASSWORD = "hardening-test-password-3"
_seq = itertools.count()
EVIL = "https://evil.example"


@pytest.fixture()
def client(web_app):
    """A signed-in adjuster of its own, sending this site's Origin like a browser."""
    from db.flask_db import read_session

    email = f"hardening{next(_seq)}@test.example"
    with web_app.server.app_context():
        s = read_session()
        create_user(s, email=email, role="adjuster", password=PASSWORD, department_codes=["AUTO_PD"])
        s.commit()
    c = web_app.server.test_client()
    assert login(c, email, PASSWORD).status_code == 302
    return c


def _page_callback(client, headers=None):
    return client.post("/_dash-update-component", headers=headers or {}, json={
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/"},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "state": [], "changedPropIds": ["_pages_location.pathname"]})


def _logout_token(client) -> str:
    layout = json.dumps(client.get("/_dash-layout").get_json())
    return re.search(r'"value": "([0-9a-f]{64})", "type": "hidden", "name": "csrf_token"', layout).group(1)


# --- CSRF: Origin check -----------------------------------------------------------------------

def test_callback_from_a_foreign_origin_is_refused(client):
    assert _page_callback(client).status_code == 200  # same Origin (set by login/as_browser)
    for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Origin": "http://localhost:8050"},
                    {"Origin": "https://localhost"}):
        response = _page_callback(client, headers)
        assert response.status_code == 403, headers
        assert "another site" in response.get_json()["error"]
    del client.environ_base["HTTP_ORIGIN"]
    assert _page_callback(client, {"Referer": "http://localhost/queues"}).status_code == 200
    assert _page_callback(client, {"Referer": EVIL + "/x"}).status_code == 403
    response = _page_callback(client)  # a cookie but neither header: refused
    assert response.status_code == 403 and "Origin" in response.get_json()["error"]


def test_form_post_from_a_foreign_origin_is_refused_and_changes_nothing(client):
    token = _logout_token(client)
    response = client.post("/logout", data={"csrf_token": token}, headers={"Origin": EVIL})
    assert response.status_code == 403
    assert b"another site" in response.data and response.mimetype == "text/html"
    assert client.get("/").status_code == 200  # still signed in
    assert client.post("/logout", data={}).status_code == 400  # same origin still needs the form token
    assert client.get("/").status_code == 200
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and client.get("/").status_code == 302


def test_login_form_from_a_foreign_origin_is_refused(web_app):
    c = as_browser(web_app.server.test_client())
    page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = c.post("/login", headers={"Origin": EVIL}, data={
        "email": "adjuster@scope.example", "password": "scope-demo-adjuster", "csrf_token": token})
    assert response.status_code == 403 and c.get_cookie("scope_session") is not None
    assert c.get("/").status_code == 302


def test_get_never_signs_out(client):
    response = client.get("/logout")
    assert response.status_code in (200, 404, 405)
    assert client.get("/").status_code == 200


def test_api_with_a_bearer_token_needs_no_origin_but_a_foreign_one_is_refused(web_app):
    from db.flask_db import read_session
    from services import api_tokens

    with web_app.server.app_context():
        s = read_session()
        user = create_user(s, email=f"hardening-api{next(_seq)}@test.example", role="adjuster",
                           password=PASSWORD, department_codes=["AUTO_PD"])
        token = api_tokens.create_token(s, user, name="t", scopes=["claims:write"])[1]
        s.commit()
    c = web_app.server.test_client()  # like curl: no cookie, no Origin
    headers = {"Authorization": f"Bearer {token}"}
    assert c.post("/api/v1/claims", json={}, headers=headers).status_code == 422
    response = c.post("/api/v1/claims", json={}, headers={**headers, "Origin": EVIL})
    assert response.status_code == 403 and "another site" in response.get_json()["error"]


# --- security headers -------------------------------------------------------------------------

def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


def _assert_security_headers(response, *, no_store: bool):
    csp = _csp(response)
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # development settings: no HSTS
    assert (response.headers.get("Cache-Control") == "no-store") is no_store


def test_headers_on_html_callback_api_and_asset_responses(web_app, client):
    from db.flask_db import read_session
    from services import api_tokens

    _assert_security_headers(client.get("/queues"), no_store=True)
    _assert_security_headers(_page_callback(client), no_store=True)
    _assert_security_headers(client.get("/_dash-layout"), no_store=True)
    _assert_security_headers(web_app.server.test_client().get("/login"), no_store=True)
    _assert_security_headers(client.get("/assets/10-scope.css"), no_store=False)
    with web_app.server.app_context():
        s = read_session()
        user = create_user(s, email=f"hardening-hdr{next(_seq)}@test.example", role="adjuster",
                           password=PASSWORD, department_codes=["AUTO_PD"])
        token = api_tokens.create_token(s, user, name="t", scopes=["queues:read"])[1]
        s.commit()
    api = web_app.server.test_client().get("/api/v1/queues/AUTO_PD?limit=1",
                                            headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    _assert_security_headers(api, no_store=True)


def test_csp_allows_exactly_the_inline_scripts_the_page_has(web_app, client):
    # Dash's Internet Explorer warning sits in a conditional comment that no browser runs.
    html = re.sub(r"<!--.*?-->", "", client.get("/").get_data(as_text=True), flags=re.S)
    allowed = set(_csp(client.get("/"))["script-src"])
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", html, flags=re.S)
    executable = [body for attrs, body in inline if "application/json" not in attrs]
    assert executable, "the Dash index has its renderer script inline"
    for body in executable:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed
    assert set(web_app.csp_hashes()) <= allowed


# --- errors without internals -----------------------------------------------------------------

SECRET = "SECRET-INTERNAL-DETAIL /work/main/services/x.py line 12"


def _no_internals(response):
    body = response.get_data(as_text=True)
    assert SECRET not in body and "Traceback" not in body and "RuntimeError" not in body


def test_a_crashing_callback_gives_generic_json_and_logs_the_details(client, monkeypatch, caplog):
    import dash

    def boom(**_):
        raise RuntimeError(SECRET)

    home = next(p for p in dash.page_registry.values() if p["path"] == "/")
    monkeypatch.setitem(home, "layout", boom)
    with caplog.at_level(logging.ERROR):
        status, body = render_page(client, "/")
    assert status == 500
    answer = json.loads(body)
    assert answer["error"] == "The error was logged. Try again, or tell your administrator."
    assert set(answer) == {"error", "reference"} and re.fullmatch(r"[0-9a-f]{16}", answer["reference"])
    assert SECRET not in body and "Traceback" not in body
    assert any(SECRET in (r.exc_text or "") or (r.exc_info and SECRET in str(r.exc_info[1]))
               for r in caplog.records)


def test_a_crashing_page_route_gives_a_generic_html_page(web_app, monkeypatch):
    import auth.login

    def boom(*_a, **_k):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(auth.login, "_render", boom)
    response = web_app.server.test_client().get("/login", headers={"Accept": "text/html"})
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert b"Something went wrong" in response.data
    _no_internals(response)


def test_a_crashing_api_endpoint_gives_generic_json(web_app, monkeypatch):
    from db.flask_db import read_session
    from services import api_tokens

    with web_app.server.app_context():
        s = read_session()
        user = create_user(s, email=f"hardening-500{next(_seq)}@test.example", role="adjuster",
                           password=PASSWORD, department_codes=["AUTO_PD"])
        token = api_tokens.create_token(s, user, name="t", scopes=["claims:read"])[1]
        s.commit()
    import api.v1.claims

    def boom(*_a, **_k):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(api.v1.claims, "get_claim_view", boom)
    response = web_app.server.test_client().get("/api/v1/claims/SYN-1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500
    # The reference is the request's id, the key to the logged stack trace.
    assert response.get_json() == {"error": "internal error", "reference": response.headers["X-Request-ID"]}
    _no_internals(response)


def test_404_and_405_pages(web_app, client):
    response = client.delete("/login", headers={"Accept": "text/html"})
    assert response.status_code == 405 and response.mimetype == "text/html"
    assert b"Not allowed here" in response.data and "POST" in response.headers["Allow"]
    _assert_security_headers(response, no_store=True)
    response = client.get("/api/v2/anything")
    assert response.status_code == 404 and response.get_json() == {"error": "no such API endpoint"}
    response = client.put("/api/v1/claims")
    assert response.status_code in (404, 405) and "error" in response.get_json()
    response = client.post("/no/such/page", data={"a": "b"}, headers={"Accept": "text/html"})
    assert response.status_code in (404, 405) and b"SCOPE" in response.data
    _no_internals(response)


def test_unknown_page_is_a_404_with_a_way_back_and_known_pages_are_not(web_app, client_for):
    client = client_for("adjuster")
    for path in ("/no/such/page", "/claimz/1", "/queues/extra/deep/path"):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404, path
        assert b"Page not found" in response.data and b'href="/"' in response.data
    # fixed paths and templated ones (/claims/<id>) still serve the app shell
    for path in ("/", "/queues", "/claims/1", "/profile"):
        assert client.get(path).status_code == 200, path
    # anonymous visitors are sent to sign in first, whatever the path
    anonymous = web_app.server.test_client().get("/no/such/page")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    # the browser's own favicon request (sign-in page) finds the icon, not a 404
    icon = web_app.server.test_client().get("/favicon.ico", follow_redirects=True)
    assert icon.status_code == 200 and icon.mimetype.startswith("image/")
