"""REST API: bearer tokens, scopes, record-level access, strict validation,
idempotency, size limits and the OpenAPI document."""
from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from sqlalchemy import func, select, text

from db.flask_db import unit_of_work
from db.models import ApiToken, Claim, ClaimEvent, RoutingDecision, User
from services import api_tokens, idempotency, intake, intake_parties

TODAY = dt.date.today()


def good_claim(**changes) -> dict:
    claim = {"policy_number": "PAU-1234567", "line_of_business": "auto",
             "loss_date": (TODAY - dt.timedelta(days=3)).isoformat(),
             "description": "Rear-ended at a red light on the highway, bumper and trunk damaged.",
             "claimed_amount": 4200.5, "state": "CA", "postcode": "90210", "reported_via": "phone",
             "injury_reported": False, "police_report": True, "vehicle_count": 2, "witness_count": 1,
             "weather": "rain", "loss_location": "road"}
    claim.update(changes)
    return {k: v for k, v in claim.items() if v is not None}


def make_token(web_app, email: str, scopes: list[str], **kw) -> str:
    with web_app.server.app_context():
        with unit_of_work() as session:
            user = session.scalar(select(User).where(User.email == email))
            _, token = api_tokens.create_token(session, user, name="test " + "-".join(scopes), scopes=scopes, **kw)
    return token


def auth(token: str, **headers) -> dict:
    return {"Authorization": f"Bearer {token}", **headers}


def count(web_app, stmt) -> int:
    with web_app.server.app_context():
        from db.flask_db import read_session
        return read_session().scalar(stmt)


def test_create_one_claim_is_stored_scored_and_routed(web_app, client, writer):
    response = client.post("/api/v1/claims", json=good_claim(), headers=auth(writer))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()["claim"]
    assert body["claim_number"].startswith("FNOL-") and body["status"] == "new" and body["dataset"] == "synthetic"
    assert body["department"] and body["decision"]["department"] == body["department"]
    assert body["decision"]["shap_method"] == "exact" and body["decision"]["drivers"]
    assert abs(sum(body["decision"]["probabilities"].values()) - 1) < 1e-3
    got = client.get(f"/api/v1/claims/{body['claim_number']}", headers=auth(writer)).get_json()
    assert got["decision"]["model_version"] == body["decision"]["model_version"]
    assert got["weather"] == "rain" and got["claimed_amount"] == 4200.5 and "true_department" not in got
    with web_app.server.app_context():
        from db.flask_db import read_session
        s = read_session()
        claim = s.scalar(select(Claim).where(Claim.claim_number == body["claim_number"]))
        kinds = set(s.scalars(select(ClaimEvent.kind).where(ClaimEvent.claim_id == claim.id)))
        assert "intake" in kinds
        # the same target as the claim's later entries (its id), the number kept in the entry
        assert s.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'claim.intake' AND target_id = :n "
                             "AND after->>'claim_number' = :c"), {"n": str(claim.id), "c": body["claim_number"]}) == 1


def test_validation_messages_per_field(client, writer):
    bad = good_claim(policy_number="12", line_of_business="boats", loss_date=(TODAY + dt.timedelta(days=2)).isoformat(),
                     description="short", claimed_amount=-5, state="XX", postcode="abc", weather="sunny",
                     vehicle_count=1.5, injury_reported="yes", colour="red")
    response = client.post("/api/v1/claims", json=bad, headers=auth(writer))
    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert fields["policy_number"].startswith("has the wrong format")
    assert fields["line_of_business"].startswith("must be one of auto")
    assert fields["loss_date"] == "cannot be in the future"
    assert fields["description"] == "must be at least 10 characters"
    assert fields["claimed_amount"] == "must be greater than 0"
    assert "state" in fields and "postcode" in fields and "weather" in fields
    assert fields["vehicle_count"] == "must be a whole number"
    assert fields["injury_reported"] == "must be true or false"
    assert fields["colour"] == "is not a known field"


@pytest.mark.parametrize("changes, field, message", [
    ({"policy_number": None}, "policy_number", "is required"),
    ({"claimed_amount": 100_000_000}, "claimed_amount", "must be less than 100,000,000"),
    ({"claimed_amount": "abc"}, "claimed_amount", "must be a number"),
    ({"loss_date": "1989-12-31"}, "loss_date", "cannot be before 1990-01-01"),
    ({"loss_date": "2023-02-30"}, "loss_date", "is not a real calendar date"),
    ({"report_date": "2000-01-01", "loss_date": "2001-01-01"}, "report_date", "cannot be before the date of loss"),
    ({"description": "x" * 5001}, "description", "must be at most 5,000 characters"),
    ({"witness_count": 101}, "witness_count", "must be between 0 and 100"),
    ({"catastrophe_code": "storm"}, "catastrophe_code", "has the wrong format (like CAT-2024-09)"),
])
def test_validator_messages(changes, field, message):
    _, errors = intake.validate(good_claim(**changes) if None not in changes.values()
                                else {k: v for k, v in good_claim().items() if k not in changes})
    assert errors.get(field) == message


def test_batch_is_all_or_nothing(web_app, client, writer):
    before = count(web_app, select(func.count()).select_from(Claim).where(Claim.claim_number.like("FNOL-%")))
    items = [good_claim(policy_number=f"PHO-{i:07d}", line_of_business="property", weather="hail",
                        description="Hail storm broke the roof tiles and a skylight.") for i in range(5)]
    items[3]["claimed_amount"] = 0
    response = client.post("/api/v1/claims/batch", json={"claims": items}, headers=auth(writer))
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"3": {"claimed_amount": "must be greater than 0"}}
    assert count(web_app, select(func.count()).select_from(Claim).where(Claim.claim_number.like("FNOL-%"))) == before
    items[3]["claimed_amount"] = 900
    response = client.post("/api/v1/claims/batch", json={"claims": items}, headers=auth(writer))
    assert response.status_code == 201
    body = response.get_json()
    assert body["count"] == 5 and body["shap_method"] == "approx"
    numbers = [c["claim_number"] for c in body["claims"]]
    assert len(set(numbers)) == 5 and all(c["department"] for c in body["claims"])
    methods = count(web_app, select(func.count()).select_from(RoutingDecision).join(Claim)
                    .where(Claim.claim_number.in_(numbers), RoutingDecision.shap_method == "approx"))
    assert methods == 5


def test_idempotent_retry_returns_the_same_response_and_one_claim(web_app, client, writer):
    headers = auth(writer, **{"Idempotency-Key": "retry-test-1"})
    claim = good_claim(policy_number="PAU-7777777")
    first = client.post("/api/v1/claims", json=claim, headers=headers)
    second = client.post("/api/v1/claims", json=claim, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert count(web_app, select(func.count()).select_from(Claim).where(Claim.policy_number == "PAU-7777777")) == 1
    other = client.post("/api/v1/claims", json=good_claim(policy_number="PAU-7777778"), headers=headers)
    assert other.status_code == 422 and "different request body" in other.get_json()["error"]
    assert count(web_app, select(func.count()).select_from(Claim).where(Claim.policy_number == "PAU-7777778")) == 0


def test_idempotent_validation_error_is_replayed(client, writer):
    headers = auth(writer, **{"Idempotency-Key": "retry-invalid"})
    first = client.post("/api/v1/claims", json=good_claim(state="ZZ"), headers=headers)
    second = client.post("/api/v1/claims", json=good_claim(state="ZZ"), headers=headers)
    assert first.status_code == second.status_code == 422 and first.get_json() == second.get_json()


def test_in_flight_duplicate_is_409(web_app, client, writer):
    import json as _json
    claim = good_claim(policy_number="PAU-8888888")
    raw = _json.dumps(claim).encode()
    with web_app.server.app_context():
        with unit_of_work() as session:
            owner = api_tokens.authenticate(session, writer)
            idempotency.claim(session, owner.id, "in-flight-1", method="POST", path="/api/v1/claims",
                              body_hash=idempotency.request_hash("POST", "/api/v1/claims", raw))
    response = client.post("/api/v1/claims", data=raw, content_type="application/json",
                           headers=auth(writer, **{"Idempotency-Key": "in-flight-1"}))
    assert response.status_code == 409
    assert count(web_app, select(func.count()).select_from(Claim).where(Claim.policy_number == "PAU-8888888")) == 0


def test_token_is_shown_once_and_stored_hashed(web_app):
    token = make_token(web_app, "adjuster@scope.example", ["claims:read"])
    assert token.startswith("scope_") and len(token) > 40
    with web_app.server.app_context():
        from db.flask_db import read_session
        s = read_session()
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == hashlib.sha256(token.encode()).hexdigest()))
        assert row is not None and row.prefix == token[:12]
        dump = s.execute(text("SELECT string_agg(t::text, '') FROM api_tokens t")).scalar()
        audit = s.execute(text("SELECT string_agg(a::text, '') FROM audit_log a")).scalar()
        assert token not in dump and token not in audit
        assert all(token not in str(t) for t in api_tokens.list_tokens(s, row))


def test_missing_bad_revoked_and_expired_tokens_get_401(web_app, client):
    assert client.get("/api/v1/queues/AUTO_PD").status_code == 401
    assert client.get("/api/v1/queues/AUTO_PD", headers=auth("scope_nope")).status_code == 401
    token = make_token(web_app, "manager@scope.example", ["queues:read"])
    assert client.get("/api/v1/queues/AUTO_PD", headers=auth(token)).status_code == 200
    with web_app.server.app_context():
        with unit_of_work() as session:
            owner = api_tokens.authenticate(session, token)
            api_tokens.revoke_token(session, owner.user, owner.token_id)
    response = client.get("/api/v1/queues/AUTO_PD", headers=auth(token))
    assert response.status_code == 401 and response.get_json()["error"]
    expired = make_token(web_app, "manager@scope.example", ["queues:read"],
                         expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1))
    with web_app.server.app_context():
        from db.flask_db import read_session
        assert api_tokens.authenticate(read_session(), expired,
                                       now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)) is None


def test_an_expired_tokens_401_says_it_expired_and_when(web_app, client):
    token = make_token(web_app, "manager@scope.example", ["queues:read"],
                       expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
    assert client.get("/api/v1/queues/AUTO_PD", headers=auth(token)).status_code == 200
    ended = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.timezone.utc)
    with web_app.server.app_context():
        with unit_of_work() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == api_tokens.hash_token(token)))
            row.expires_at = ended
    response = client.get("/api/v1/queues/AUTO_PD", headers=auth(token))
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"].startswith("this token expired on 2026-01-02 03:04 UTC")
    # an unknown token is not told anything about expiry
    response = client.get("/api/v1/queues/AUTO_PD", headers=auth("scope_" + "x" * 43))
    assert response.status_code == 401 and "expired on" not in response.get_json()["error"]


def test_tokens_expire_after_90_days_unless_asked_and_never_only_when_asked():
    now = dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc)
    assert api_tokens.expiry_for_days(api_tokens.DEFAULT_EXPIRY_DAYS, now=now) == now + dt.timedelta(days=90)
    assert api_tokens.expiry_for_days("365", now=now) == now + dt.timedelta(days=365)
    assert api_tokens.expiry_for_days(0, now=now) is None
    for bad in (-1, "-1", 3651, "abc", "", None, 1.5, True):
        with pytest.raises(api_tokens.TokenError):
            api_tokens.expiry_for_days(bad, now=now)


def test_missing_scope_is_403(web_app, client):
    token = make_token(web_app, "manager@scope.example", ["claims:read"])
    response = client.post("/api/v1/claims", json=good_claim(), headers=auth(token))
    assert response.status_code == 403 and "claims:write" in response.get_json()["error"]
    assert client.get("/api/v1/queues/AUTO_PD", headers=auth(token)).status_code == 403


def test_scopes_never_exceed_the_role(web_app):
    with web_app.server.app_context():
        with unit_of_work() as session:
            viewer = session.scalar(select(User).where(User.email == "viewer@scope.example"))
            with pytest.raises(api_tokens.TokenError, match="cannot grant claims:write"):
                api_tokens.create_token(session, viewer, name="nope", scopes=["claims:write"])
            with pytest.raises(api_tokens.TokenError, match="unknown scope"):
                api_tokens.create_token(session, viewer, name="nope", scopes=["admin"])


def test_adjuster_token_sees_only_its_departments(web_app, client):
    token = make_token(web_app, "adjuster@scope.example", ["claims:read", "queues:read"])
    with web_app.server.app_context():
        from db.flask_db import read_session
        from db.models import Department
        s = read_session()
        outside = s.scalar(select(Claim.claim_number).join(Department, Department.id == Claim.department_id)
                           .where(Department.code == "WORKERS_COMP").limit(1))
        inside = s.scalar(select(Claim.claim_number).join(Department, Department.id == Claim.department_id)
                          .where(Department.code == "AUTO_PD").limit(1))
    response = client.get(f"/api/v1/claims/{outside}", headers=auth(token))
    assert response.status_code == 404 and outside not in response.get_data(as_text=True)
    assert client.get(f"/api/v1/claims/{inside}", headers=auth(token)).status_code == 200
    assert client.get("/api/v1/queues/WORKERS_COMP", headers=auth(token)).status_code == 403
    page = client.get("/api/v1/queues/AUTO_PD?limit=5&offset=0", headers=auth(token))
    assert page.status_code == 200 and len(page.get_json()["claims"]) <= 5
    assert client.get("/api/v1/queues/AUTO_PD?limit=abc", headers=auth(token)).status_code == 422
    assert client.get("/api/v1/queues/NOPE", headers=auth(token)).status_code == 404


def test_body_limit_and_malformed_json(client, writer):
    big = b'{"description": "' + b"x" * 1_100_000 + b'"}'
    response = client.post("/api/v1/claims", data=big, content_type="application/json", headers=auth(writer))
    assert response.status_code == 413 and response.is_json
    for raw in (b"{not json", b'{"claimed_amount": NaN}', b"\xff\xfe", b"[" * 100_000):
        response = client.post("/api/v1/claims", data=raw, content_type="application/json", headers=auth(writer))
        assert response.status_code == 400, raw[:20]
        assert response.get_json() == {"error": "malformed JSON body"}
    response = client.post("/api/v1/claims", json=[1, 2], headers=auth(writer))
    assert response.status_code == 422 and "Traceback" not in response.get_data(as_text=True)
    response = client.post("/api/v1/claims/batch", json=[good_claim()], headers=auth(writer))
    assert response.status_code == 422


def test_openapi_matches_the_routes_and_the_validator(web_app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    actual = set()
    for rule in web_app.server.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])  # <int:id> -> {id}
            actual |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == actual
    schema = doc["components"]["schemas"]["ClaimInput"]
    assert schema["additionalProperties"] is False
    _, errors = intake.validate({})
    required_by_validator = {f for f, m in errors.items() if m == "is required"}
    assert set(schema["required"]) == required_by_validator
    assert set(schema["properties"]) == {f.name for f in intake.FIELDS} | {"parties"}
    party = schema["properties"]["parties"]["items"]
    assert party["required"] == ["role"] and party["additionalProperties"] is False
    assert set(party["properties"]) == {"role", *(key for key, *_ in intake_parties.FIELDS)}
    assert "bearer" in doc["components"]["securitySchemes"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path != "/openapi.json":
                assert {"401", "403"} <= set(op["responses"]), (path, method)
