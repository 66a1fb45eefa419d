"""Possible fraud rings: the linking rule, detection, storage, who sees what, the page."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Claim, FraudRing, Party
from services import fraud_rings
from services.fraud_rings import get_ring, list_rings, ring_of_claim, shared_links
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
def test_which_shared_identifiers_link_claims(db_session, field, roles, links):
    """The rule as the database applies it: two claims, the first carrying the
    identifier in the first role, the second in the last one."""
    t = f"{next_tag():05d}"
    value = {"phone": f"555{t}00", "bank_account": f"RULEBANK{t}", "address": f"{t} RULE ST",
             "provider_id": f"RP{t}", "email": f"rule{t}@x.example"}[field]
    claims = [make_claim(db_session, parties=[(role, {field: value})]) for role in (roles[0], roles[-1])]
    found = [k for k in shared_links(db_session) if k["field"] == field and k["value"] == value]
    assert bool(found) is links
    if links:
        assert [c for c, _ in found[0]["claims"]] == sorted(c.id for c in claims)


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
    assert ring.size == 4 and ring.open_claims == 3 and ring.confirmed == 1 and float(ring.claimed_sum) == 4000
    # An opaque name: a claim number would name a claim some users may not open.
    assert ring.key.startswith("R-") and ring.key not in {c.claim_number for c in scene["ring"]}
    links = {(k["field"], tuple(sorted({r for _, roles in k["claims"] for r in roles}))) for k in ring.links}
    assert links == {("bank_account", ("claimant", "repair_shop")), ("phone", ("claimant", "witness"))}
    for group in ("home", "customers", "pair"):
        assert all(_ring_with(db_session, c) is None for c in scene[group]), group


def test_a_ring_keeps_its_name_from_run_to_run(db_session, scene):
    a, b, c, d = scene["ring"]
    key = _ring_with(db_session, a).key
    fraud_rings.refresh(db_session)
    assert _ring_with(db_session, a).key == key
    # An older claim joins (its witness used the same account): still the same ring, same name.
    older = make_claim(db_session, parties=[("witness", {"bank_account": scene["bank"]})])
    fraud_rings.refresh(db_session)
    assert _ring_with(db_session, older).key == key and get_ring(db_session, make_user(db_session, "manager"), key)
    # The link that holds c breaks: the ring shrinks, and keeps its name.
    db_session.query(Party).filter(Party.claim_id == c.id).delete()
    fraud_rings.refresh(db_session)
    ring = _ring_with(db_session, a)
    assert ring.key == key and sorted(ring.claim_ids) == sorted(x.id for x in (a, b, d, older))


def test_manager_sees_the_whole_ring_with_its_links(db_session, scene):
    a, b, c, d = scene["ring"]
    manager = make_user(db_session, "manager")
    key = _ring_with(db_session, a).key
    view = get_ring(db_session, manager, key)
    assert [x.claim_number for x in view.claims] == [x.claim_number for x in (a, b, c, d)]
    assert view.size == 4 and view.open_claims == 3 and view.claimed == 4000
    # A finding counts on a closed claim only; d's flag while open is not an outcome yet.
    assert view.confirmed == 1 and [x.fraud_label for x in view.claims] == [None, True, None, None]
    assert {(k.label, k.value) for k in view.links} == {("claimant / repair shop's bank account", scene["bank"]),
                                                         ("claimant / witness's phone", scene["phone"])}
    rings, total = list_rings(db_session, manager, limit=10_000)
    line = next(r for r in rings if r.key == key)
    assert (line.size, line.open_claims, line.confirmed, line.claimed) == (4, 3, 1, 4000.0) and total >= 1
    assert {name for name, _ in line.departments} == {"Auto Physical Damage", "Liability / Bodily Injury",
                                                      "Special Investigations"}


def test_others_see_a_ring_only_among_their_own_claims(db_session):
    """Nothing about claims outside a user's departments: not their number, not their
    count, not the roles on them, not the fact that they tie the user's claims together."""
    t = next_tag()
    bank, phone = f"FRB{t}", f"888{t}01"
    auto = [make_claim(db_session, parties=[("claimant", {"bank_account": bank})]) for _ in range(3)]
    for _ in range(3):
        make_claim(db_session, department="WORKERS_COMP", parties=[("repair_shop", {"bank_account": bank})])
    # Two Auto claims tied to each other only through a Liability claim.
    x = make_claim(db_session, department="LIABILITY", parties=[("claimant", {"phone": phone, "email": f"x{t}@e.x"})])
    p = make_claim(db_session, parties=[("claimant", {"phone": phone})])
    q = make_claim(db_session, parties=[("claimant", {"email": f"x{t}@e.x"})])
    fraud_rings.refresh(db_session)
    adjuster = make_user(db_session, "adjuster", ("AUTO_PD",))
    view = ring_of_claim(db_session, adjuster, auto[0].id)
    assert view.size == 3 and sorted(c.claim_number for c in view.claims) == sorted(c.claim_number for c in auto)
    assert [k.label for k in view.links] == ["claimant's bank account"]  # the shops are on hidden claims
    assert get_ring(db_session, adjuster, view.key).size == 3
    lines = {r.key: r for r in list_rings(db_session, adjuster, limit=10_000)[0]}
    assert lines[view.key].size == 3 and [n for n, _ in lines[view.key].departments] == ["Auto Physical Damage"]
    # p and q: a ring of three for a manager, nothing for the adjuster (x ties them).
    key = _ring_with(db_session, x).key
    assert get_ring(db_session, make_user(db_session, "manager"), key).size == 3
    assert get_ring(db_session, adjuster, key) is None and key not in lines
    assert ring_of_claim(db_session, adjuster, p.id) is None and ring_of_claim(db_session, adjuster, q.id) is None


def test_viewer_sees_masked_identifiers(db_session, scene):
    view = get_ring(db_session, make_user(db_session, "viewer"), _ring_with(db_session, scene["ring"][0]).key)
    values = [k.value for k in view.links]
    assert scene["bank"] not in values and scene["phone"] not in values and all("•" in v for v in values)


@pytest.mark.parametrize("key", [None, "", "x" * 21, "R-\x00", 12, ["R-1"], "NO-SUCH-RING"])
def test_unknown_or_malformed_ring_keys(db_session, key):
    assert get_ring(db_session, make_user(db_session, "manager"), key) is None


def test_ring_links_carry_any_key_through_the_address_bar():
    from urllib.parse import parse_qs, urlsplit

    from components.rings import ring_href

    for key in ("R-000042", "A&B+1 #2%"):
        assert parse_qs(urlsplit(ring_href(key)).query)["ring"] == [key]


def test_detection_time_comes_from_the_job_even_when_it_found_nothing(db_session):
    import datetime as dt

    from db.models import JobRun

    when = dt.datetime(2031, 1, 2, 3, 4, tzinfo=dt.timezone.utc)  # later than any real run
    db_session.add(JobRun(job="detect_rings", slot=f"test-{next_tag()}", status="succeeded", started_at=when,
                          finished_at=when, rows=0))
    db_session.add(JobRun(job="detect_rings", slot=f"test-{next_tag()}", status="failed", started_at=when,
                          finished_at=when + dt.timedelta(hours=1)))
    db_session.flush()
    assert fraud_rings.last_detected(db_session) == when


def test_a_chain_longer_than_a_ring_is_not_stored(db_session, monkeypatch):
    monkeypatch.setattr(fraud_rings, "MAX_CLAIMS", 4)
    t = next_tag()
    chain = [make_claim(db_session, parties=[("claimant", {"phone": f"889{t}{i:02d}"}),
                                             ("witness", {"phone": f"889{t}{i + 1:02d}"})]) for i in range(6)]
    result = fraud_rings.refresh(db_session)
    assert _ring_with(db_session, chain[0]) is None and result["too_large"] >= 1


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
        ring = session.scalar(select(FraudRing).order_by(FraudRing.size.desc(), FraudRing.key).limit(1))
        member = session.scalar(select(Claim.claim_number).where(Claim.id == ring.claim_ids[-1]))
        session.close()
    status, body = render_page(client_for("manager"), "/rings")
    assert status == 200 and "Possible fraud rings" in body and ring.key in body
    status, body = render_page(client_for("manager"), "/rings", f"?ring={ring.key}")
    assert "Detected" in body  # the first start ran the job
    assert status == 200 and f"Ring {ring.key}" in body and member in body and "ring-network" in body
    status, body = render_page(client_for("viewer"), "/rings", "?ring=NO-SUCH-RING")
    assert status == 200 and "Ring not found" in body
    # The claim page points to the ring.
    _, body = render_page(client_for("manager"), f"/claims/{member}")
    assert "Part of a possible fraud ring" in body and ring.key in body
