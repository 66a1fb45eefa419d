"""REST API review findings: text and numbers PostgreSQL cannot store, strict JSON types,
ASCII-only query numbers, paging past the grid's offset cap, rate limits for made-up
tokens, 405 for a known path, and messages that name the actual problem."""
from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import func, select

from db.models import Claim, Department, IdempotencyKey
from services import intake
from services.queues import OPEN_STATUSES
from tests.integration.test_api import auth, count, good_claim


def _post(client, path, body, token, **headers):
    # json.dumps writes infinity as Infinity (refused as malformed); a client sends 1e400 itself.
    raw = json.dumps(body).replace('"<1e400>"', "1e400").replace('"<-1e400>"', "-1e400").encode()
    return client.post(path, data=raw, content_type="application/json", headers=auth(token, **headers))


def _claims_with_policy(web_app, policy: str) -> int:
    return count(web_app, select(func.count()).select_from(Claim).where(Claim.policy_number == policy))


@pytest.mark.parametrize("change, field, message", [
    ({"vehicle_count": "<1e400>"}, "vehicle_count", "must be between 0 and 50"),
    ({"vehicle_count": "<-1e400>"}, "vehicle_count", "must be between 0 and 50"),
    ({"claimed_amount": "<1e400>"}, "claimed_amount", "must be less than 100,000,000"),
    ({"description": "Windshield cracked \u0000 by a stone"}, "description", "must not contain NUL"),
    ({"description": "Windshield cracked \ud800 by a stone"}, "description", "unpaired surrogate"),
    ({"postcode": "9021\u0000"}, "postcode", "must not contain NUL"),
    ({"catastrophe_code": "\udfff"}, "catastrophe_code", "unpaired surrogate"),
    ({"weather": "ra\u0000in"}, "weather", "must be one of"),
    ({"state": "ca"}, "state", "must be a two-letter US state code in capitals, like CA"),
])
def test_unstorable_values_get_422_and_nothing_is_written(web_app, client, writer, change, field, message):
    policy = "PAU-4000001"
    for key in (None, f"review-{field}-{abs(hash(json.dumps(change)))}"):
        headers = {"Idempotency-Key": key} if key else {}
        response = _post(client, "/api/v1/claims", good_claim(policy_number=policy, **change), writer, **headers)
        assert response.status_code == 422, response.get_data(as_text=True)
        assert message in response.get_json()["fields"][field]
    batch = _post(client, "/api/v1/claims/batch", {"claims": [good_claim(policy_number=policy),
                                                              good_claim(policy_number=policy, **change)]}, writer)
    assert batch.status_code == 422 and message in batch.get_json()["fields"]["1"][field]
    assert _claims_with_policy(web_app, policy) == 0


@pytest.mark.parametrize("name, shown", [("a\u0000b", "a\\x00b"), ("\ud800", "\\ud800"), ("x" * 61, "_")])
def test_unknown_field_names_that_cannot_be_stored_are_named_escaped(web_app, client, writer, name, shown):
    key = f"review-name-{len(name)}-{ord(name[0])}"
    first = _post(client, "/api/v1/claims", {**good_claim(policy_number="PAU-4000002"), name: 1}, writer,
                  **{"Idempotency-Key": key})
    assert first.status_code == 422 and first.get_json()["fields"] == {shown: "is not a known field"}
    again = _post(client, "/api/v1/claims", {**good_claim(policy_number="PAU-4000002"), name: 1}, writer,
                  **{"Idempotency-Key": key})
    assert again.status_code == 422 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    assert _claims_with_policy(web_app, "PAU-4000002") == 0
    assert count(web_app, select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.key == key)) == 1


@pytest.mark.parametrize("change, field, message", [
    ({"claimed_amount": "850.5"}, "claimed_amount", "must be a number"),
    ({"claimed_amount": "  12 "}, "claimed_amount", "must be a number"),
    ({"claimed_amount": "1_000"}, "claimed_amount", "must be a number"),
    ({"claimed_amount": ""}, "claimed_amount", "must be a number"),
    ({"vehicle_count": "2"}, "vehicle_count", "must be a whole number"),
    ({"vehicle_count": ""}, "vehicle_count", "must be a whole number"),
    ({"vehicle_count": 2.5}, "vehicle_count", "must be a whole number"),
    ({"injury_reported": ""}, "injury_reported", "must be true or false"),
])
def test_numbers_must_be_json_numbers(web_app, client, writer, change, field, message):
    response = _post(client, "/api/v1/claims", good_claim(policy_number="PAU-4000003", **change), writer)
    assert response.status_code == 422 and response.get_json()["fields"] == {field: message}
    assert _claims_with_policy(web_app, "PAU-4000003") == 0


def test_the_form_keeps_reading_numbers_typed_as_text():
    clean, errors = intake.validate({**good_claim(), "claimed_amount": " 850.5 ", "vehicle_count": 2.0})
    assert errors == {} and str(clean["claimed_amount"]) == "850.50" and clean["vehicle_count"] == 2
    _, errors = intake.validate({**good_claim(), "claimed_amount": "1_000"})
    assert errors == {"claimed_amount": "must be a number"}
    _, errors = intake.validate({**good_claim(), "claimed_amount": "\u0661\u0662"})  # Arabic-Indic 12
    assert errors == {"claimed_amount": "must be a number"}


def test_documented_leniency_is_what_the_api_does(web_app, client, writer):
    doc = client.get("/api/v1/openapi.json").get_json()
    props = doc["components"]["schemas"]["ClaimInput"]["properties"]
    assert props["policy_number"]["pattern"] == intake.POLICY_INPUT_PATTERN
    assert "null" in props["weather"]["type"] and None in props["weather"]["enum"]
    assert "null" in props["vehicle_count"]["type"] and "null" not in props["policy_number"]["type"]
    assert "2.0 counts as 2" in props["vehicle_count"]["description"]
    claim = good_claim(policy_number="pau-4000004", vehicle_count=2.0)
    claim.update(weather=None, postcode=None)
    response = _post(client, "/api/v1/claims", claim, writer)
    assert response.status_code == 201, response.get_json()
    number = response.get_json()["claim"]["claim_number"]
    got = client.get(f"/api/v1/claims/{number}", headers=auth(writer)).get_json()
    assert got["policy_number"] == "PAU-4000004" and got["vehicle_count"] == 2 and got["weather"] is None


def test_every_operation_documents_429_with_retry_after(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "Retry-After" in op["responses"]["429"]["headers"], (path, method)
    queue = doc["paths"]["/queues/{department_code}"]["get"]
    assert "outside the departments" in queue["responses"]["403"]["description"]
    assert {p["name"] for p in queue["parameters"]} >= {"limit", "offset", "after"}


@pytest.mark.parametrize("query, name", [
    ("limit=%C2%B2", "limit"), ("limit=%E2%91%A0", "limit"), ("limit=%EF%BC%95", "limit"),
    ("limit=%D9%A5", "limit"), ("offset=%C2%B2", "offset"), ("offset=%D9%A1%D9%A0", "offset"),
    ("limit=+5", "limit"), ("offset=10001", "offset"), ("after=garbage", "after"),
    ("after=2026-02-30_5", "after"), ("offset=5&after=2026-01-01_5", "offset"),
])
def test_queue_query_numbers_are_ascii_digits_only(client, writer, query, name):
    response = client.get(f"/api/v1/queues/AUTO_GLASS?{query}", headers=auth(writer))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert set(response.get_json()["fields"]) == {name}


def test_paging_by_cursor_reaches_every_open_claim_past_the_offset_cap(web_app, client, writer, monkeypatch):
    # The real cap is 10,000; a small one shows the same thing on the test database's few claims.
    monkeypatch.setattr("services.queues.MAX_OFFSET", 10)
    monkeypatch.setattr("api.v1.queues.MAX_OFFSET", 10)
    with web_app.server.app_context():
        from db.flask_db import read_session
        s = read_session()
        expected = list(s.scalars(select(Claim.claim_number).join(Department, Department.id == Claim.department_id)
                                  .where(Department.code == "AUTO_PD", Claim.status.in_(OPEN_STATUSES))
                                  .order_by(Claim.report_date.desc(), Claim.id.desc())))
    assert len(expected) > 20
    first = client.get("/api/v1/queues/AUTO_PD?limit=6", headers=auth(writer)).get_json()
    assert first["total"] == len(expected) and first["total_estimated"] is False
    seen, page = [], first
    while True:
        seen += [c["claim_number"] for c in page["claims"]]
        if page["next"] is None:
            break
        page = client.get(f"/api/v1/queues/AUTO_PD?limit=6&after={page['next']}", headers=auth(writer)).get_json()
    assert seen == expected
    over = client.get("/api/v1/queues/AUTO_PD?offset=11", headers=auth(writer))
    assert over.status_code == 422 and "after" in over.get_json()["fields"]["offset"]
    by_offset = client.get("/api/v1/queues/AUTO_PD?offset=10&limit=5", headers=auth(writer)).get_json()
    assert [c["claim_number"] for c in by_offset["claims"]] == expected[10:15]


def test_made_up_tokens_are_limited_per_client_address(web_app, writer):
    settings = web_app.server.config["SCOPE_SETTINGS"]
    web_app.server.config["SCOPE_SETTINGS"] = dataclasses.replace(settings, api_rate_limit="5 per minute")
    try:
        attacker = web_app.server.test_client()
        attacker.environ_base["REMOTE_ADDR"] = "198.51.100.23"
        statuses = [attacker.get("/api/v1/queues/AUTO_PD", headers=auth(f"bogus-{i}")).status_code
                    for i in range(8)]
        assert statuses == [401] * 5 + [429] * 3
        limited = attacker.get("/api/v1/queues/AUTO_PD", headers=auth("bogus-x"))
        assert limited.is_json and int(limited.headers["Retry-After"]) > 0
        # The address waits even with a real token; another address is not affected.
        assert attacker.get("/api/v1/queues/AUTO_PD", headers=auth(writer)).status_code == 429
        other = web_app.server.test_client()
        other.environ_base["REMOTE_ADDR"] = "198.51.100.24"
        assert other.get("/api/v1/queues/AUTO_PD", headers=auth(writer)).status_code == 200
    finally:
        web_app.server.config["SCOPE_SETTINGS"] = settings


def test_known_path_with_another_method_is_405_with_allow(client, writer):
    response = client.put("/api/v1/claims/FNOL-00000001", headers=auth(writer))
    assert response.status_code == 405 and response.headers["Allow"].startswith("GET")
    assert "GET" in response.get_json()["error"]
    response = client.delete("/api/v1/claims", headers=auth(writer))
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert client.put("/api/v1/nothing", headers=auth(writer)).status_code == 404


def test_messages_name_the_actual_problem(web_app, client, writer):
    key = {"Idempotency-Key": "review-path-1"}
    first = _post(client, "/api/v1/claims", good_claim(state="ZZ"), writer, **key)
    assert first.status_code == 422
    assert first.get_json()["fields"]["state"] == "must be a two-letter US state code in capitals, like CA"
    other_path = _post(client, "/api/v1/claims/batch", {"claims": [good_claim(state="ZZ")]}, writer, **key)
    assert other_path.status_code == 422 and "for POST /api/v1/claims" in other_path.get_json()["error"]
    extra = _post(client, "/api/v1/claims/batch", {"claims": [good_claim(policy_number="PAU-4000005")], "extra": 1},
                  writer)
    assert extra.status_code == 422 and extra.get_json()["fields"] == {"extra": "is not a known field"}
    missing = _post(client, "/api/v1/claims/batch", {"items": []}, writer)
    assert missing.get_json()["fields"] == {"items": "is not a known field", "claims": "is required"}
    assert _claims_with_policy(web_app, "PAU-4000005") == 0
