"""The security test matrix, built from the app itself: every URL rule and every
Dash callback is covered without being listed, so a new route or callback is
tested the moment it is registered.

- no session: every route answers 401 or a redirect to the login page, with no data;
- every callback is refused (401) without a session (test_app_permissions) and,
  per role, a callback whose permission the role lacks answers 403 (ditto);
- tampered callback inputs on the claim page and tampered API requests: 4xx or a
  message, never a 5xx, never another department's data.
"""
from __future__ import annotations

import json
import re

import pytest
from dash.dependencies import Wildcard
from sqlalchemy import func, select

from db.models import AuditLog, Claim, ClaimEvent, RoutingFeedback
from tests.integration.test_api import auth, good_claim, make_token
from tests.integration.test_feedback import web_claim

# Routes that answer without a session by design; anything else must ask for one.
# A new public route has to be added here on purpose.
PUBLIC_RULES = {
    "/login", "/logout", "/mfa", "/mfa/setup", "/login/oidc", "/login/oidc/callback", "/forgot-password",
    "/reset-password", "/accept-invite", "/verify-email", "/healthz", "/readyz", "/api/v1/openapi.json",
    "/assets/<path:filename>", "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
    "/_favicon.ico", "/favicon.ico",
}
SAMPLE = {"claim_number": "QQ-0000001", "department_code": "AUTO_GLASS", "path": "claims/QQ-0000001",
          "_rest": "v1/claims", "filename": "x.css", "document_id": "1"}  # an <int:…> must be a number to match
DATA_MARKERS = (b"SYN-", b"claimed_amount", b"routing_decision")


def _concrete(rule) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLE.get(m.group(1), "x"), rule.rule)


def _rules(app):
    for rule in app.server.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_needs_a_session_and_leaks_nothing(web_app):
    client = web_app.server.test_client()
    checked = 0
    for rule, method in _rules(web_app):
        if rule.rule in PUBLIC_RULES:
            continue
        response = client.open(_concrete(rule), method=method, json={} if method != "GET" else None,
                               headers={"Origin": "http://localhost"})
        where = f"{method} {rule.rule}"
        if rule.rule.startswith("/api/") and "<path:" in rule.rule:  # the API's catch-all for unknown paths
            assert response.status_code in (401, 404, 405), where
        elif rule.rule.startswith("/api/"):
            assert response.status_code == 401, where
        elif response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), where
        else:
            assert response.status_code == 401, (where, response.status_code)
        assert not any(m in response.data for m in DATA_MARKERS), where
        checked += 1
    assert checked >= 8, "the URL map looks empty: is the app wired?"


def test_public_routes_never_serve_claim_data(web_app):
    client = web_app.server.test_client()
    for rule, method in _rules(web_app):
        if rule.rule not in PUBLIC_RULES or method != "GET" or "<" in rule.rule:
            continue
        response = client.get(rule.rule)
        assert response.status_code < 500, rule.rule
        assert b"SYN-" not in response.data and b"FBW-" not in response.data, rule.rule


# --- Tampered callback inputs on the claim page --------------------------------

def _claim_callbacks(web_app) -> list[str]:
    keys = [k for k, v in web_app.callback_map.items()
            if any(d["id"] == "claim-key" for d in v["inputs"] + v["state"])]
    assert len(keys) >= 4, keys
    return keys


def _item(dep: dict, value):
    raw = dep["id"]
    if raw.startswith("{"):  # a pattern-matching id: one concrete button
        ident = {k: ("assign_me" if v == ["ALL"] else v) for k, v in json.loads(raw).items()}
        return [{"id": ident, "property": dep["property"], "value": value}]
    return {"id": raw, "property": dep["property"], "value": value}


def _output(dep):
    if isinstance(dep.component_id, dict):  # a pattern-matching output: the one component the page draws
        ident = {k: (0 if isinstance(v, Wildcard) else v) for k, v in dep.component_id.items()}
        return [{"id": ident, "property": dep.component_property}]
    return {"id": dep.component_id, "property": dep.component_property}


def _payload(entry: dict, key: str, claim_key, seen) -> dict:
    def value(dep):
        if dep["id"] == "claim-key":
            return claim_key
        if dep["id"] == "claim-seen":
            return seen
        if dep["property"] == "n_clicks":
            return 1
        if dep["id"] == "note-text":
            return "tampered note"
        if dep["id"] == "fb-verdict":
            return "disagree"
        return "x"

    inputs = [_item(d, value(d)) for d in entry["inputs"]]
    first = inputs[0][0] if isinstance(inputs[0], list) else inputs[0]
    first_id = first["id"] if isinstance(first["id"], str) else json.dumps(first["id"], separators=(",", ":"),
                                                                              sort_keys=True)
    many = isinstance(entry["output"], list)
    outputs = [_output(o) for o in (entry["output"] if many else [entry["output"]])]
    return {"output": key, "outputs": outputs if many else outputs[0], "inputs": inputs, "state": [_item(d, value(d)) for d in entry["state"]],
            "changedPropIds": [f"{first_id}.{first['property']}"]}


def _changes(web_app, claim_id: int) -> tuple:
    from db.flask_db import read_session

    with web_app.server.app_context():
        s = read_session()
        claim = s.get(Claim, claim_id)
        return (claim.version, claim.status, claim.adjuster_id,
                s.scalar(select(func.count()).select_from(ClaimEvent).where(ClaimEvent.claim_id == claim_id)),
                s.scalar(select(func.count()).select_from(RoutingFeedback).where(RoutingFeedback.claim_id == claim_id)))


TAMPERED_KEYS = ["FOREIGN", -1, 0, 2**63, "-1", "", " ", "'; DROP TABLE claims; --", "x" * 5000, "SYN-%", "../../etc",
                 None, True, 12.5, ["SYN-0000001"], {"claim_number": "SYN-0000001"}, "\x00", "ünïcødé-1"]


@pytest.fixture(scope="module")
def foreign(web_app):
    """A claim in a department the demo adjuster (Auto Glass) does not work."""
    claim = web_claim(web_app, dept="WORKERS_COMP")
    from db.flask_db import read_session

    with web_app.server.app_context():
        claim["description"] = read_session().get(Claim, claim["id"]).description
    return claim


@pytest.mark.parametrize("claim_key", TAMPERED_KEYS, ids=lambda v: repr(v)[:20])
def test_claim_callbacks_survive_tampered_claim_keys(web_app, client_for, foreign, claim_key):
    client = client_for("adjuster")
    claim_key = foreign["number"] if claim_key == "FOREIGN" else claim_key
    before = _changes(web_app, foreign["id"])
    for key in _claim_callbacks(web_app):
        entry = web_app.callback_map[key]
        for seen in ({"version": foreign["version"], "decision_id": foreign["decision_id"]}, "garbage",
                     {"version": -5, "decision_id": "x"}):
            response = client.post("/_dash-update-component", json=_payload(entry, key, claim_key, seen))
            body = response.get_data(as_text=True)
            assert response.status_code in (200, 204) or 400 <= response.status_code < 500, (key, response.status_code)
            assert "Something went wrong" not in body, key
            assert foreign["description"][:60] not in body, key  # never the foreign claim's content
            assert "Routing decision" not in body and "toward" not in body, key
    assert _changes(web_app, foreign["id"]) == before


def test_malformed_callback_requests_get_400(web_app, client_for):
    client = client_for("adjuster")
    key = next(k for k in web_app.callback_map if "note-msg.children" in k)
    for outputs in ([], [{"id": "x", "property": "y"}], "junk"):
        response = client.post("/_dash-update-component", json={
            "output": key, "outputs": outputs, "state": [], "changedPropIds": ["note-submit.n_clicks"],
            "inputs": [{"id": "note-submit", "property": "n_clicks", "value": 1}]})
        assert 400 <= response.status_code < 500, (outputs, response.status_code)


def test_claim_callbacks_refuse_lower_roles_outright(web_app, client_for, foreign):
    """The viewer may read but not write: write callbacks answer 403 and change nothing."""
    client = client_for("viewer")
    before = _changes(web_app, foreign["id"])
    statuses = {}
    for key in _claim_callbacks(web_app):
        response = client.post("/_dash-update-component",
                               json=_payload(web_app.callback_map[key], key, foreign["number"],
                                             {"version": foreign["version"], "decision_id": foreign["decision_id"]}))
        statuses[key.strip(".").split(".")[0]] = response.status_code
    assert statuses["claim-action-msg"] == statuses["fb-msg"] == statuses["note-msg"] == 403
    assert _changes(web_app, foreign["id"]) == before


# --- Tampered API requests -------------------------------------------------------

@pytest.fixture(scope="module")
def adjuster_token(web_app):
    return make_token(web_app, "adjuster@scope.example", ["claims:read", "claims:write", "queues:read"])


def test_api_never_serves_a_foreign_claim(web_app, adjuster_token, foreign):
    client = web_app.server.test_client()
    foreign_answer = client.get(f"/api/v1/claims/{foreign['number']}", headers=auth(adjuster_token))
    missing = client.get("/api/v1/claims/SYN-99999999", headers=auth(adjuster_token))
    assert foreign_answer.status_code == missing.status_code == 404
    assert foreign_answer.get_json() == missing.get_json()
    assert client.get("/api/v1/queues/WORKERS_COMP", headers=auth(adjuster_token)).status_code == 403


@pytest.mark.parametrize("path", [
    "/api/v1/claims/-1", "/api/v1/claims/0", "/api/v1/claims/" + "9" * 300, "/api/v1/claims/%00",
    "/api/v1/claims/%27%3B--", "/api/v1/claims/SYN-%25", "/api/v1/queues/" + "Q" * 300, "/api/v1/queues/%00",
    "/api/v1/queues/AUTO_GLASS?limit=-1", "/api/v1/queues/AUTO_GLASS?limit=abc", "/api/v1/queues/AUTO_GLASS?limit=501",
    "/api/v1/queues/AUTO_GLASS?offset=99999999999999999999", "/api/v1/queues/AUTO_GLASS?offset=1e3",
])
def test_api_tampered_paths_get_4xx(web_app, adjuster_token, path):
    response = web_app.server.test_client().get(path, headers=auth(adjuster_token))
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert b"SYN-" not in response.data and b"Traceback" not in response.data


@pytest.mark.parametrize("body", [
    good_claim(claimed_amount="1e309"), good_claim(claimed_amount=-5), good_claim(claimed_amount=10**30),
    good_claim(claimed_amount=True), good_claim(loss_date="2026-02-30"), good_claim(loss_date=20240101),
    good_claim(description="x" * 200_000), good_claim(description=["a", "b"]), good_claim(state={"$ne": 1}),
    good_claim(vehicle_count=-1), good_claim(vehicle_count=2**70), good_claim(witness_count="3"),
    good_claim(department_id=1), good_claim(claim_number="SYN-0000001"), good_claim(policy_number="P" * 5000),
    [good_claim()], "a string", 12, None, {},
], ids=lambda b: (json.dumps(b)[:30] if not isinstance(b, dict) else ",".join(sorted(b))[-30:]))
def test_api_tampered_bodies_get_4xx_and_store_nothing(web_app, adjuster_token, body):
    from db.flask_db import read_session

    client = web_app.server.test_client()
    with web_app.server.app_context():
        before = read_session().scalar(select(func.max(Claim.id)))
    response = client.post("/api/v1/claims", json=body, headers=auth(adjuster_token))
    assert 400 <= response.status_code < 500, (body if not isinstance(body, dict) else sorted(body),
                                               response.status_code)
    batch = client.post("/api/v1/claims/batch", json={"claims": [good_claim(), body]}, headers=auth(adjuster_token))
    assert 400 <= batch.status_code < 500
    with web_app.server.app_context():
        assert read_session().scalar(select(func.max(Claim.id))) == before


def test_api_malformed_json_and_wrong_content(web_app, adjuster_token):
    client = web_app.server.test_client()
    for data in (b"{", b"\xff\xfe", b'{"a": NaN}', b"[" * 100_000, b'{"a": ' + b"1" * 10_000 + b"}"):
        response = client.post("/api/v1/claims", data=data, headers=auth(adjuster_token, **{
            "Content-Type": "application/json"}))
        assert 400 <= response.status_code < 500, (data[:20], response.status_code)


def test_refused_callbacks_and_api_calls_are_audited_but_throttled(web_app, client_for):
    from db.flask_db import read_session
    from db.models import User

    client = client_for("viewer")
    key = next(k for k in web_app.callback_map if "note-msg.children" in k)
    with web_app.server.app_context():
        viewer_id = read_session().scalar(select(User.id).where(User.email == "viewer@scope.example"))

    def denied_rows() -> int:
        with web_app.server.app_context():
            return read_session().scalar(select(func.count()).select_from(AuditLog).where(
                AuditLog.action == "access.denied", AuditLog.actor_id == viewer_id,
                AuditLog.target_id.like("callback ..note-msg%")))

    from services import audit

    with audit._denied_lock:  # forget refusals earlier tests made in this minute (same process)
        audit._denied_seen.clear()
        audit._denied_counts.clear()
    start = denied_rows()
    for _ in range(25):
        response = client.post("/_dash-update-component", json={"output": key, "outputs": [], "inputs": [],
                                                                 "state": [], "changedPropIds": []})
        assert response.status_code == 403
    # A flood of the same refusal within a minute is one row (two if the minute turned over).
    assert 1 <= denied_rows() - start <= 2


def test_a_page_refused_to_a_role_is_audited(web_app, client_for):
    from db.flask_db import read_session
    from db.models import User
    from services import audit
    from tests.webutil import render_page

    with audit._denied_lock:  # forget refusals earlier tests made in this minute (same process)
        audit._denied_seen.clear()
        audit._denied_counts.clear()
    client = client_for("adjuster")
    with web_app.server.app_context():
        adjuster_id = read_session().scalar(select(User.id).where(User.email == "adjuster@scope.example"))

    def rows() -> list[AuditLog]:
        with web_app.server.app_context():
            return read_session().scalars(select(AuditLog).where(
                AuditLog.action == "access.denied", AuditLog.actor_id == adjuster_id,
                AuditLog.target_id == "page admin_users")).all()

    before = len(rows())
    status, body = render_page(client, "/admin/users")
    assert status == 200 and "Not allowed" in body and "user-manage" not in body
    after = rows()
    assert len(after) == before + 1 and after[-1].after == {"permission": "users:manage"}
    status, body = render_page(client, "/queues")  # a page the role has: nothing recorded
    assert status == 200 and "Not allowed" not in body
    assert len(rows()) == before + 1
