"""People and businesses named at first notice (form and API): validated, stored
normalised with the claim in one transaction, and linking it to earlier claims."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from auth.current import SessionUser
from db.models import Claim, Party, User
from services import intake_parties
from services.linked_claims import linked_claims
from tests.integration.test_api import auth, good_claim
from tests.integration.test_intake import form_values, submit_form


def _read(web_app, fn):
    with web_app.server.app_context():
        from db.flask_db import read_session
        return fn(read_session())


def _parties_of(web_app, number: str) -> list[tuple]:
    return _read(web_app, lambda s: s.execute(
        select(Party.role, Party.name, Party.phone, Party.email, Party.address, Party.bank_account, Party.plate,
               Party.vin, Party.provider_id)
        .join(Claim, Claim.id == Party.claim_id).where(Claim.claim_number == number).order_by(Party.id)).all())


def test_api_stores_parties_normalised_with_the_claim(web_app, writer):
    client = web_app.server.test_client()
    body = good_claim(parties=[
        {"role": "claimant", "name": "  Ana   Silva ", "phone": "+1 (555) 010-2030", "email": "Ana.Silva@Example.COM",
         "address": "12 Elm St., Apt #4, Springfield"},
        {"role": "repair_shop", "name": "Elm Body Works", "bank_account": "us30 bofa 0001 2345 67",
         "plate": "7abc-123", "vin": "1hgcm82633a004352"},
    ])
    response = client.post("/api/v1/claims", json=body, headers=auth(writer))
    assert response.status_code == 201, response.get_json()
    number = response.get_json()["claim"]["claim_number"]
    assert _parties_of(web_app, number) == [
        ("claimant", "Ana Silva", "5550102030", "ana.silva@example.com", "12 ELM ST APT 4 SPRINGFIELD", None, None,
         None, None),
        ("repair_shop", "Elm Body Works", None, None, None, "US30BOFA0001234567", "7ABC123", "1HGCM82633A004352",
         None),
    ]


@pytest.mark.parametrize("parties, field, message", [
    ([{"role": "claimant", "phone": "555-01"}], "parties[0].phone", "must have 7 to 15 digits"),
    ([{"role": "claimant", "phone": "call me"}], "parties[0].phone", "must have 7 to 15 digits"),
    ([{"role": "claimant", "email": "ana@"}], "parties[0].email", "must look like name@example.com"),
    ([{"role": "driver", "vin": "1HGCM82633A00435O"}], "parties[0].vin", "must be 17 letters and digits (no I, O or Q)"),
    ([{"role": "pilot", "name": "Ana"}], "parties[0].role", "must be one of " + ", ".join(intake_parties.ROLES)),
    ([{"role": "witness"}], "parties[0]", "needs a name or at least one identifier"),
    ([{"role": "witness", "name": "Bo", "shoe_size": "9"}], "parties[0].shoe_size", "is not a known field"),
    ([{"role": "witness", "name": 42}], "parties[0].name", "must be text"),
    ([{"role": "witness", "name": "Bo\x00"}], "parties[0].name", "must not contain control characters"),
    ([{"role": "witness", "name": "x" * 161}], "parties[0].name", "must be at most 160 characters"),
    ([{"role": "driver", "plate": "ß" * 9}], "parties[0].plate", "must be at most 16 characters once normalised"),
    ([{"role": "repair_shop", "bank_account": "GB" + "1" * 48}], "parties[0].bank_account",
     "must be at most 40 characters once normalised"),
    ([{"role": "driver", "vin": "x" * 33}], "parties[0].vin", "must be at most 32 characters"),
    ([{"role": "witness", "name": "Bo"}] * 21, "parties", "at most 20 per claim"),
    ({"role": "witness"}, "parties", "must be a list of people and businesses"),
    (["Bo"], "parties[0]", "must be an object with a role and a name or identifiers"),
])
def test_api_refuses_bad_parties_and_stores_nothing(web_app, writer, parties, field, message):
    client = web_app.server.test_client()
    before = _read(web_app, lambda s: s.scalar(select(func.count()).select_from(Claim)))
    response = client.post("/api/v1/claims", json=good_claim(parties=parties), headers=auth(writer))
    assert response.status_code == 422
    assert response.get_json()["fields"].get(field) == message, response.get_json()
    assert _read(web_app, lambda s: s.scalar(select(func.count()).select_from(Claim))) == before


def test_a_batch_with_one_bad_party_stores_no_claim(web_app, writer):
    client = web_app.server.test_client()
    before = _read(web_app, lambda s: (s.scalar(select(func.count()).select_from(Claim)),
                                       s.scalar(select(func.count()).select_from(Party))))
    items = [good_claim(parties=[{"role": "claimant", "name": "Ok Person", "phone": "5550109999"}]),
             good_claim(parties=[{"role": "claimant", "phone": "12"}])]
    response = client.post("/api/v1/claims/batch", json={"claims": items}, headers=auth(writer))
    assert response.status_code == 422
    assert response.get_json()["fields"]["1"] == {"parties[0].phone": "must have 7 to 15 digits"}
    assert _read(web_app, lambda s: (s.scalar(select(func.count()).select_from(Claim)),
                                     s.scalar(select(func.count()).select_from(Party)))) == before


def test_form_stores_filled_slots_and_skips_empty_ones(web_app, client_for):
    status, response = submit_form(web_app, client_for("adjuster"), form_values(policy_number="PWC-1112223"), {
        (0, "name"): "Dee Park", (0, "phone"): "555 010 7788",
        (1, "role"): "witness", (1, "name"): "Lee Moss",
        (2, "role"): "provider",  # a role alone: an untouched slot, not a party
    })
    assert status == 200
    number = re.search(r"FNOL-\d{8}", json.dumps(response["intake-result"])).group(0)
    assert [(r[0], r[1], r[2]) for r in _parties_of(web_app, number)] == [
        ("claimant", "Dee Park", "5550107788"), ("witness", "Lee Moss", None)]
    # The form starts again: the first slot back to Claimant, the others empty.
    assert response["intake-party-0-role"]["value"] == "claimant"
    assert response["intake-party-0-name"]["value"] is None and response["intake-party-1-role"]["value"] is None


def test_form_marks_a_bad_party_field_and_stores_nothing(web_app, client_for):
    status, response = submit_form(web_app, client_for("adjuster"), form_values(policy_number="PWC-4445556"), {
        (0, "name"): "Dee Park", (2, "name"): "Shop Without Role", (2, "phone"): "12"})
    assert status == 200
    assert response["intake-party-2-phone"]["invalid"] is True
    assert response["intake-party-2-role"]["invalid"] is True
    assert response["intake-party-0-name"]["invalid"] is False
    lines = json.dumps(response["intake-parties-feedback"]["children"])
    assert "Person or business 3: Phone must have 7 to 15 digits" in lines
    assert "Person or business 3: Role is required: choose one" in lines
    assert response["intake-parties-more"]["open"] is True  # the slot with the error is shown
    assert "nothing was stored" in json.dumps(response["intake-result"])
    assert _read(web_app, lambda s: s.scalar(select(func.count()).select_from(Claim)
                                             .where(Claim.policy_number == "PWC-4445556"))) == 0


def test_a_new_claim_links_to_an_earlier_one_through_a_shared_phone(web_app, writer):
    """The reason parties are asked for at intake: the new claim is linked at once."""
    client = web_app.server.test_client()
    phone = "5550142857"
    numbers = []
    for name in ("Ria Holt", "Ria Holt-Baker"):
        response = client.post("/api/v1/claims", json=good_claim(parties=[
            {"role": "claimant", "name": name, "phone": f"+1 555-014-{phone[-4:]}"}]), headers=auth(writer))
        assert response.status_code == 201
        numbers.append(response.get_json()["claim"]["claim_number"])

    def links(session):
        manager = session.scalar(select(User).where(User.email == "manager@scope.example"))
        claim = session.scalar(select(Claim).where(Claim.claim_number == numbers[1]))
        return linked_claims(session, SessionUser.from_model(manager), claim)

    found = _read(web_app, links)
    assert [c.claim_number for c in found.claims] == [numbers[0]]
    assert [(s.field, s.value) for s in found.claims[0].shared] == [("phone", phone)]


def test_identifiers_may_be_typed_with_separators_longer_than_they_are_stored():
    cleaned, errors = intake_parties.validate([
        {"role": "driver", "vin": "1HG-CM826-33A004352"},
        {"role": "repair_shop", "bank_account": "GB82 WEST 1234 5698 7654 32 0000 0000 0000 00"}])
    assert errors == {}
    assert cleaned[0]["vin"] == "1HGCM82633A004352"
    assert cleaned[1]["bank_account"] == "GB82WEST1234569876543200000000000000"
    assert intake_parties.WORDS["vin"] == "VIN" and intake_parties.WORDS["plate"] == "licence plate"
