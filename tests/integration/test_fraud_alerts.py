"""Fraud alerts: which claims are raised and why, the refer / dismiss / flag
decisions, their guards, who sees which signals, the job and the pages."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import event, select

from db.models import AuditLog, Claim, ClaimEvent, Department, FraudAlert, ModelVersion, RoutingDecision
from services import fraud_alerts, fraud_rings
from services.access import AccessDenied, NotFound
from services.fraud_alerts import AlertConflict, AlertError
from services.reassignment import ReassignError
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


def test_a_claim_with_an_open_alert_cannot_close_until_it_is_decided(db_session, scene):
    """Closing withdrew the alert: an adjuster's flag vanished before any manager saw it."""
    from services.workflow import WorkflowError, allowed_actions, change_status, closing_waits_on_alert

    manager = make_user(db_session, "manager")
    adjuster = make_user(db_session, "adjuster", ("LIABILITY",))
    claim = scene["linked"]
    claim.status = "in_review"
    db_session.flush()
    for user in (adjuster, manager):
        assert "closed" not in {a.key for a in allowed_actions(user, claim)}
        assert closing_waits_on_alert(user, claim)
        with pytest.raises(WorkflowError, match="open fraud alert"):
            change_status(db_session, user, claim.claim_number, "closed", expected_version=claim.version)
    assert claim.status == "in_review" and _alert(db_session, claim).status == "open"
    # A colleague who could not close it anyway is told whose claim it is, not about the alert.
    claim.adjuster_id = make_user(db_session, "adjuster", ("LIABILITY",)).id
    db_session.flush()
    assert not closing_waits_on_alert(adjuster, claim)
    with pytest.raises(WorkflowError, match="assigned to someone else"):
        change_status(db_session, adjuster, claim.claim_number, "closed", expected_version=claim.version)
    claim.adjuster_id = None
    db_session.flush()
    alert = _alert(db_session, claim)
    fraud_alerts.dismiss(db_session, manager, alert.id, alert.version, "Account shared with a relative, explained")
    assert not closing_waits_on_alert(adjuster, claim)
    assert "closed" in {a.key for a in allowed_actions(adjuster, claim)}
    change_status(db_session, adjuster, claim.claim_number, "closed", expected_version=claim.version)
    assert claim.status == "closed" and _alert(db_session, claim).status == "dismissed"


def test_a_claim_moved_to_siu_on_the_board_has_its_alert_referred(db_session, scene):
    """Whoever moves a claim to SIU has referred it: its alert says who and why at once."""
    from services.reassignment import move_claims

    manager = make_user(db_session, "manager")
    claim, other = scene["leaning"], scene["linked"]
    move_claims(db_session, manager, [{"claim_id": claim.id, "version": claim.version}], department_code="SIU",
                reason="MISROUTED", comment="Belongs with SIU")
    alert = _alert(db_session, claim)
    assert alert.status == "referred" and alert.decided_by == manager.id
    assert alert.decision_note == "Belongs with SIU" and alert.dismissed_kinds == ["model"]
    assert _alert(db_session, other).status == "open"  # only the claims moved
    # A move elsewhere leaves the alert open.
    move_claims(db_session, manager, [{"claim_id": other.id, "version": other.version}], department_code="PROPERTY",
                reason="MISROUTED")
    assert _alert(db_session, other).status == "open"
    fraud_alerts.refresh(db_session)
    assert _alert(db_session, claim).status == "referred"


def test_a_manager_refers_the_claim_to_siu(db_session, scene):
    manager = make_user(db_session, "manager")
    claim, alert = scene["linked"], _alert(db_session, scene["linked"])
    claim.status = "assigned"
    db_session.flush()
    fraud_alerts.refer(db_session, manager, alert.id, alert.version, "Same account as the staged claim")
    alert = _alert(db_session, claim)
    db_session.refresh(claim)
    siu = db_session.scalar(select(Department).where(Department.code == "SIU"))
    assert alert.status == "referred" and alert.decided_by == manager.id
    assert claim.department_id == siu.id and claim.status == "new" and claim.adjuster_id is None
    move = db_session.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id, ClaimEvent.kind == "moved"))
    assert move.reason == "SIU_REFERRAL" and move.note == "Referred from a fraud alert. Same account as the staged claim"
    # The history says it moved (the unassignment's status step is a detail of the move).
    from services.workflow import timeline

    step = [i for i in timeline(db_session, claim) if i["kind"] == "moved"][0]
    assert step["title"] == "Moved" and "Liability / Bodily Injury → Special Investigations" in step["detail"]
    assert "Assigned → New" in step["detail"]
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
    # Moved to Property, the fraudulent claim is no longer named to the Liability adjuster, but the
    # link is still said: whoever works the claim needs to know it.
    scene["fraud"].department_id = db_session.scalar(select(Department.id).where(Department.code == "PROPERTY"))
    db_session.flush()
    (signal,) = fraud_alerts.alert_of_claim(db_session, liability, scene["linked"].id).signals
    assert signal.claims == [] and signal.more == 0
    assert signal.text.endswith("1 claim found fraudulent in a department you do not work"), signal.text
    assert scene["fraud"].claim_number not in str(signal)
    assert fraud_alerts.alert_of_claim(db_session, manager, scene["linked"].id).signals[0].kind == "linked_fraud"
    # A ring the adjuster would not be shown (two of its claims moved away) is not named either.
    for c in scene["ring"][1:]:
        c.department_id = scene["fraud"].department_id
    db_session.flush()
    assert fraud_alerts.alert_of_claim(db_session, auto, scene["ring"][0].id) is None
    assert "ring" in {s.kind for s in fraud_alerts.alert_of_claim(db_session, manager, scene["ring"][0].id).signals}


def test_a_signal_names_five_linked_claims_and_counts_the_rest(db_session):
    from components.fraud_alerts import signal_lines

    bank = f"MANYBANK{next_tag():05d}"
    frauds = [make_claim(db_session, status="closed", fraud=True, parties=[("claimant", {"bank_account": bank})])
              for _ in range(7)]
    claim = make_claim(db_session, parties=[("payee", {"bank_account": bank})])
    fraud_rings.refresh(db_session)
    fraud_alerts.refresh(db_session)
    view = fraud_alerts.alert_of_claim(db_session, make_user(db_session, "manager"), claim.id)
    linked = [s for s in view.signals if s.kind == "linked_fraud"][0]
    assert "with 7 claims found fraudulent" in linked.text and len(linked.claims) == 5 and linked.more == 2
    assert {n for n, _ in linked.claims} <= {f.claim_number for f in frauds}
    assert "and 2 more" in str(signal_lines([linked]))


def test_an_adjuster_is_named_the_linked_claims_of_their_departments_and_told_of_the_rest(db_session):
    from components.fraud_alerts import signal_lines

    bank = f"MIXBANK{next_tag():05d}"
    own = [make_claim(db_session, status="closed", fraud=True, parties=[("claimant", {"bank_account": bank})])
           for _ in range(2)]
    away = [make_claim(db_session, department="PROPERTY", status="closed", fraud=True,
                       parties=[("claimant", {"bank_account": bank})]) for _ in range(3)]
    claim = make_claim(db_session, parties=[("payee", {"bank_account": bank})])
    fraud_rings.refresh(db_session)
    fraud_alerts.refresh(db_session)
    view = fraud_alerts.alert_of_claim(db_session, make_user(db_session, "adjuster", ("AUTO_PD",)), claim.id)
    linked = [s for s in view.signals if s.kind == "linked_fraud"][0]
    assert linked.text.endswith("with 5 claims found fraudulent (3 in departments you do not work)"), linked.text
    assert {n for n, _ in linked.claims} == {c.claim_number for c in own} and linked.more == 0
    rendered = str(signal_lines([linked]))
    assert "more" not in rendered and not any(c.claim_number in rendered for c in away)


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


# --- Found by a review (each failed before its fix) ---------------------------------------------


def _dept_id(session, code: str) -> int:
    return session.scalar(select(Department.id).where(Department.code == code))


# --- 1. Referring a claim that already reached SIU another way --------------------------------


def test_refer_does_not_unassign_a_claim_already_moved_to_siu(db_session, scene):
    """The alert list is up to an hour old: a claim another manager already moved to
    SIU and gave to an investigator must not be moved again (unassigned, back to
    'new') when someone presses Refer on the stale row."""
    manager = make_user(db_session, "manager")
    investigator = make_user(db_session, "adjuster", ("SIU",))
    claim = scene["leaning"]
    alert = _alert(db_session, claim)
    claim.department_id, claim.adjuster_id, claim.status = _dept_id(db_session, "SIU"), investigator.id, "assigned"
    db_session.flush()
    try:
        fraud_alerts.refer(db_session, manager, alert.id, alert.version, "looks staged")
    except (AlertError, ReassignError):
        pass
    db_session.refresh(claim)
    assert claim.adjuster_id == investigator.id and claim.status == "assigned", \
        "refer re-moved a claim already in SIU and dropped its investigator"


# --- 2. Repeated flags count as more signals ------------------------------------------------------


def test_repeated_flags_do_not_outrank_alerts_with_more_kinds_of_signal(db_session, scene):
    """Each flag is appended as one more signal and signal_count counts them: one
    adjuster pressing Flag three times puts a claim with no system signal above a
    claim linked to fraud *and* leaned to SIU by the router."""
    manager = make_user(db_session, "manager")
    adjuster = make_user(db_session, "adjuster", ("AUTO_PD",))
    strong = scene["linked"]
    _decide_siu(db_session, strong, 0.5)
    fraud_alerts.refresh(db_session)
    assert _kinds(_alert(db_session, strong)) == {"linked_fraud", "model"}
    spam = make_claim(db_session)
    for i in range(3):
        fraud_alerts.flag(db_session, adjuster, spam.id, f"still odd ({i})")
    listed = [a.claim_id for a in fraud_alerts.list_alerts(db_session, manager, limit=10_000)[0]]
    assert listed.index(strong.id) < listed.index(spam.id), \
        f"3 flags by one person (signal_count={_alert(db_session, spam).signal_count}) outrank 2 kinds of signal"


# --- 3. A flag revives stale system signals --------------------------------------------------------


def test_flag_on_a_withdrawn_alert_does_not_revive_its_old_signals(db_session, scene):
    """A withdrawn alert keeps the signals it had; flagging it reopens it with them,
    so managers read "The router gives SIU 35%" although the router now says 5%."""
    manager = make_user(db_session, "manager")
    adjuster = make_user(db_session, "adjuster", ("AUTO_PD",))
    claim = scene["leaning"]
    _decide_siu(db_session, claim, 0.05)
    fraud_alerts.refresh(db_session)
    assert _alert(db_session, claim).status == "withdrawn"
    fraud_alerts.flag(db_session, adjuster, claim.id, "the garage invoice looks edited")
    alert = _alert(db_session, claim)
    assert alert.status == "open"
    assert _kinds(alert) == {"flagged"}, alert.signals
    texts = [s.text for s in fraud_alerts.alert_of_claim(db_session, manager, claim.id).signals]
    assert not any("35%" in t for t in texts), texts


# --- 4. The referral's move comment names signals its readers may not see ----------------------


def test_referral_comment_does_not_reveal_signals_hidden_from_the_claims_readers(db_session):
    """refer() once wrote every signal kind into the SIU_REFERRAL move comment, which the
    claim's timeline shows to everyone who can open the claim. The comment names no
    signal; the alert says what each reader may learn (here: the link, not the
    Property claim it links to)."""
    from services.workflow import timeline

    t = f"{next_tag():05d}"
    bank = f"REVBANK{t}"
    make_claim(db_session, department="PROPERTY", status="closed", fraud=True,
               parties=[("claimant", {"bank_account": bank})])
    claim = make_claim(db_session, department="AUTO_PD", parties=[("payee", {"bank_account": bank})])
    fraud_alerts.refresh(db_session)
    alert = _alert(db_session, claim)
    assert _kinds(alert) == {"linked_fraud"}
    manager = make_user(db_session, "manager")
    fraud_alerts.refer(db_session, manager, alert.id, alert.version)
    investigator = make_user(db_session, "adjuster", ("SIU",))
    db_session.refresh(claim)
    # The alert as the SIU adjuster may read it: the link, not the Property claim it links to.
    (signal,) = fraud_alerts.alert_of_claim(db_session, investigator, claim.id).signals
    assert signal.kind == "linked_fraud" and signal.claims == [], signal
    notes = " | ".join(i["note"] or "" for i in timeline(db_session, claim))
    assert "Linked to fraud" not in notes, notes


# --- 5. An adjuster's list: queries per ring ------------------------------------------------------


def _ring(session, department="AUTO_PD"):
    phone = f"777{next_tag():05d}09"
    return [make_claim(session, department=department, parties=[("claimant", {"phone": phone})]) for _ in range(3)]


def _statements(session, fn):
    count = [0]

    def on(*_a, **_k):
        count[0] += 1

    conn = session.connection()
    event.listen(conn, "before_cursor_execute", on)
    try:
        fn()
    finally:
        event.remove(conn, "before_cursor_execute", on)
    return count[0]


def test_an_adjusters_alert_list_does_not_query_per_ring(db_session):
    """_Reader.signal calls get_ring once per distinct ring (ring + every department
    + its claims: 3 queries each). An adjuster's departments touch ~1,300 rings at a
    million claims, so the Fraud alerts page (and every refresh of the list after a
    decision) issues thousands of queries, on top of reading every alert of their
    departments without a LIMIT."""
    adjuster = make_user(db_session, "adjuster", ("AUTO_PD",))
    for _ in range(2):
        _ring(db_session)
    fraud_rings.refresh(db_session)
    fraud_alerts.refresh(db_session)
    few = _statements(db_session, lambda: fraud_alerts.list_alerts(db_session, adjuster, limit=10_000))
    for _ in range(6):
        _ring(db_session)
    fraud_rings.refresh(db_session)
    fraud_alerts.refresh(db_session)
    views, _ = fraud_alerts.list_alerts(db_session, adjuster, limit=10_000)
    assert sum(any(s.kind == "ring" for s in v.signals) for v in views) >= 24
    many = _statements(db_session, lambda: fraud_alerts.list_alerts(db_session, adjuster, limit=10_000))
    assert many - few <= 2, f"{few} statements for 2 rings, {many} for 8"


# --- 6. A flag while the job runs fails the job ------------------------------------------------


def test_a_flag_committed_while_the_job_runs_does_not_fail_the_job(session_factory, monkeypatch):
    """refresh() reads the existing alerts, then plain-INSERTs one for every claim
    that had none. A flag committed in between (flag() upserts the row) makes the
    INSERT hit the unique claim_id: the whole hourly run fails with an
    IntegrityError and raises nothing that hour."""
    from db.models import ClaimEvent, Party

    bank = f"RACEBANK{next_tag():05d}"
    with session_factory.begin() as s:
        adjuster = make_user(s, "adjuster", ("AUTO_PD",))
        fraud = make_claim(s, status="closed", fraud=True, parties=[("claimant", {"bank_account": bank})])
        claim = make_claim(s, parties=[("payee", {"bank_account": bank})])
        claim_ids, claim_id = [fraud.id, claim.id], claim.id
    real, raced = fraud_alerts.insert, []

    def racing(table, *args, **kw):
        if table is FraudAlert and not raced:
            raced.append(True)
            with session_factory.begin() as other:
                fraud_alerts.flag(other, adjuster, claim_id, "story changed")
        return real(table, *args, **kw)

    monkeypatch.setattr(fraud_alerts, "insert", racing)
    try:
        with session_factory.begin() as s:
            fraud_alerts.refresh(s)
        assert raced
        with session_factory() as s:
            alert = s.scalar(select(FraudAlert).where(FraudAlert.claim_id == claim_id))
            assert alert.status == "open" and _kinds(alert) == {"linked_fraud", "flagged"}
    finally:
        monkeypatch.undo()
        with session_factory.begin() as s:
            for model in (FraudAlert, ClaimEvent, Party):
                s.query(model).filter(model.claim_id.in_(claim_ids)).delete()
            s.query(Claim).filter(Claim.id.in_(claim_ids)).delete()


def test_the_list_pages_through_alerts_in_order(db_session, scene):
    from components.fraud_alerts import list_body

    manager, adjuster = make_user(db_session, "manager"), make_user(db_session, "adjuster", ("AUTO_PD",))
    for user in (manager, adjuster):
        everything, total = fraud_alerts.list_alerts(db_session, user, limit=10_000)
        pages = [fraud_alerts.list_alerts(db_session, user, limit=2, offset=o)[0] for o in range(0, total, 2)]
        assert [a.id for p in pages for a in p] == [a.id for a in everything]
    alerts = fraud_alerts.list_alerts(db_session, manager, limit=2, offset=2)[0]
    body = str(list_body(alerts, 7, "USD", status="open", can_decide=False, page=2, per_page=2))
    assert "Showing 3–4 of 7" in body and "page=3" in body and "Previous" in body
    last = str(list_body(alerts[:1], 7, "USD", status="open", can_decide=False, page=4, per_page=2))
    assert "Showing 7–7 of 7" in last and "Next" not in last
    assert "the last page is 4" in str(list_body([], 7, "USD", status="open", can_decide=False, page=9, per_page=2))


def test_a_manager_refers_a_whole_ring(db_session, scene):
    from db.models import AuditLog, FraudRing

    manager = make_user(db_session, "manager")
    ring = db_session.scalar(select(FraudRing).where(FraudRing.claim_ids.contains([scene["ring"][0].id])))
    with pytest.raises(AccessDenied):
        fraud_alerts.refer_ring(db_session, make_user(db_session, "adjuster", ("AUTO_PD",)), ring.key)
    for bad in ("R-NOPE", None, 7, ["R-1"], "R-\x00"):
        with pytest.raises(NotFound):
            fraud_alerts.refer_ring(db_session, manager, bad)
    moved = fraud_alerts.refer_ring(db_session, manager, ring.key, "Staged together")
    # The open ring claims outside SIU move; the one already in SIU and the closed one stay.
    assert moved == sorted(c.claim_number for c in scene["ring"])
    siu = db_session.scalar(select(Department.id).where(Department.code == "SIU"))
    for c in scene["ring"]:
        db_session.refresh(c)
        alert = _alert(db_session, c)
        assert c.department_id == siu and c.status == "new" and alert.status == "referred"
        assert alert.decision_note == "Staged together"  # the manager's note, not the move's comment
    db_session.refresh(scene["closed"])
    assert scene["closed"].department_id != siu and scene["closed"].status == "closed"
    move = db_session.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == scene["ring"][0].id,
                                                      ClaimEvent.kind == "moved"))
    assert move.reason == "SIU_REFERRAL" and move.note == f"Referred with possible fraud ring {ring.key}. Staged together"
    assert db_session.scalar(select(AuditLog.target_id).where(AuditLog.action == "fraud_ring.refer")) == ring.key
    with pytest.raises(AlertError, match="No open claim"):
        fraud_alerts.refer_ring(db_session, manager, ring.key)


def test_open_totals_cover_the_whole_list_not_one_page(db_session, scene):
    """An executive reads the money at stake across every open alert, not the first 50."""
    manager = make_user(db_session, "manager")
    everything, total = fraud_alerts.list_alerts(db_session, manager, limit=100_000)
    page, _ = fraud_alerts.list_alerts(db_session, manager, limit=2)
    assert total > 2
    claimed, multi = fraud_alerts.open_totals(db_session, manager)
    assert claimed == pytest.approx(sum(a.claimed or 0 for a in everything))
    assert claimed > sum(a.claimed or 0 for a in page)
    assert multi == sum(a.kinds > 1 for a in everything)
    # Someone working one department: its alerts only, their signals as they may read them.
    adjuster = make_user(db_session, "adjuster", ("LIABILITY",))
    own, _ = fraud_alerts.list_alerts(db_session, adjuster, limit=100_000)
    assert scene["linked"].claim_number in {a.claim_number for a in own}
    assert fraud_alerts.open_totals(db_session, adjuster) == (
        pytest.approx(sum(a.claimed or 0 for a in own)), sum(a.kinds > 1 for a in own))


def _tab_totals(session, user) -> dict[str, int]:
    return {s: fraud_alerts.list_alerts(session, user, status=s, limit=100_000)[1] for s in fraud_alerts.STATUS_LABELS}


def test_each_users_tab_counts_are_the_alerts_their_lists_show(db_session, scene):
    """Adjusters and investigators see counts too: of the alerts they may read, never of
    claims they cannot open or rings the Rings page does not show them."""
    manager = make_user(db_session, "manager")
    auto = make_user(db_session, "adjuster", ("AUTO_PD",))
    liability = make_user(db_session, "adjuster", ("LIABILITY",))
    siu = make_user(db_session, "adjuster", ("SIU",))
    nobody = make_user(db_session, "adjuster")
    alert = _alert(db_session, scene["leaning"])
    fraud_alerts.dismiss(db_session, manager, alert.id, alert.version, "genuine")
    alert = _alert(db_session, scene["linked"])
    fraud_alerts.refer(db_session, manager, alert.id, alert.version, "shares an account")
    for user in (manager, auto, liability, siu, nobody):
        assert fraud_alerts.counts(db_session, user) == _tab_totals(db_session, user)
    before = fraud_alerts.counts(db_session, auto)
    assert before["open"] >= 3 and before["dismissed"] >= 1
    assert fraud_alerts.counts(db_session, nobody) == dict.fromkeys(fraud_alerts.STATUS_LABELS, 0)
    # The linked claim went to SIU: its referral is counted where it now is, not in Auto.
    assert fraud_alerts.counts(db_session, siu)["referred"] >= 1
    # Two ring claims move to Property: they leave the Auto adjuster's counts, and so does the
    # third, whose ring the Rings page no longer shows them (its only signal).
    prop = _dept_id(db_session, "PROPERTY")
    for c in scene["ring"][1:]:
        c.department_id = prop
    db_session.flush()
    after = fraud_alerts.counts(db_session, auto)
    assert after == _tab_totals(db_session, auto)
    assert before["open"] - after["open"] == 3
    # ... while a flag, which anyone working the claim may read, counts again.
    fraud_alerts.flag(db_session, auto, scene["ring"][0].id, "story changed")
    assert fraud_alerts.counts(db_session, auto)["open"] == after["open"] + 1


def test_an_adjusters_tab_counts_take_a_few_statements_whatever_the_rings(db_session):
    adjuster = make_user(db_session, "adjuster", ("AUTO_PD",))
    _ring(db_session)
    fraud_rings.refresh(db_session)
    fraud_alerts.refresh(db_session)
    few = _statements(db_session, lambda: fraud_alerts.counts(db_session, adjuster))
    for _ in range(6):
        _ring(db_session)
    fraud_rings.refresh(db_session)
    fraud_alerts.refresh(db_session)
    many = _statements(db_session, lambda: fraud_alerts.counts(db_session, adjuster))
    assert many == few <= 4, (few, many)
    assert fraud_alerts.counts(db_session, adjuster) == _tab_totals(db_session, adjuster)
