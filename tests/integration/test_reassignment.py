"""Moving claims between departments and adjusters: all-or-nothing, version
checks, history and audit, suggestions, and the board's callback."""
from __future__ import annotations

import datetime as dt
import itertools
import json
import re

import pytest
from sqlalchemy import delete, func, select

from auth.current import SessionUser
from db.models import AuditLog, Claim, ClaimEvent, ModelVersion, RoutingDecision, User
from services.access import AccessDenied
from services.datasets import ensure_dataset
from services.departments import department_ids
from services.reassignment import MAX_BULK, ConflictError, ReassignError, move_claims
from services.suggestions import rank_adjusters, second_choices
from services.users import create_user
from tests.webutil import call_callback, outputs_of

DATASET = "itest_reassign"
_seq = itertools.count(1)


def actor(user: User) -> SessionUser:
    return SessionUser.from_model(user)


def make_user(session, role: str, departments: list[str], *, skills=(), states=(), capacity=40, tag="") -> User:
    n = next(_seq)
    user = create_user(session, email=f"ra-{role}{n}{tag}@scope.example", role=role, password="pw-" + "x" * 12,
                       name=f"RA {role.title()} {n}{tag}", department_codes=departments, actor="test")
    user.skills, user.licensed_states, user.capacity = list(skills), list(states), capacity
    session.flush()
    return user


def make_claims(session, n: int, dept: str, *, prefix: str = "RA", lob: str = "property", state: str = "CA",
                status: str = "new", adjuster_id: int | None = None) -> list[Claim]:
    ensure_dataset(session, DATASET, [{"name": "description", "kind": "text"}])
    ids = department_ids(session)
    tag = next(_seq)
    claims = [Claim(claim_number=f"{prefix}-{tag}-{i:04d}", dataset=DATASET, source_key=f"{prefix}-{tag}-{i}",
                    description="water damage to kitchen", line_of_business=lob, state=state,
                    report_date=dt.date.today() - dt.timedelta(days=i * 10), status=status,
                    department_id=ids[dept], adjuster_id=adjuster_id,
                    closed_at=dt.datetime.now(dt.timezone.utc) if status == "closed" else None)
              for i in range(n)]
    session.add_all(claims)
    session.flush()
    return claims


def items(claims) -> list[dict]:
    return [{"claim_id": c.id, "version": c.version} for c in claims]


@pytest.fixture()
def team(db_session):
    manager = make_user(db_session, "manager", [])
    liab = make_user(db_session, "adjuster", ["LIABILITY"], skills=["property"], states=["CA"])
    other = make_user(db_session, "adjuster", ["AUTO_PD"])
    return manager, liab, other


def test_moves_claims_and_writes_history_and_audit(db_session, team):
    manager, liab, _ = team
    claims = make_claims(db_session, 3, "PROPERTY")
    before = {c.id: c.version for c in claims}
    result = move_claims(db_session, actor(manager), items(claims), department_code="LIABILITY",
                         adjuster_id=liab.id, reason="MISROUTED", comment="bodily injury on site")
    assert result.moved == 3 and result.summary().startswith("Moved 3 claims to Liability / Bodily Injury")
    ids = department_ids(db_session)
    for c in claims:
        db_session.refresh(c)
        assert (c.department_id, c.adjuster_id, c.status) == (ids["LIABILITY"], liab.id, "assigned")
        assert c.version == before[c.id] + 1
        ev = db_session.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == c.id, ClaimEvent.kind == "moved"))
        assert (ev.from_department_id, ev.to_department_id, ev.reason, ev.note, ev.actor_id) == (
            ids["PROPERTY"], ids["LIABILITY"], "MISROUTED", "bodily injury on site", manager.id)
        audit = db_session.scalar(select(AuditLog).where(AuditLog.action == "claim.reassign",
                                                         AuditLog.target_id == str(c.id)))
        assert audit.before["department_id"] == ids["PROPERTY"]
        assert audit.after["department_id"] == ids["LIABILITY"] and audit.actor == manager.email
        assert (audit.after["claim_number"], audit.after["comment"]) == (c.claim_number, "bodily injury on site")
    # The claim's history says where it went, to whom and why.
    from services.workflow import timeline

    (step,) = [i for i in timeline(db_session, claims[0]) if i["kind"] == "moved"]
    assert step["detail"].startswith(f"Property → Liability / Bodily Injury · assigned to {liab.name} · Misrouted")
    assert step["note"] == "bodily injury on site"


def test_a_move_that_changes_nothing_is_refused(db_session, team):
    manager, liab, _ = team
    claims = make_claims(db_session, 2, "PROPERTY")
    move_claims(db_session, actor(manager), items(claims), department_code="LIABILITY", adjuster_id=liab.id,
                reason="MISROUTED")
    for c in claims:
        db_session.refresh(c)
    versions = [c.version for c in claims]
    # The same move again (the board still showing the old selection): nothing to do, nothing written.
    with pytest.raises(ReassignError, match=f"already with {liab.name} in Liability / Bodily Injury"):
        move_claims(db_session, actor(manager), items(claims), department_code="LIABILITY", adjuster_id=liab.id,
                    reason="MISROUTED")
    with pytest.raises(ReassignError, match=f"already with {liab.name}"):
        move_claims(db_session, actor(manager), items(claims), adjuster_id=liab.id, reason="WORKLOAD_BALANCE")
    fresh = make_claims(db_session, 1, "LIABILITY")
    with pytest.raises(ReassignError, match="already unassigned in Liability / Bodily Injury"):
        move_claims(db_session, actor(manager), items(fresh), department_code="LIABILITY", reason="MISROUTED")
    for c, v in zip(claims, versions):
        db_session.refresh(c)
        assert c.version == v
    assert db_session.scalar(select(func.count()).select_from(ClaimEvent).where(
        ClaimEvent.claim_id.in_([c.id for c in claims]), ClaimEvent.kind == "moved")) == 2
    # Unassigning within the department is a change.
    move_claims(db_session, actor(manager), items(claims), department_code="LIABILITY", reason="WORKLOAD_BALANCE")
    from services.workflow import timeline

    last = [i for i in timeline(db_session, claims[0]) if i["kind"] == "moved"][-1]
    assert last["detail"].startswith("within Liability / Bodily Injury · unassigned · Balancing workload")


def test_department_only_move_leaves_claim_unassigned(db_session, team):
    manager, _, other = team
    claims = make_claims(db_session, 2, "PROPERTY", status="assigned", adjuster_id=other.id)
    result = move_claims(db_session, actor(manager), items(claims), department_code="LIABILITY",
                         reason="WORKLOAD_BALANCE")
    for c in claims:
        db_session.refresh(c)
        assert c.adjuster_id is None and c.status == "new"
    # "Leave unassigned" read as "leave the adjuster alone": the message says it took them off.
    assert result.unassigned == 2
    assert result.summary().endswith("2 of them had an adjuster: now unassigned and back to New.")
    one = make_claims(db_session, 1, "PROPERTY", status="assigned", adjuster_id=other.id)
    result = move_claims(db_session, actor(manager), items(one), department_code="LIABILITY", reason="MISROUTED")
    assert result.summary() == ("Moved 1 claim to Liability / Bodily Injury. It no longer has an adjuster and is "
                                "back to New.")


def test_one_bad_claim_means_nothing_moves(db_session, team):
    manager, liab, _ = team
    good = make_claims(db_session, 4, "PROPERTY")
    closed = make_claims(db_session, 1, "PROPERTY", status="closed")
    with pytest.raises(ReassignError) as err:
        move_claims(db_session, actor(manager), items(good + closed), department_code="LIABILITY",
                    adjuster_id=liab.id, reason="MISROUTED")
    assert closed[0].claim_number in err.value.message and "Nothing was moved" in err.value.message
    prop = department_ids(db_session)["PROPERTY"]
    for c in good + closed:
        db_session.refresh(c)
        assert c.department_id == prop and c.adjuster_id is None
    assert not db_session.scalar(select(func.count()).select_from(ClaimEvent).where(
        ClaimEvent.claim_id.in_([c.id for c in good]), ClaimEvent.kind == "moved"))


def test_stale_version_is_a_conflict_with_the_current_state(db_session, team):
    manager, liab, other = team
    claims = make_claims(db_session, 3, "PROPERTY")
    seen = items(claims)
    seen[1]["version"] += 5  # what a tampered or outdated page would send
    with pytest.raises(ConflictError) as err:
        move_claims(db_session, actor(manager), seen, department_code="LIABILITY", reason="MISROUTED")
    assert [c["claim_number"] for c in err.value.current] == [claims[1].claim_number]
    current = err.value.current[0]
    assert current["department"] == "PROPERTY" and current["version"] == claims[1].version
    db_session.refresh(claims[0])
    assert claims[0].department_id == department_ids(db_session)["PROPERTY"]


@pytest.mark.parametrize("role", ["adjuster", "viewer"])
def test_only_managers_and_admins_may_reassign(db_session, team, role):
    _, liab, _ = team
    user = make_user(db_session, role, ["PROPERTY"])
    claims = make_claims(db_session, 1, "PROPERTY")
    with pytest.raises(AccessDenied):
        move_claims(db_session, actor(user), items(claims), department_code="LIABILITY", reason="MISROUTED")


def test_target_adjuster_must_work_in_the_target_department(db_session, team):
    manager, _, other = team
    claims = make_claims(db_session, 2, "PROPERTY")
    with pytest.raises(ReassignError, match="does not work in"):
        move_claims(db_session, actor(manager), items(claims), department_code="LIABILITY",
                    adjuster_id=other.id, reason="MISROUTED")


@pytest.mark.parametrize("kwargs,match", [
    (dict(department_code="LIABILITY", reason="BECAUSE"), "reason"),
    (dict(department_code="NOPE", reason="MISROUTED"), "Unknown target department"),
    (dict(reason="MISROUTED"), "Choose a target"),
    (dict(department_code="LIABILITY", reason="OTHER"), "Explain"),
    (dict(department_code="LIABILITY", reason="MISROUTED", comment="x" * 5000), "too long"),
    (dict(department_code="LIABILITY", adjuster_id="1; drop", reason="MISROUTED"), "Unknown adjuster"),
])
def test_invalid_requests_are_refused_with_a_message(db_session, team, kwargs, match):
    manager, _, _ = team
    claims = make_claims(db_session, 1, "PROPERTY")
    with pytest.raises(ReassignError, match=match):
        move_claims(db_session, actor(manager), items(claims), **kwargs)


def test_viewer_or_inactive_cannot_be_the_target_adjuster(db_session, team):
    manager, liab, _ = team
    viewer = make_user(db_session, "viewer", ["LIABILITY"])
    claims = make_claims(db_session, 1, "PROPERTY")
    with pytest.raises(ReassignError, match="cannot hold claims"):
        move_claims(db_session, actor(manager), items(claims), department_code="LIABILITY", adjuster_id=viewer.id,
                    reason="MISROUTED")
    liab.is_active = False
    db_session.flush()
    with pytest.raises(ReassignError, match="not active"):
        move_claims(db_session, actor(manager), items(claims), department_code="LIABILITY", adjuster_id=liab.id,
                    reason="MISROUTED")


def test_bulk_limit_and_malformed_items(db_session, team):
    manager, _, _ = team
    too_many = [{"claim_id": i + 1, "version": 1} for i in range(MAX_BULK + 1)]
    with pytest.raises(ReassignError, match=f"At most {MAX_BULK}"):
        move_claims(db_session, actor(manager), too_many, department_code="LIABILITY", reason="MISROUTED")
    for bad in ([], "x", [{"claim_id": 1}], [{"version": 1}], [5], [{"claim_id": True, "version": 1}]):
        with pytest.raises(ReassignError):
            move_claims(db_session, actor(manager), bad, department_code="LIABILITY", reason="MISROUTED")
    with pytest.raises(ReassignError, match="no such claim"):
        move_claims(db_session, actor(manager), [{"claim_id": 2**40, "version": 1}], department_code="LIABILITY",
                    reason="MISROUTED")


def test_claims_can_be_named_by_claim_number(db_session, team):
    manager, liab, _ = team
    claims = make_claims(db_session, 2, "PROPERTY")
    result = move_claims(db_session, actor(manager),
                         [{"claim_number": c.claim_number, "version": c.version} for c in claims],
                         department_code="LIABILITY", adjuster_id=liab.id, reason="SPECIALIST_NEEDED")
    assert sorted(result.claim_numbers) == sorted(c.claim_number for c in claims)


def test_adjuster_only_move_keeps_the_department(db_session, team):
    manager, liab, other = team
    claims = make_claims(db_session, 2, "LIABILITY")
    move_claims(db_session, actor(manager), items(claims), adjuster_id=liab.id, reason="WORKLOAD_BALANCE")
    for c in claims:
        db_session.refresh(c)
        assert c.department_id == department_ids(db_session)["LIABILITY"] and c.adjuster_id == liab.id
    fresh = make_claims(db_session, 1, "PROPERTY")
    with pytest.raises(ReassignError, match="does not work in its department"):
        move_claims(db_session, actor(manager), items(fresh), adjuster_id=liab.id, reason="WORKLOAD_BALANCE")


def test_suggestions_rank_skilled_adjuster_with_spare_capacity_first(db_session):
    busy = make_user(db_session, "adjuster", ["LIABILITY"], skills=["property"], states=["CA"], capacity=5)
    unskilled = make_user(db_session, "adjuster", ["LIABILITY"], skills=["workers_comp"], states=["CA"])
    best = make_user(db_session, "adjuster", ["LIABILITY"], skills=["property", "auto"], states=["CA", "NV"])
    unlicensed = make_user(db_session, "adjuster", ["LIABILITY"], skills=["property"], states=["TX"])
    make_claims(db_session, 5, "LIABILITY", status="assigned", adjuster_id=busy.id)
    make_claims(db_session, 10, "LIABILITY", status="assigned", adjuster_id=best.id)
    selection = make_claims(db_session, 3, "PROPERTY")
    hints = rank_adjusters(db_session, department_ids(db_session)["LIABILITY"], [c.id for c in selection])
    order = [h.id for h in hints if h.id in {busy.id, unskilled.id, best.id, unlicensed.id}]
    assert order[0] == best.id
    top = next(h for h in hints if h.id == best.id)
    assert top.reason == "10 of 40 open, handles Property, licensed in CA"
    assert "does not handle Property" in next(h for h in hints if h.id == unskilled.id).reason
    assert "not licensed in CA" in next(h for h in hints if h.id == unlicensed.id).reason
    assert next(h for h in hints if h.id == busy.id).over_capacity


def test_second_choice_comes_from_the_latest_decision(db_session):
    claims = make_claims(db_session, 2, "PROPERTY")
    ids = department_ids(db_session)
    mv = ModelVersion(dataset=DATASET, version=f"ra-test-{next(_seq)}", params={}, feature_schema={}, classes=[],
                      metrics={}, n_train=0, n_holdout=0, artifact=b"")
    db_session.add(mv)
    db_session.flush()
    for c in claims:
        for probs in ({"PROPERTY": 0.6, "AUTO_PD": 0.3, "LIABILITY": 0.1},
                      {"PROPERTY": 0.5, "LIABILITY": 0.4, "AUTO_PD": 0.1}):  # the latest wins
            db_session.add(RoutingDecision(claim_id=c.id, model_version_id=mv.id, predicted_department_id=ids["PROPERTY"],
                                           routed_department_id=ids["PROPERTY"], probabilities=probs, confidence=0.5,
                                           threshold=0.4, features={}, shap_values={}, shap_method="approx",
                                           drivers=[]))
            db_session.flush()
    hints = second_choices(db_session, [c.id for c in claims])
    assert hints[0].code == "LIABILITY" and hints[0].claims == 2
    assert hints[0].mean_probability == pytest.approx(0.4)


def test_hints_for_triage_claims_name_the_models_guess_and_the_adjusters_view(db_session, team):
    """A Triage claim's hint was the model's runner-up, pointing away from its best guess;
    the department an adjuster suggested was on the claim page only."""
    from db.models import RoutingFeedback
    from services.suggestions import adjuster_suggestions

    _, liab, _ = team
    ids = department_ids(db_session)
    triaged, sure = make_claims(db_session, 1, "TRIAGE")[0], make_claims(db_session, 1, "AUTO_GLASS")[0]
    mv = ModelVersion(dataset=DATASET, version=f"ra-test-{next(_seq)}", params={}, feature_schema={}, classes=[],
                      metrics={}, n_train=0, n_holdout=0, artifact=b"")
    db_session.add(mv)
    db_session.flush()
    decisions = {}
    for claim, probs, routed in ((triaged, {"LIABILITY": 0.469, "AUTO_PD": 0.41, "PROPERTY": 0.121}, "TRIAGE"),
                                 (sure, {"AUTO_GLASS": 0.999, "AUTO_PD": 0.001}, "AUTO_GLASS")):
        d = RoutingDecision(claim_id=claim.id, model_version_id=mv.id, predicted_department_id=ids[max(probs,
                            key=probs.get)], routed_department_id=ids[routed], probabilities=probs,
                            confidence=max(probs.values()), threshold=0.5, features={}, shap_values={},
                            shap_method="approx", drivers=[])
        db_session.add(d)
        db_session.flush()
        decisions[claim.id] = d
    assert [(h.code, h.claims) for h in second_choices(db_session, [triaged.id])] == [("LIABILITY", 1)]
    assert second_choices(db_session, [sure.id]) == []  # 0.1% is no alternative worth naming
    assert adjuster_suggestions(db_session, [triaged.id]) == []
    for suggested in ("PROPERTY", "LIABILITY"):  # the latest verdict of a person counts
        db_session.add(RoutingFeedback(claim_id=triaged.id, decision_id=decisions[triaged.id].id, user_id=liab.id,
                                       agrees=False, reason_code="WRONG_DEPARTMENT",
                                       suggested_department_id=ids[suggested]))
        db_session.flush()
    hints = adjuster_suggestions(db_session, [triaged.id, sure.id])
    assert [(h.code, h.name, h.claims) for h in hints] == [("LIABILITY", "Liability / Bodily Injury", 1)]
    # The ids come from the browser: someone who cannot see Triage learns nothing about its claims.
    from services.suggestions import suggest

    assert suggest(db_session, actor(liab), [triaged.id], None)["second_choices"] == []
    assert suggest(db_session, actor(team[0]), [triaged.id], None)["second_choices"]


def test_concurrent_moves_second_one_gets_the_conflict(session_factory):
    """Two managers load the same claim version; the first move commits, the second is refused."""
    with session_factory.begin() as s:
        manager = make_user(s, "manager", [], tag="-cc")
        liab = make_user(s, "adjuster", ["LIABILITY"], tag="-cc")
        siu = make_user(s, "adjuster", ["SIU"], tag="-cc")
        claim = make_claims(s, 1, "PROPERTY", prefix="RACC")[0]
        seen = {"claim_id": claim.id, "version": claim.version}
        manager_u, liab_id, siu_id = actor(manager), liab.id, siu.id
    try:
        first, second = session_factory(), session_factory()
        loaded = second.get(Claim, seen["claim_id"])  # the second manager's page shows this version
        seen_second = {"claim_id": loaded.id, "version": loaded.version}
        second.rollback()
        assert seen_second == seen
        move_claims(first, manager_u, [seen], department_code="LIABILITY", adjuster_id=liab_id, reason="MISROUTED")
        first.commit()
        with pytest.raises(ConflictError) as err:
            move_claims(second, manager_u, [seen_second], department_code="SIU", adjuster_id=siu_id, reason="SIU_REFERRAL")
        second.rollback()
        assert err.value.current[0]["department"] == "LIABILITY"
        assert err.value.current[0]["version"] == seen["version"] + 1
        with session_factory() as check:
            now = check.get(Claim, seen["claim_id"])
            assert now.department.code == "LIABILITY" and now.adjuster_id == liab_id
            assert check.scalar(select(func.count()).select_from(ClaimEvent).where(
                ClaimEvent.claim_id == now.id, ClaimEvent.kind == "moved")) == 1
        first.close()
        second.close()
    finally:
        with session_factory.begin() as s:
            s.execute(delete(Claim).where(Claim.id == seen["claim_id"]))


# ---- the board's callbacks through the Dash endpoint -----------------------

def _callback_key(web_app, needle: str) -> tuple[str, dict]:
    key = next(k for k in web_app.callback_map if needle in k)
    return key, web_app.callback_map[key]


def call_move(client, web_app, selected, *, rows=None, department="LIABILITY", adjuster=None,
              reason="MISROUTED", comment=None, loaded=None):
    key, entry = _callback_key(web_app, "reassign-result.children")
    response = client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs_of(key),
        "inputs": [{"id": "reassign-move", "property": "n_clicks", "value": 1}],
        "state": [{"id": "reassign-grid", "property": "selectedRows", "value": selected},
                  {"id": "reassign-grid", "property": "rowData", "value": rows if rows is not None else selected},
                  {"id": "reassign-target-dept", "property": "value", "value": department},
                  {"id": "reassign-target-adjuster", "property": "value", "value": adjuster},
                  {"id": "reassign-reason", "property": "value", "value": reason},
                  {"id": "reassign-comment", "property": "value", "value": comment},
                  {"id": "reassign-loaded", "property": "data", "value": loaded}],
        "changedPropIds": ["reassign-move.n_clicks"],
    })
    if response.status_code != 200:
        return response.status_code, None
    return 200, json.loads(response.get_data(as_text=True))["response"]


def call_load(client, web_app, *, department=None, status=None, line=None, numbers=None, adjuster=None):
    """The Load claims button: (rowData, status text, the store the move reads)."""
    response = call_callback(
        web_app, client, "reassign-loaded.data",
        [("reassign-grid", "rowData"), ("reassign-status", "children"), ("reassign-loaded", "data")],
        [("reassign-load", "n_clicks", 1)],
        [("reassign-source-dept", "value", department), ("reassign-source-status", "value", status),
         ("reassign-source-line", "value", line), ("reassign-numbers", "value", numbers),
         ("reassign-source-adjuster", "value", adjuster)])
    assert response.status_code == 200, response.get_data(as_text=True)
    body = json.loads(response.get_data(as_text=True))["response"]
    return (body["reassign-grid"]["rowData"], body["reassign-status"]["children"],
            body.get("reassign-loaded", {}).get("data"))


def _moved_status(body) -> str:
    return next(v["children"] for k, v in body.items() if k.startswith("reassign-status"))


def web_claims(web_app, n: int, dept: str = "PROPERTY") -> list[dict]:
    """Claims of our own in the shared web database, as the board's rows."""
    from db.flask_db import unit_of_work
    from services.reassignment import current_state

    with web_app.server.app_context():
        with unit_of_work() as s:
            claims = make_claims(s, n, dept, prefix="RAW")
            return current_state(s, [c.id for c in claims])


def web_adjuster(web_app, dept: str = "LIABILITY") -> int:
    from db.flask_db import unit_of_work

    with web_app.server.app_context():
        with unit_of_work() as s:
            return make_user(s, "adjuster", [dept], skills=["property"], tag="-web").id


def web_state(web_app, ids: list[int]) -> dict[int, dict]:
    from db.flask_db import read_session
    from services.reassignment import current_state

    with web_app.server.app_context():
        return {r["id"]: r for r in current_state(read_session(), ids)}


def test_manager_moves_claims_through_the_board(web_app, client_for):
    rows = web_claims(web_app, 3)
    adjuster = web_adjuster(web_app)
    status, body = call_move(client_for("manager"), web_app, rows, adjuster=adjuster, comment="<b>not html</b>")
    assert status == 200
    assert "Moved 3 claims to Liability / Bodily Injury" in json.dumps(body["reassign-result"])
    new_rows = body["reassign-grid"]["rowData"]
    assert {r["department"] for r in new_rows} == {"LIABILITY"} and all(r["version"] == 2 for r in new_rows)
    # the grid shows words, not stored codes (it showed 'workers_comp' and 'new')
    assert {(r["line_label"], r["status_label"]) for r in new_rows} == {("Property", "Assigned")}
    state = web_state(web_app, [r["id"] for r in rows])
    assert all(s["department"] == "LIABILITY" and s["adjuster_id"] == adjuster for s in state.values())


@pytest.mark.parametrize("role", ["adjuster", "viewer"])
def test_other_roles_are_refused_by_the_guard(web_app, client_for, role):
    rows = web_claims(web_app, 1)
    status, _ = call_move(client_for(role), web_app, rows)
    assert status == 403
    assert web_state(web_app, [rows[0]["id"]])[rows[0]["id"]]["department"] == "PROPERTY"


@pytest.mark.parametrize("tamper", [
    lambda rows: [{**rows[0], "version": 99}],
    lambda rows: [{**rows[0], "id": 2**40}],
    lambda rows: [{**rows[0], "id": "1 OR 1=1"}],
    lambda rows: [{"id": rows[0]["id"]}],
    lambda rows: "all",
    lambda rows: [rows[0], None],
])
def test_tampered_selection_gets_a_message_and_changes_nothing(web_app, client_for, tamper):
    rows = web_claims(web_app, 1)
    status, body = call_move(client_for("manager"), web_app, tamper(rows))
    assert status == 200
    text = json.dumps(body["reassign-result"])
    assert "Nothing was moved" in text or "Select the claims" in text or "changed" in text
    assert web_state(web_app, [rows[0]["id"]])[rows[0]["id"]]["version"] == rows[0]["version"]


def test_a_selection_over_the_limit_is_counted_as_selected(web_app, client_for):
    """The service sees at most MAX_BULK + 1 rows: "501 were selected" for 676 ticked."""
    rows = web_claims(web_app, 1)
    selected = rows * (MAX_BULK + 176)
    status, body = call_move(client_for("manager"), web_app, selected, rows=rows)
    assert status == 200 and f"{MAX_BULK + 176:,} are selected" in json.dumps(body["reassign-result"])
    assert web_state(web_app, [rows[0]["id"]])[rows[0]["id"]]["version"] == rows[0]["version"]


@pytest.mark.parametrize("kwargs", [
    dict(department={"code": "LIABILITY"}), dict(adjuster="7; drop"), dict(reason=None),
    dict(reason=["MISROUTED"]), dict(comment={"x": 1}), dict(comment="x" * 50_000), dict(department="AUTO_PD", adjuster=-1),
])
def test_hostile_target_values_answer_with_a_message(web_app, client_for, kwargs):
    rows = web_claims(web_app, 1)
    status, body = call_move(client_for("manager"), web_app, rows, **kwargs)
    assert status == 200 and "reassign-error" in json.dumps(body["reassign-result"])
    assert web_state(web_app, [rows[0]["id"]])[rows[0]["id"]]["version"] == rows[0]["version"]


def _line_claims(web_app, n: int) -> tuple[str, list[dict]]:
    """Claims of a line of business no one else has, in the Property queue: a listing of exactly these."""
    from db.flask_db import unit_of_work
    from services.reassignment import current_state

    line = f"zline_{next(_seq)}_{dt.datetime.now():%H%M%S%f}"[:40]
    with web_app.server.app_context():
        with unit_of_work() as s:
            claims = make_claims(s, n, "PROPERTY", prefix="RAL", lob=line)
            return line, current_state(s, [c.id for c in claims])


def test_after_a_move_the_board_counts_the_listing_again_with_its_filters(web_app, client_for):
    """The count line said "5 open claims" after 2 of them had left the Property queue."""
    line, claims = _line_claims(web_app, 5)
    client = client_for("manager")
    rows, status, loaded = call_load(client, web_app, department="PROPERTY", line=line)
    assert len(rows) == 5 and status == "5 open claims."
    moved = rows[:2]
    status, body = call_move(client, web_app, moved, rows=rows, loaded=loaded)
    assert status == 200
    assert "Moved 2 claims to Liability / Bodily Injury" in json.dumps(body["reassign-result"])
    listed = body["reassign-grid"]["rowData"]
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in rows[2:])
    assert {r["department"] for r in listed} == {"PROPERTY"}
    assert body["reassign-grid"]["selectedRows"] == []
    assert _moved_status(body) == "3 open claims after the move: the 2 moved claims left this list."
    # the same figures as pressing Load again
    assert call_load(client, web_app, department="PROPERTY", line=line)[:2] == (listed, "3 open claims.")
    assert {s["department"] for s in web_state(web_app, [r["id"] for r in moved]).values()} == {"LIABILITY"}

    # pasted numbers: the moved claim stays listed, in its new department
    rows, status, loaded = call_load(client, web_app, numbers="\n".join(r["claim_number"] for r in rows[2:]))
    assert status == "3 open claims from the pasted numbers."
    status, body = call_move(client, web_app, rows[:1], rows=rows, department="AUTO_PD", loaded=loaded)
    assert status == 200
    listed = {r["id"]: r for r in body["reassign-grid"]["rowData"]}
    assert len(listed) == 3 and listed[rows[0]["id"]]["department"] == "AUTO_PD"
    assert _moved_status(body) == ("3 open claims from the pasted numbers after the move: "
                                   "the moved claim stays listed and shows where it is now.")


@pytest.mark.parametrize("loaded", [None, "x", {"department_code": "NOPE"}, {"claim_numbers": [1, None]},
                                    {"adjuster_id": True}])
def test_a_move_with_a_tampered_or_missing_listing_still_moves_and_says_so(web_app, client_for, loaded):
    rows = web_claims(web_app, 2)
    status, body = call_move(client_for("manager"), web_app, rows[:1], rows=rows, loaded=loaded)
    assert status == 200 and "reassign-success" in json.dumps(body["reassign-result"])
    assert [r["department"] for r in body["reassign-grid"]["rowData"]] == ["LIABILITY", "PROPERTY"]
    assert "press Load claims" in _moved_status(body)


def test_conflict_refreshes_the_row_with_the_current_state(web_app, client_for):
    rows = web_claims(web_app, 2)
    client = client_for("manager")
    assert call_move(client, web_app, rows[:1], department="LIABILITY")[0] == 200
    status, body = call_move(client, web_app, rows, department="SIU", reason="SIU_REFERRAL")  # row 0 is stale
    assert status == 200
    result = json.dumps(body["reassign-result"])
    assert "Someone else changed" in result
    # each changed claim is named once, in the list (the message used to repeat it above the list)
    assert result.count(rows[0]["claim_number"]) == 1 and "Their rows now show them as they are" in result
    refreshed = {r["id"]: r for r in body["reassign-grid"]["rowData"]}
    assert refreshed[rows[0]["id"]]["department"] == "LIABILITY" and refreshed[rows[0]["id"]]["version"] == 2
    assert web_state(web_app, [rows[1]["id"]])[rows[1]["id"]]["department"] == "PROPERTY"


def test_board_pages_render_for_managers_only(web_app, client_for):
    from tests.webutil import render_page

    status, body = render_page(client_for("manager"), "/reassign")
    assert status == 200 and "reassign-grid" in body and "MISROUTED" in body
    # Reasons and statuses read as words: a chosen reason showed as "WORKLOAD_BALANC…" in the
    # narrow column when its label started with the code.
    assert '"label":"Balancing workload","value":"WORKLOAD_BALANCE"' in body
    assert "WORKLOAD_BALANCE \u2014" not in body and "WORKLOAD_BALANCE —" not in body
    assert '"label":"Awaiting information","value":"awaiting_info"' in body
    assert '"field":"line_label"' in body and '"field":"status_label"' in body
    for role in ("adjuster", "viewer"):
        status, body = render_page(client_for(role), "/reassign")
        assert status == 200 and "Not allowed" in body and "reassign-grid" not in body


def test_an_overloaded_adjusters_claims_on_the_board(db_session, team):
    """Workload names who is over capacity; the board lists their claims to move some on."""
    from services.reassignment import board_adjusters, board_rows

    manager, liab, other = team
    theirs = make_claims(db_session, 3, "LIABILITY", status="assigned", adjuster_id=liab.id)
    theirs += make_claims(db_session, 1, "PROPERTY", status="assigned", adjuster_id=liab.id)
    make_claims(db_session, 2, "LIABILITY", status="assigned", adjuster_id=other.id)
    rows, total = board_rows(db_session, actor(manager), adjuster_id=liab.id)
    assert total == len(theirs) and {r["id"] for r in rows} == {c.id for c in theirs}
    rows, total = board_rows(db_session, actor(manager), department_code="LIABILITY", adjuster_id=liab.id)
    assert total == 3 and all(r["department"] == "LIABILITY" for r in rows)
    for junk in (True, "7", -1, 2**40):  # not an id: as if none was chosen
        assert board_rows(db_session, actor(manager), adjuster_id=junk) == ([], 0)
    assert liab.id in {i for i, _ in board_adjusters(db_session, actor(manager))}
    assert board_adjusters(db_session, None) == []


def test_workload_links_open_the_board_with_the_adjuster_chosen(web_app, client_for):
    from tests.webutil import render_page

    status, body = render_page(client_for("manager"), "/workload")
    assert status == 200
    _, page = render_page(client_for("manager"), "/reassign")
    adjusters = json.loads(page)["response"]["_pages_content"]["children"]
    found = re.search(r'"label":"([^"]+)","value":(\d+)\}', json.dumps(adjusters, separators=(",", ":")))
    assert found, "the board offers adjusters"
    _, body = render_page(client_for("manager"), "/reassign", f"?adjuster={found.group(2)}")
    assert f'"value":{found.group(2)}' in body.replace(" ", "") and "reassign-source-adjuster" in body
    for bad in ("abc", "-1", "999999999", "1 OR 1=1"):  # not an offered adjuster: nothing chosen
        status, body = render_page(client_for("manager"), "/reassign", f"?adjuster={bad}")
        assert status == 200 and "reassign-grid" in body


def _suggest(client, selected, department="LIABILITY"):
    return client.post("/_dash-update-component", json={
        "output": "..reassign-selected.children...reassign-target-adjuster.options..."
                  "reassign-adjuster-hints.children...reassign-dept-hint.children..",
        "outputs": [{"id": "reassign-selected", "property": "children"},
                    {"id": "reassign-target-adjuster", "property": "options"},
                    {"id": "reassign-adjuster-hints", "property": "children"},
                    {"id": "reassign-dept-hint", "property": "children"}],
        "inputs": [{"id": "reassign-grid", "property": "selectedRows", "value": selected},
                   {"id": "reassign-target-dept", "property": "value", "value": department}],
        "changedPropIds": ["reassign-grid.selectedRows"],
    })


def test_suggestions_callback_shows_second_choice_and_ranked_adjusters(web_app, client_for):
    from db.flask_db import read_session
    from services.reassignment import board_rows

    with web_app.server.app_context():
        manager = SessionUser(id=0, email="m@x", name="m", role="manager", department_ids=())
        rows, _ = board_rows(read_session(), manager, department_code="AUTO_PD")
    # Not the near-certain ones: their alternatives are under 5% and give no hint.
    routed = [r for r in rows if r["confidence"] is not None and r["confidence"] < 0.8][:5]
    assert routed, "demo claims are routed at bootstrap, some of them unsure"
    web_adjuster(web_app, "LIABILITY")
    assert _suggest(client_for("adjuster"), routed).status_code == 403
    response = _suggest(client_for("manager"), routed)
    body = json.loads(response.get_data(as_text=True))["response"]
    assert body["reassign-selected"]["children"] == f"{len(routed)} selected"
    assert "outside their department" in json.dumps(body["reassign-dept-hint"])
    options = body["reassign-target-adjuster"]["options"]
    assert options and all("open" in o["label"] for o in options)
    assert "score" in json.dumps(body["reassign-adjuster-hints"])


@pytest.mark.parametrize("selected,department", [
    (["junk", {"id": "1"}, {"id": True}, None], "LIABILITY"), ("x" * 1000, {"a": 1}), (None, None),
    ([{"id": 2**70}], "NO_SUCH"),
])
def test_suggestions_callback_survives_junk(client_for, selected, department):
    response = _suggest(client_for("manager"), selected, department)
    assert response.status_code == 200
