"""Possible fraud rings: the linking rule, detection, storage, who sees what, the page."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Claim, FraudRing, Party
from services import fraud_rings
from services.fraud_rings import get_ring, is_link, list_rings, ring_of_claim
from tests.partyutil import make_claim, make_user, next_tag


@pytest.mark.parametrize(("field", "roles", "links"), [
    ("phone", ["claimant"], True),                      # two claimants, one phone
    ("bank_account", ["claimant", "repair_shop"], True),  # a claimant paid into a shop's account
    ("address", ["claimant"], False),                   # a household
    ("address", ["claimant", "repair_shop"], True),     # a claimant living at the shop
    ("phone", ["repair_shop"], False),                  # one shop on several claims: its trade
    ("provider_id", ["provider", "repair_shop"], False),
    ("email", ["attorney"], False),
    ("email", ["witness", "attorney"], True),
])
def test_which_shared_identifiers_link_claims(field, roles, links):
    assert is_link(field, roles) is links


@pytest.fixture()
def scene(db_session):
    """A ring of four (bank account and phone chains), a household pair, a shop's
    customers, and a pair: only the four make a ring."""
    t = f"{next_tag():05d}"
    bank, phone, shop = f"FRBANK{t}", f"777{t}01", f"777{t}99"
    a = make_claim(db_session, parties=[("claimant", {"bank_account": bank}), ("repair_shop", {"phone": shop})])
    b = make_claim(db_session, department="LIABILITY", status="closed", fraud=True,
               parties=[("claimant", {"bank_account": bank, "phone": phone})])
    c = make_claim(db_session, department="SIU", parties=[("witness", {"phone": phone})])
    d = make_claim(db_session, fraud=True, parties=[("repair_shop", {"bank_account": bank})])
    home = [make_claim(db_session, parties=[("claimant", {"address": f"1 HOUSEHOLD ST {t}"})]) for _ in range(3)]
    customers = [make_claim(db_session, parties=[("repair_shop", {"phone": shop})]) for _ in range(3)]
    pair = [make_claim(db_session, parties=[("insured", {"email": f"pair{t}@x.example"})]) for _ in range(2)]
    fraud_rings.refresh(db_session)
    return {"ring": [a, b, c, d], "home": home, "customers": customers, "pair": pair, "bank": bank,
            "phone": phone}


def _ring_with(session, claim) -> FraudRing | None:
    return session.scalar(select(FraudRing).where(FraudRing.claim_ids.contains([claim.id])))


def test_detection_finds_the_ring_and_nothing_else(db_session, scene):
    ring = _ring_with(db_session, scene["ring"][0])
    assert ring is not None and sorted(ring.claim_ids) == sorted(c.id for c in scene["ring"])
    assert ring.size == 4 and ring.key == scene["ring"][0].claim_number  # named by its earliest member
    assert {(k["field"], tuple(k["roles"])) for k in ring.links} == {
        ("bank_account", ("claimant", "repair_shop")), ("phone", ("claimant", "witness"))}
    for group in ("home", "customers", "pair"):
        assert all(_ring_with(db_session, c) is None for c in scene[group]), group


def test_refresh_replaces_the_rings_and_keeps_their_names(db_session, scene):
    first = {r.key: sorted(r.claim_ids) for r in db_session.scalars(select(FraudRing))}
    assert fraud_rings.refresh(db_session)["rings"] == len(first)
    assert {r.key: sorted(r.claim_ids) for r in db_session.scalars(select(FraudRing))} == first
    # The link that holds c breaks: the ring shrinks to the bank account's three claims.
    db_session.query(Party).filter(Party.claim_id == scene["ring"][2].id).delete()
    fraud_rings.refresh(db_session)
    ring = _ring_with(db_session, scene["ring"][0])
    assert sorted(ring.claim_ids) == sorted(c.id for c in scene["ring"] if c is not scene["ring"][2])


def test_manager_sees_the_whole_ring_with_its_links(db_session, scene):
    a, b, c, d = scene["ring"]
    view = get_ring(db_session, make_user(db_session, "manager"), a.claim_number)
    assert [x.claim_number for x in view.claims] == [x.claim_number for x in (a, b, c, d)]
    assert view.size == 4 and view.open_claims == 3 and view.claimed == 4000
    # A finding counts on a closed claim only; d's flag while open is not an outcome yet.
    assert view.confirmed == 1 and [x.fraud_label for x in view.claims] == [None, True, None, None]
    assert {(k.label, k.value) for k in view.links} == {("claimant / repair shop's bank account", scene["bank"]),
                                                         ("claimant / witness's phone", scene["phone"])}
    assert a.claim_number in {v.key for v in list_rings(db_session, make_user(db_session, "manager"))}


def test_adjuster_sees_only_their_departments_claims_and_no_ring_of_one(db_session, scene):
    a, b, c, d = scene["ring"]
    auto = make_user(db_session, "adjuster", ("AUTO_PD",))
    view = get_ring(db_session, auto, a.claim_number)
    assert [x.claim_number for x in view.claims] == [a.claim_number, d.claim_number] and view.size == 4
    # Links are shown only between claims the user can open.
    assert [k.field for k in view.links] == ["bank_account"] and view.links[0].claim_numbers == [
        a.claim_number, d.claim_number]
    siu = make_user(db_session, "adjuster", ("SIU",))
    assert get_ring(db_session, siu, a.claim_number) is None  # one claim of it: nothing to show
    assert a.claim_number not in {v.key for v in list_rings(db_session, siu)}
    assert ring_of_claim(db_session, auto, d.id).key == a.claim_number
    assert ring_of_claim(db_session, auto, scene["home"][0].id) is None


def test_viewer_sees_masked_identifiers(db_session, scene):
    view = get_ring(db_session, make_user(db_session, "viewer"), scene["ring"][0].claim_number)
    values = [k.value for k in view.links]
    assert scene["bank"] not in values and scene["phone"] not in values and all("•" in v for v in values)


@pytest.mark.parametrize("key", [None, "", "x" * 61, "FRT-\x00", 12, ["FRT-1"], "NO-SUCH-RING"])
def test_unknown_or_malformed_ring_keys(db_session, key):
    assert get_ring(db_session, make_user(db_session, "manager"), key) is None


def test_job_is_registered_and_reports_what_it_found(db_session, scene):
    from jobs.registry import JOBS

    outcome = JOBS["detect_rings"].fn(db_session, None)
    assert outcome["rows"] == db_session.query(FraudRing).count() >= 1
    assert outcome["detail"]["claims"] == sum(r.size for r in db_session.scalars(select(FraudRing)))


def test_demo_rings_are_the_generators_rings(web_app):
    """On the first-start database, the rings found are the injected ones (ground truth)."""
    from db.flask_db import read_session

    with web_app.server.app_context():
        session = read_session()
        found = {i for r in session.scalars(select(FraudRing)) for i in r.claim_ids}
        truth = dict(session.execute(select(Claim.id, Claim.fraud_ring).where(Claim.fraud_ring.isnot(None))).all())
        session.close()
    assert found, "the first start detects rings"
    precision = len(found & truth.keys()) / len(found)
    recall = len(found & truth.keys()) / len(truth)
    # Measured: 1.00 / 0.47 on these 1,500 claims, 0.995 / 0.77 on the 20,000 of the run command
    # (docs/fraud-rings.md). Rings tied only through a shop or an address are not found.
    assert precision >= 0.95 and recall >= 0.4, (precision, recall)


def test_rings_page_lists_and_opens_a_ring(web_app, client_for):
    from db.flask_db import read_session
    from tests.webutil import render_page

    with web_app.server.app_context():
        session = read_session()
        ring = session.scalar(select(FraudRing).order_by(FraudRing.size.desc()).limit(1))
        member = session.scalar(select(Claim.claim_number).where(Claim.id == ring.claim_ids[-1]))
        session.close()
    status, body = render_page(client_for("manager"), "/rings")
    assert status == 200 and "Possible fraud rings" in body and ring.key in body
    status, body = render_page(client_for("manager"), "/rings", f"?ring={ring.key}")
    assert status == 200 and f"Ring {ring.key}" in body and member in body and "ring-network" in body
    status, body = render_page(client_for("viewer"), "/rings", "?ring=NO-SUCH-RING")
    assert status == 200 and "Ring not found" in body
    # The claim page points to the ring.
    _, body = render_page(client_for("manager"), f"/claims/{member}")
    assert "Part of a possible fraud ring" in body and ring.key in body
