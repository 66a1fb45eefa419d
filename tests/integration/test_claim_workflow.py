"""Status workflow and notes at the service level (rolled-back session)."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from auth.current import SessionUser
from db.models import AuditLog, Claim, ClaimEvent, Dataset, Department
from services.access import AccessDenied
from services.workflow import (
    ASSIGN_ME, NOTE_MAX, TRANSITIONS, ConflictError, WorkflowError, add_note, allowed_actions, assign_to_me,
    change_status, cycle_times, status_segments,
)

_seq = itertools.count(1)


def make_user(session, role: str, departments: tuple[str, ...] = ()) -> SessionUser:
    from services.users import create_user

    user = create_user(session, email=f"wf{next(_seq)}-{role}@test.example", role=role, password="pw-123456789",
                       department_codes=list(departments))
    return SessionUser.from_model(user)


def make_claim(session, department: str = "AUTO_PD", status: str = "new", **kw) -> Claim:
    if session.get(Dataset, "wftest") is None:
        session.add(Dataset(name="wftest", feature_spec=[]))
        session.flush()
    dept = session.scalar(select(Department).where(Department.code == department))
    n = next(_seq)
    claim = Claim(claim_number=f"WFT-{n:06d}", dataset="wftest", source_key=str(n), status=status,
                  department_id=dept.id, description="rear-ended at a light", **kw)
    session.add(claim)
    session.flush()
    return claim


@pytest.fixture()
def people(db_session):
    return {
        "adjuster": make_user(db_session, "adjuster", ("AUTO_PD", "TRIAGE")),
        "other": make_user(db_session, "adjuster", ("PROPERTY",)),
        "manager": make_user(db_session, "manager"),
        "viewer": make_user(db_session, "viewer"),
    }


def test_transitions_table_is_the_documented_workflow():
    assert set(TRANSITIONS) == {("new", "assigned"), ("assigned", "in_review"), ("in_review", "awaiting_info"),
                                ("awaiting_info", "in_review"), ("in_review", "closed"), ("closed", "in_review")}


def test_adjuster_walks_a_claim_through_to_closed(db_session, people):
    adj = people["adjuster"]
    claim = make_claim(db_session)
    path = ["assigned", "in_review", "awaiting_info", "in_review", "closed"]
    for to in path:
        change_status(db_session, adj, claim.claim_number, to, expected_version=claim.version)
        assert claim.status == to
    assert claim.adjuster_id == adj.id  # taken when moved from new to assigned
    assert claim.closed_at is not None
    events = db_session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id, ClaimEvent.kind == "status")
                                .order_by(ClaimEvent.id)).all()
    assert [e.to_status for e in events] == path
    assert events[0].from_status == "new" and all(e.actor_id == adj.id for e in events)
    audits = db_session.scalars(select(AuditLog).where(AuditLog.action == "claim.status",
                                                       AuditLog.target_id == str(claim.id))).all()
    assert len(audits) == len(path)
    # Adjusters cannot reopen; managers can, and closed_at is cleared.
    assert [a.key for a in allowed_actions(adj, claim)] == []
    with pytest.raises(WorkflowError, match="managers"):
        change_status(db_session, adj, claim.claim_number, "in_review", expected_version=claim.version)
    change_status(db_session, people["manager"], claim.claim_number, "in_review", expected_version=claim.version)
    assert claim.status == "in_review" and claim.closed_at is None


@pytest.mark.parametrize("frm,to", [("new", "closed"), ("new", "in_review"), ("assigned", "closed"),
                                    ("awaiting_info", "closed"), ("closed", "assigned"), ("in_review", "new")])
def test_forbidden_transitions(db_session, people, frm, to):
    claim = make_claim(db_session, status=frm)
    with pytest.raises(WorkflowError, match="cannot go"):
        change_status(db_session, people["manager"], claim.claim_number, to, expected_version=claim.version)
    assert claim.status == frm


def test_roles_and_departments(db_session, people):
    claim = make_claim(db_session, department="AUTO_PD")
    with pytest.raises(AccessDenied):  # cannot even see it
        change_status(db_session, people["other"], claim.claim_number, "assigned", expected_version=claim.version)
    with pytest.raises(WorkflowError):  # sees everything, may change nothing
        change_status(db_session, people["viewer"], claim.claim_number, "assigned", expected_version=claim.version)
    assert allowed_actions(people["viewer"], claim) == []
    # Unassigned: "Mark assigned" would assign it to the adjuster too, so one button does it.
    assert [a.key for a in allowed_actions(people["adjuster"], claim)] == [ASSIGN_ME]
    # A manager on a claim someone else holds: take it, or only move it on for the holder.
    holder = make_user(db_session, "adjuster", ("AUTO_PD",))
    held = make_claim(db_session, department="AUTO_PD", adjuster_id=holder.id)
    assert [a.key for a in allowed_actions(people["manager"], held)] == [ASSIGN_ME, "assigned"]
    # The holder, given a new claim by a manager, acknowledges it with "Mark assigned";
    # another adjuster of the department may neither take it nor mark it for the holder.
    assert [a.label for a in allowed_actions(holder, held)] == ["Mark assigned"]
    assert allowed_actions(people["adjuster"], held) == []
    with pytest.raises(WorkflowError, match="someone else"):
        change_status(db_session, people["adjuster"], held.claim_number, "assigned", expected_version=held.version)


def test_viewer_cannot_write_notes(db_session, people):
    claim = make_claim(db_session)
    with pytest.raises(AccessDenied):
        add_note(db_session, people["viewer"], claim.claim_number, "hello")


def test_closing_needs_a_real_department(db_session, people):
    claim = make_claim(db_session, department="TRIAGE", status="in_review")
    with pytest.raises(WorkflowError, match="Triage"):
        change_status(db_session, people["adjuster"], claim.claim_number, "closed", expected_version=claim.version)
    assert "closed" not in {a.key for a in allowed_actions(people["adjuster"], claim)}


def test_stale_version_is_a_conflict_and_writes_nothing(db_session, people):
    claim = make_claim(db_session)
    seen = claim.version
    assign_to_me(db_session, people["adjuster"], claim.claim_number, expected_version=seen)
    assert claim.status == "assigned" and claim.version == seen + 1
    n_events = db_session.query(ClaimEvent).filter_by(claim_id=claim.id).count()
    with pytest.raises(ConflictError) as err:
        change_status(db_session, people["manager"], claim.claim_number, "in_review", expected_version=seen)
    assert err.value.current["status"] == "assigned" and err.value.current["version"] == seen + 1
    # What it is now, in words, with whom: not "version 4".
    adjuster = people["adjuster"].name
    assert f"(now Assigned in {claim.department.name}, with {adjuster})" in str(err.value)
    assert "version" not in str(err.value)
    assert claim.status == "assigned"
    assert db_session.query(ClaimEvent).filter_by(claim_id=claim.id).count() == n_events
    for bad in (None, "1", 1.0, True):
        with pytest.raises(WorkflowError):
            change_status(db_session, people["adjuster"], claim.claim_number, "in_review", expected_version=bad)


def test_adjuster_cannot_take_or_move_someone_elses_claim(db_session, people):
    owner = make_user(db_session, "adjuster", ("AUTO_PD",))
    claim = make_claim(db_session, status="assigned", adjuster_id=owner.id)
    assert allowed_actions(people["adjuster"], claim) == []
    with pytest.raises(WorkflowError, match="someone else"):
        assign_to_me(db_session, people["adjuster"], claim.claim_number, expected_version=claim.version)
    with pytest.raises(WorkflowError, match="someone else"):
        change_status(db_session, people["adjuster"], claim.claim_number, "in_review", expected_version=claim.version)
    assign_to_me(db_session, people["manager"], claim.claim_number, expected_version=claim.version)
    assert claim.adjuster_id == people["manager"].id


def test_notes_length_and_types(db_session, people):
    claim = make_claim(db_session)
    adj = people["adjuster"]
    for bad in ("", "   ", "x" * (NOTE_MAX + 1), None, 5, ["a"]):
        with pytest.raises(WorkflowError):
            add_note(db_session, adj, claim.claim_number, bad)
    event = add_note(db_session, adj, claim.claim_number, "  <b>called</b> the insured  ")
    assert event.kind == "note" and event.note == "<b>called</b> the insured"
    add_note(db_session, adj, claim.claim_number, "y" * NOTE_MAX)
    assert db_session.scalar(select(AuditLog).where(AuditLog.action == "claim.note",
                                                    AuditLog.target_id == str(claim.id)).limit(1)) is not None
    other = make_claim(db_session, department="WORKERS_COMP")
    with pytest.raises(AccessDenied):
        add_note(db_session, adj, other.claim_number, "not mine")
    for bad in (None, 7, "", "x" * 500):
        with pytest.raises(LookupError):
            add_note(db_session, adj, bad, "hello")


def test_cycle_times_per_status(db_session, people):
    t0 = dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone.utc)
    claim = make_claim(db_session, created_at=t0)
    adj = people["adjuster"]
    hour = dt.timedelta(hours=1)
    change_status(db_session, adj, claim.claim_number, "assigned", expected_version=claim.version, now=t0 + hour)
    change_status(db_session, adj, claim.claim_number, "in_review", expected_version=claim.version, now=t0 + 3 * hour)
    change_status(db_session, adj, claim.claim_number, "closed", expected_version=claim.version, now=t0 + 6 * hour)
    result = cycle_times(db_session, claim.id, now=t0 + 10 * hour)
    assert result["totals"] == {"new": 3600.0, "assigned": 7200.0, "in_review": 10800.0}
    assert result["segments"][-1]["status"] == "closed" and result["segments"][-1]["end"] is None


def test_status_segments_open_claim_counts_to_now():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    segs = status_segments(t0, [(t0 + dt.timedelta(minutes=5), "new", "assigned")], closed_now=False,
                           now=t0 + dt.timedelta(minutes=65))
    assert [(s["status"], s["seconds"]) for s in segs] == [("new", 300.0), ("assigned", 3600.0)]


def test_history_of_a_claim_closed_outside_the_workflow_says_when_it_closed(db_session, people):
    """Imported and older demo claims arrive closed, with no status event: their history
    used to end at "Claim received" (or a move) and never said that, or when, they closed."""
    from services.workflow import timeline

    closed_at = dt.datetime(2026, 7, 7, tzinfo=dt.timezone.utc)
    claim = make_claim(db_session, status="closed", closed_at=closed_at)
    items = timeline(db_session, claim)
    assert items[-1]["title"] == "Closed" and items[-1]["at"] == closed_at, items
    assert not any(i["kind"] == "now" for i in items)

    # Closed through the workflow: the status step says it, no second "Closed" line.
    adj = people["adjuster"]
    walked = make_claim(db_session)
    for to in ("assigned", "in_review", "closed"):
        change_status(db_session, adj, walked.claim_number, to, expected_version=walked.version)
    titles = [i["title"] for i in timeline(db_session, walked)]
    assert titles[-1] == "In review → Closed" and "Closed" not in titles, titles
