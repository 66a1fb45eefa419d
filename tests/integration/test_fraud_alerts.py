"""Fraud alerts: which claims are raised and why, the refer / dismiss / flag
decisions, their guards, who sees which signals, the job and the pages."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from db.models import AuditLog, Claim, ClaimEvent, Department, FraudAlert, ModelVersion, RoutingDecision
from services import fraud_alerts, fraud_rings
from services.access import AccessDenied, NotFound
from services.fraud_alerts import AlertConflict, AlertError
from tests.partyutil import make_claim, make_user, next_tag

_seq = itertools.count(1)


def _decide_siu(session, claim, p_siu: float):
    """A routing decision giving Special Investigations ``p_siu``."""
    dept_id = session.scalar(select(Department.id).where(Department.code == "AUTO_PD"))
    mv = ModelVersion(dataset=claim.dataset, version=f"fatest-{next(_seq)}-{claim.id}", status="candidate",
                      params={}, feature_schema={}, classes=["AUTO_PD", "SIU"], metrics={}, n_train=0, n_holdout=0,
                      artifact=b"")
    session.add(mv)
    session.flush()
    session.add(RoutingDecision(claim_id=claim.id, model_version_id=mv.id, predicted_department_id=dept_id,
                                routed_department_id=dept_id, probabilities={"AUTO_PD": 1 - p_siu, "SIU": p_siu},
                                confidence=max(p_siu, 1 - p_siu), threshold=0.5, features={}, shap_values={},
                                shap_method="exact", drivers=[]))
    session.flush()


def _alert(session, claim) -> FraudAlert | None:
    return session.scalar(select(FraudAlert).where(FraudAlert.claim_id == claim.id)
                          .execution_options(populate_existing=True))


def _kinds(alert) -> set[str]:
    return {s["kind"] for s in alert.signals}


@pytest.fixture()
def scene(db_session):
    """A ring of three open claims, an open claim sharing a bank account with a
    closed fraudulent one, a claim the router leans to SIU on, one below the
    threshold, a ring member already in SIU and a closed ring member."""
    t = f"{next_tag():05d}"
    phone, bank = f"666{t}01", f"FABANK{t}"
    ring = [make_claim(db_session, parties=[("claimant", {"phone": phone})]) for _ in range(3)]
    in_siu = make_claim(db_session, department="SIU", parties=[("witness", {"phone": phone})])
    closed = make_claim(db_session, status="closed", fraud=False, parties=[("driver", {"phone": phone})])
    fraud = make_claim(db_session, department="LIABILITY", status="closed", fraud=True,
                       parties=[("claimant", {"bank_account": bank})])
    linked = make_claim(db_session, department="LIABILITY", parties=[("payee", {"bank_account": bank})])
    leaning, low = make_claim(db_session), make_claim(db_session)
    _decide_siu(db_session, leaning, 0.35)
    _decide_siu(db_session, low, 0.05)
    fraud_rings.refresh(db_session)
    result = fraud_alerts.refresh(db_session)
    return {"ring": ring, "in_siu": in_siu, "closed": closed, "fraud": fraud, "linked": linked, "bank": bank,
            "leaning": leaning, "low": low, "result": result}


def test_alerts_are_raised_for_each_kind_of_signal_and_nothing_else(db_session, scene):
    for c in scene["ring"]:
        alert = _alert(db_session, c)
        assert alert.status == "open" and _kinds(alert) == {"ring"}
    linked = _alert(db_session, scene["linked"])
    assert _kinds(linked) == {"linked_fraud"}
    assert linked.signals[0]["claims"] == [[scene["fraud"].id, ["bank_account"]]]
    leaning = _alert(db_session, scene["leaning"])
    assert _kinds(leaning) == {"model"} and leaning.siu_probability == pytest.approx(0.35)
    # Already with SIU, closed, the fraudulent claim itself, or below the threshold: no alert.
    for name in ("in_siu", "closed", "fraud", "low"):
        assert _alert(db_session, scene[name]) is None, name


def test_running_the_job_again_changes_nothing(db_session, scene):
    before = {a.id: (a.version, a.status) for a in db_session.scalars(select(FraudAlert))}
    again = fraud_alerts.refresh(db_session)
    assert again["raised"] == again["reopened"] == again["withdrawn"] == 0
    assert {a.id: (a.version, a.status) for a in db_session.scalars(
        select(FraudAlert).execution_options(populate_existing=True))} == before


def test_an_alert_is_withdrawn_when_its_claim_closes(db_session, scene):
    claim = scene["leaning"]
    claim.status = "closed"
    db_session.flush()
    assert fraud_alerts.refresh(db_session)["withdrawn"] >= 1
    assert _alert(db_session, claim).status == "withdrawn"
    claim.status = "assigned"  # reopened claims with the signal come back
    db_session.flush()
    fraud_alerts.refresh(db_session)
    assert _alert(db_session, claim).status == "open"


def test_a_manager_refers_the_claim_to_siu(db_session, scene):
    manager = make_user(db_session, "manager")
    claim, alert = scene["linked"], _alert(db_session, scene["linked"])
    fraud_alerts.refer(db_session, manager, alert.id, alert.version, "Same account as the staged claim")
    alert = _alert(db_session, claim)
    db_session.refresh(claim)
    siu = db_session.scalar(select(Department).where(Department.code == "SIU"))
    assert alert.status == "referred" and alert.decided_by == manager.id
    assert claim.department_id == siu.id and claim.status == "new" and claim.adjuster_id is None
    move = db_session.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id, ClaimEvent.kind == "moved"))
    assert move.reason == "SIU_REFERRAL" and "Linked to fraud" in move.note and "staged claim" in move.note
    actions = set(db_session.scalars(select(AuditLog.action).where(AuditLog.actor_id == manager.id)))
    assert {"claim.reassign", "fraud_alert.refer"} <= actions
    # In SIU now: the next run leaves it alone.
    fraud_alerts.refresh(db_session)
    assert _alert(db_session, claim).status == "referred"


def test_a_dismissed_alert_returns_only_for_a_new_kind_of_signal(db_session, scene):
    manager = make_user(db_session, "manager")
    claim = scene["leaning"]
    alert = _alert(db_session, claim)
    with pytest.raises(AlertError, match="Say why"):
        fraud_alerts.dismiss(db_session, manager, alert.id, alert.version, "  ")
    fraud_alerts.dismiss(db_session, manager, alert.id, alert.version, "Checked the photos: genuine")
    assert _alert(db_session, claim).status == "dismissed"
    event = db_session.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id,
                                                       ClaimEvent.kind == "fraud_dismissed"))
    assert event.note == "Checked the photos: genuine"
    _decide_siu(db_session, claim, 0.6)  # the same kind of signal, stronger
    fraud_alerts.refresh(db_session)
    assert _alert(db_session, claim).status == "dismissed"
    # A new kind: the claim now shares a bank account with a claim found fraudulent.
    from db.models import Party

    db_session.add(Party(claim_id=claim.id, role="claimant", name="X",
                         bank_account=scene["bank"]))
    db_session.flush()
    assert fraud_alerts.refresh(db_session)["reopened"] >= 1
    assert _alert(db_session, claim).status == "open" and _kinds(_alert(db_session, claim)) == {"model",
                                                                                               "linked_fraud"}


def test_decisions_are_guarded(db_session, scene):
    manager, adjuster = make_user(db_session, "manager"), make_user(db_session, "adjuster", ("AUTO_PD",))
    alert = _alert(db_session, scene["leaning"])
    with pytest.raises(AccessDenied):
        fraud_alerts.refer(db_session, adjuster, alert.id, alert.version)
    with pytest.raises(AccessDenied):
        fraud_alerts.dismiss(db_session, make_user(db_session, "viewer"), alert.id, alert.version, "no")
    with pytest.raises(AlertConflict, match="since you loaded it"):
        fraud_alerts.refer(db_session, manager, alert.id, alert.version + 1)
    for bad in (None, True, "1", -1, 2**63, 10**12):
        with pytest.raises(NotFound):
            fraud_alerts.refer(db_session, manager, bad, alert.version)
    for bad in (None, True, "2", 0):
        with pytest.raises(AlertError):
            fraud_alerts.refer(db_session, manager, alert.id, bad)
    with pytest.raises(AlertError, match="too long"):
        fraud_alerts.dismiss(db_session, manager, alert.id, alert.version, "x" * 1001)
    fraud_alerts.dismiss(db_session, manager, alert.id, alert.version, "fine")
    decided = _alert(db_session, scene["leaning"])
    with pytest.raises(AlertError, match="not open"):
        fraud_alerts.refer(db_session, manager, decided.id, decided.version)
    assert db_session.get(Claim, scene["leaning"].id).department_id != \
        db_session.scalar(select(Department.id).where(Department.code == "SIU"))


def test_an_adjuster_flags_a_claim_and_the_flag_outlives_the_job(db_session):
    adjuster = make_user(db_session, "adjuster", ("AUTO_PD",))
    claim = make_claim(db_session)
    with pytest.raises(AlertError, match="Say why"):
        fraud_alerts.flag(db_session, adjuster, claim.id, "")
    fraud_alerts.flag(db_session, adjuster, claim.id, "Story changed between calls")
    alert = _alert(db_session, claim)
    assert alert.status == "open" and alert.signals[0]["by"] == adjuster.id
    assert alert.signals[0]["note"] == "Story changed between calls"
    fraud_alerts.refresh(db_session)  # no system signal, but a person asked: it stays
    assert _alert(db_session, claim).status == "open"
    view = fraud_alerts.alert_of_claim(db_session, adjuster, claim.id)
    assert view.signals[0].kind == "flagged" and "Story changed" in view.signals[0].text
    history = db_session.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id,
                                                         ClaimEvent.kind == "fraud_flag"))
    assert history.actor_id == adjuster.id
    claim.status = "closed"
    db_session.flush()
    fraud_alerts.refresh(db_session)
    assert _alert(db_session, claim).status == "withdrawn"


def test_flagging_is_guarded(db_session):
    adjuster = make_user(db_session, "adjuster", ("AUTO_PD",))
    other = make_claim(db_session, department="PROPERTY")
    with pytest.raises(NotFound):
        fraud_alerts.flag(db_session, adjuster, other.id, "looks odd")
    with pytest.raises(AccessDenied):
        fraud_alerts.flag(db_session, make_user(db_session, "viewer"), other.id, "looks odd")
    with pytest.raises(AlertError, match="Closed"):
        fraud_alerts.flag(db_session, adjuster, make_claim(db_session, status="closed").id, "looks odd")
    manager = make_user(db_session, "manager")
    with pytest.raises(AlertError, match="already with Special Investigations"):
        fraud_alerts.flag(db_session, manager, make_claim(db_session, department="SIU").id, "looks odd")
    for bad in (None, "7", True, 0):
        with pytest.raises(NotFound):
            fraud_alerts.flag(db_session, adjuster, bad, "looks odd")
    assert _alert(db_session, other) is None


def test_others_see_only_their_departments_and_the_signals_they_could_learn(db_session, scene):
    auto = make_user(db_session, "adjuster", ("AUTO_PD",))
    liability = make_user(db_session, "adjuster", ("LIABILITY",))
    manager = make_user(db_session, "manager")
    seen = {a.claim_id for a in fraud_alerts.list_alerts(db_session, auto, limit=10_000)[0]}
    assert {c.id for c in scene["ring"]} | {scene["leaning"].id} <= seen
    assert scene["linked"].id not in seen
    # The Liability adjuster sees the linked claim and the fraudulent claim it names (both Liability).
    view = fraud_alerts.alert_of_claim(db_session, liability, scene["linked"].id)
    assert [s.claims[0][0] for s in view.signals] == [scene["fraud"].claim_number]
    # Moved to Property, the fraudulent claim is hidden from the Liability adjuster, and the alert with it.
    scene["fraud"].department_id = db_session.scalar(select(Department.id).where(Department.code == "PROPERTY"))
    db_session.flush()
    assert fraud_alerts.alert_of_claim(db_session, liability, scene["linked"].id) is None
    assert fraud_alerts.alert_of_claim(db_session, manager, scene["linked"].id).signals[0].kind == "linked_fraud"
    # A ring the adjuster would not be shown (two of its claims moved away) is not named either.
    for c in scene["ring"][1:]:
        c.department_id = scene["fraud"].department_id
    db_session.flush()
    assert fraud_alerts.alert_of_claim(db_session, auto, scene["ring"][0].id) is None
    assert "ring" in {s.kind for s in fraud_alerts.alert_of_claim(db_session, manager, scene["ring"][0].id).signals}


def test_lists_by_status_and_claim(db_session, scene):
    manager = make_user(db_session, "manager")
    alert = _alert(db_session, scene["leaning"])
    fraud_alerts.dismiss(db_session, manager, alert.id, alert.version, "genuine")
    dismissed, _ = fraud_alerts.list_alerts(db_session, manager, status="dismissed", limit=10_000)
    assert scene["leaning"].claim_number in {a.claim_number for a in dismissed}
    mine = [a for a in dismissed if a.claim_id == scene["leaning"].id][0]
    assert mine.decision_note == "genuine" and mine.decided_by
    one, total = fraud_alerts.list_alerts(db_session, manager, claim_number=scene["ring"][0].claim_number)
    assert total == 1 and one[0].claim_id == scene["ring"][0].id
    assert fraud_alerts.list_alerts(db_session, manager, claim_number="x" * 41) == ([], 0)
    # An unknown status reads as open rather than failing.
    assert fraud_alerts.list_alerts(db_session, manager, status="bogus", limit=1)[1] >= 4
    assert fraud_alerts.counts(db_session, make_user(db_session, "adjuster", ("AUTO_PD",))) is None


def test_job_is_registered_after_ring_detection(db_session, scene):
    from jobs.registry import JOBS

    job = JOBS["raise_fraud_alerts"]
    assert job.schedule == "25 * * * *" and JOBS["detect_rings"].schedule == "20 * * * *"
    outcome = job.fn(db_session, None)
    assert outcome["detail"]["open"] >= 5 and outcome["rows"] == 0


# --- On the first-start database ---------------------------------------------------------------


def test_first_start_raises_alerts_that_are_mostly_fraud(web_app):
    """The demo's injected fraud (ground truth, never read by the signals) is most of what is raised."""
    from db.flask_db import read_session

    with web_app.server.app_context():
        session = read_session()
        rows = session.execute(select(FraudAlert.signals, Claim.fraud_label).join(Claim, Claim.id == FraudAlert.claim_id)
                               .where(FraudAlert.status == "open")).all()
        base = session.execute(select(Claim.fraud_label).where(Claim.status != "closed")).scalars().all()
        assert fraud_alerts.last_raised(session) is not None
        session.close()
    assert len(rows) >= 3  # 4 on the 1,500 claims of the web tests; 87 on the 20,000 of the run command
    precision = sum(bool(f) for _, f in rows) / len(rows)
    base_rate = sum(bool(f) for f in base) / len(base)
    assert precision > 3 * base_rate, (precision, base_rate)


def test_fraud_alerts_page_for_each_role(web_app, client_for):
    from tests.webutil import render_page

    status, body = render_page(client_for("manager"), "/fraud-alerts")
    assert status == 200 and "Fraud alerts" in body and "Refer to SIU" in body and "fraud-alerts-table" in body
    status, body = render_page(client_for("viewer"), "/fraud-alerts")
    assert status == 200 and "fraud-alerts-table" in body and "Refer to SIU" not in body
    status, body = render_page(client_for("adjuster"), "/fraud-alerts", "?status=nonsense&claim=" + "y" * 300)
    assert status == 200 and "Nothing here" in body
    status, body = render_page(client_for("manager"), "/fraud-alerts", "?status=dismissed")
    assert status == 200 and "Refer to SIU" not in body
