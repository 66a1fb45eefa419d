"""Feedback on routing decisions: the service, and the claim page's callbacks as the browser calls them."""
from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
from sqlalchemy import select

from db.models import AuditLog, ClaimEvent, Department, ModelVersion, RoutingDecision, RoutingFeedback
from services.access import AccessDenied
from services.feedback import COMMENT_MAX, REASONS, agreement_rate, current_verdict, give_feedback
from services.workflow import ConflictError, WorkflowError
from tests.integration.test_claim_workflow import make_claim, make_user

_seq = itertools.count(1)


def make_decision(session, claim, dept_code="AUTO_PD"):
    dept_id = session.scalar(select(Department.id).where(Department.code == dept_code))
    mv = ModelVersion(dataset=claim.dataset, version=f"fbtest-{next(_seq)}-{claim.id}", status="candidate",
                      params={}, feature_schema={}, classes=[dept_code], metrics={}, n_train=0, n_holdout=0,
                      artifact=b"")
    session.add(mv)
    session.flush()
    d = RoutingDecision(claim_id=claim.id, model_version_id=mv.id, predicted_department_id=dept_id,
                        routed_department_id=dept_id, probabilities={dept_code: 0.9}, confidence=0.9, threshold=0.5,
                        features={}, shap_values={}, shap_method="exact", drivers=[])
    session.add(d)
    session.flush()
    return d


def test_agree_then_change_mind_keeps_history(db_session):
    adj = make_user(db_session, "adjuster", ("AUTO_PD",))
    claim = make_claim(db_session)
    decision = make_decision(db_session, claim)
    give_feedback(db_session, adj, claim.claim_number, agrees=True, decision_id=decision.id)
    give_feedback(db_session, adj, claim.claim_number, agrees=False, reason_code="NEEDS_SIU",
                  suggested_department="SIU", comment="  two prior claims same plate  ", decision_id=decision.id)
    rows = db_session.scalars(select(RoutingFeedback).where(RoutingFeedback.claim_id == claim.id)).all()
    assert len(rows) == 2
    verdict = current_verdict(db_session, adj.id, decision.id)
    assert verdict.agrees is False and verdict.reason_code == "NEEDS_SIU"
    assert verdict.comment == "two prior claims same plate"
    siu = db_session.scalar(select(Department.id).where(Department.code == "SIU"))
    assert verdict.suggested_department_id == siu
    events = db_session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id,
                                                         ClaimEvent.kind == "feedback")).all()
    assert len(events) == 2 and events[-1].reason == "NEEDS_SIU" and events[-1].data["agrees"] is False
    assert db_session.query(AuditLog).filter_by(action="routing.feedback", target_id=str(claim.id)).count() == 2


@pytest.mark.parametrize("kwargs,match", [
    (dict(agrees=False), "reason"),
    (dict(agrees=False, reason_code="BECAUSE"), "reason"),
    (dict(agrees="yes"), "Agree or Disagree"),
    (dict(agrees=None), "Agree or Disagree"),
    (dict(agrees=True, comment="x" * (COMMENT_MAX + 1)), "at most"),
    (dict(agrees=True, comment={"a": 1}), "text"),
    (dict(agrees=False, reason_code="OTHER", suggested_department="NOPE"), "Unknown"),
    (dict(agrees=False, reason_code="OTHER", suggested_department=["SIU"]), "Unknown"),
])
def test_feedback_validation(db_session, kwargs, match):
    adj = make_user(db_session, "adjuster", ("AUTO_PD",))
    claim = make_claim(db_session)
    make_decision(db_session, claim)
    with pytest.raises(WorkflowError, match=match):
        give_feedback(db_session, adj, claim.claim_number, **kwargs)
    assert db_session.query(RoutingFeedback).filter_by(claim_id=claim.id).count() == 0


def test_feedback_on_foreign_or_undecided_or_rerouted_claims(db_session):
    adj = make_user(db_session, "adjuster", ("AUTO_PD",))
    viewer = make_user(db_session, "viewer")
    foreign = make_claim(db_session, department="PROPERTY")
    make_decision(db_session, foreign, "PROPERTY")
    with pytest.raises(AccessDenied):
        give_feedback(db_session, adj, foreign.claim_number, agrees=True)
    with pytest.raises(AccessDenied):
        give_feedback(db_session, viewer, foreign.claim_number, agrees=True)
    undecided = make_claim(db_session)
    with pytest.raises(WorkflowError, match="no routing decision"):
        give_feedback(db_session, adj, undecided.claim_number, agrees=True)
    claim = make_claim(db_session)
    old = make_decision(db_session, claim)
    make_decision(db_session, claim)
    with pytest.raises(ConflictError):
        give_feedback(db_session, adj, claim.claim_number, agrees=True, decision_id=old.id)


def test_agreement_rate_counts_latest_verdict_per_user_and_decision(db_session):
    before = agreement_rate(db_session)
    a = make_user(db_session, "adjuster", ("AUTO_PD",))
    b = make_user(db_session, "adjuster", ("AUTO_PD",))
    claim = make_claim(db_session)
    make_decision(db_session, claim)
    give_feedback(db_session, a, claim.claim_number, agrees=False, reason_code="OTHER")
    give_feedback(db_session, a, claim.claim_number, agrees=True)
    give_feedback(db_session, b, claim.claim_number, agrees=False, reason_code="WRONG_LOB")
    after = agreement_rate(db_session)
    assert after["given"] - before["given"] == 2
    assert after["agreed"] - before["agreed"] == 1
    future = agreement_rate(db_session, since=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
    assert future == {"given": 0, "agreed": 0, "rate": None}
    assert set(REASONS) >= {"WRONG_LOB", "WRONG_DEPARTMENT", "NEEDS_SIU", "COVERAGE_QUESTION", "OTHER"}
