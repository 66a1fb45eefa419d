"""Every operations rollup figure equals the same figure computed straight from the raw tables."""
from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter, defaultdict

import pytest
from sqlalchemy import text

from db.models import Claim, ClaimEvent, Department, ModelVersion, RoutingDecision, RoutingFeedback
from services import aggregates, operations, workload
from services.aggregates import Filters
from services.datasets import ensure_dataset
from services.users import create_user

TODAY = dt.date(2026, 6, 30)
START, END = dt.date(2026, 1, 1), dt.date(2026, 6, 30)
EDGES = (0.5, 0.6, 0.7, 0.8, 0.9)
# Exact band edges are in the data on purpose: 0.5, 0.6, 0.9 and 1.0.
CONFIDENCES = (0.31, 0.5, 0.55, 0.6, 0.67, 0.7, 0.75, 0.8, 0.89, 0.9, 0.97, 1.0)


def _utc(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), dt.timezone.utc)


@pytest.fixture()
def world(db_session):
    """Three departments of their own, a team, 240 claims with decisions, moves and verdicts."""
    s = db_session
    rnd = random.Random(20261128)
    tag = uuid.uuid4().hex[:6].upper()
    depts = []
    for i, color in enumerate(("#0072B2", "#009E73", "#D55E00")):
        d = Department(code=f"OPS{tag}{i}", name=f"Ops test {tag} {i}", color=color)
        s.add(d)
        depts.append(d)
    s.flush()
    ensure_dataset(s, "ops_test", [{"name": "description", "kind": "text"}])
    people = []
    for i, capacity in enumerate((3, 10, 25)):
        u = create_user(s, email=f"ops{tag.lower()}{i}@example.com", role="adjuster",
                        password=f"Sturdy-{tag}-harbour-42",
                        name=f"Ops adjuster {tag} {i}", department_codes=[depts[i % 3].code], actor="test")
        u.capacity = capacity
        people.append(u)
    mv = ModelVersion(dataset="ops_test", version=f"ops-test-{tag}", status="retired", params={},
                      feature_schema={}, classes=[d.code for d in depts], metrics={}, n_train=0, n_holdout=0,
                      artifact=b"x")
    s.add(mv)
    s.flush()
    claims = []
    for n in range(240):
        report = START - dt.timedelta(days=40) + dt.timedelta(days=rnd.randrange(0, 230))
        closed = rnd.random() < 0.6 and report < END
        final = rnd.choice(depts)
        c = Claim(claim_number=f"OPS-{tag}-{n:04d}", dataset="ops_test", source_key=f"ops:{tag}:{n}",
                  report_date=report, department_id=final.id,
                  status="closed" if closed else rnd.choice(("new", "assigned", "in_review")),
                  closed_at=_utc(report + dt.timedelta(days=rnd.randrange(0, 60))) if closed else None,
                  adjuster_id=rnd.choice([None] + [p.id for p in people if final in p.departments]))
        s.add(c)
        claims.append(c)
    s.flush()
    for c in claims:
        if rnd.random() < 0.15:
            continue  # never routed
        for k in range(rnd.choice((1, 1, 2))):  # some claims were re-routed; only the first counts
            predicted = rnd.choice(depts) if rnd.random() < 0.4 else next(d for d in depts if d.id == c.department_id)
            conf = rnd.choice(CONFIDENCES)
            dec = RoutingDecision(claim_id=c.id, model_version_id=mv.id, predicted_department_id=predicted.id,
                                  routed_department_id=predicted.id, probabilities={}, confidence=conf,
                                  threshold=0.5, features={}, shap_values={}, shap_method="approx", drivers=[],
                                  decided_at=_utc(c.report_date, 9 + k))
            s.add(dec)
            s.flush()
            for p in people:
                for v in range(rnd.choice((0, 0, 1, 2))):  # a changed verdict: only the latest counts
                    agrees = rnd.random() < 0.7
                    s.add(RoutingFeedback(claim_id=c.id, decision_id=dec.id, user_id=p.id, agrees=agrees,
                                          reason_code=None if agrees else rnd.choice(("WRONG_LOB", "NEEDS_SIU",
                                                                                      "WRONG_DEPARTMENT")),
                                          suggested_department_id=None if agrees else rnd.choice(depts).id,
                                          created_at=_utc(c.report_date + dt.timedelta(days=rnd.randrange(0, 9)),
                                                          10 + v)))
        if rnd.random() < 0.3:
            a, b = rnd.sample(depts, 2)
            s.add(ClaimEvent(claim_id=c.id, kind="moved", from_department_id=a.id, to_department_id=b.id,
                             reason=rnd.choice(("MISROUTED", "WORKLOAD_BALANCE")),
                             at=_utc(c.report_date + dt.timedelta(days=1))))
        if rnd.random() < 0.1:  # an adjuster-only move (same department) is not a flow
            s.add(ClaimEvent(claim_id=c.id, kind="moved", from_department_id=c.department_id,
                             to_department_id=c.department_id, reason="WORKLOAD_BALANCE",
                             at=_utc(c.report_date + dt.timedelta(days=2))))
    s.flush()
    aggregates.refresh(s)
    return {"s": s, "depts": depts, "people": people, "ids": [d.id for d in depts]}


def _band(conf: float) -> int:
    return sum(conf >= e for e in EDGES)


def _first_decisions(s):
    return s.execute(text("""
        SELECT c.id, c.department_id, coalesce(c.closed_at::date, c.report_date, c.created_at::date) AS day,
               d.predicted_department_id, d.confidence
        FROM claims c JOIN routing_decisions d ON d.claim_id = c.id
        WHERE c.status = 'closed'
          AND d.id = (SELECT min(id) FROM routing_decisions x WHERE x.claim_id = c.id)""")).all()


@pytest.mark.parametrize("scope", ["all", "department"])
def test_routing_quality_equals_raw(world, scope):
    s, depts = world["s"], world["depts"]
    dept = depts[1] if scope == "department" else None
    f = Filters(START, END, dept.id if dept else None)
    departments = operations._departments(s)
    got = operations.routing_data(s, f, departments)

    rows = [r for r in _first_decisions(s) if START <= r.day <= END and (dept is None or r.department_id == dept.id)]
    assert rows, "the test data must have closed, routed claims in the period"
    cells = Counter((r.department_id, r.predicted_department_id) for r in rows)
    code = {d["code"]: i for i, d in departments.items()}
    matrix = {(code[a], code[b]): got["matrix"][i][j]
              for i, a in enumerate(got["rows"]) for j, b in enumerate(got["columns"]) if got["matrix"][i][j]}
    assert matrix == dict(cells)
    assert got["total"] == len(rows)
    assert got["correct"] == sum(r.department_id == r.predicted_department_id for r in rows)

    for b in got["bands"]:
        in_band = [r for r in rows if _band(r.confidence) == b["band"]]
        assert b["claims"] == len(in_band)
        if in_band:
            assert b["mean_confidence"] == pytest.approx(sum(r.confidence for r in in_band) / len(in_band))
            assert b["accuracy"] == pytest.approx(
                sum(r.department_id == r.predicted_department_id for r in in_band) / len(in_band))
        else:
            assert b["mean_confidence"] is None and b["accuracy"] is None
    assert sum(b["claims"] for b in got["bands"]) == len(rows)
    # the edges landed where the labels say
    assert [_band(c) for c in (0.5, 0.6, 0.9, 1.0)] == [1, 2, 5, 5]


def test_band_of_matches_the_refresh(world):
    assert [operations.band_of(c) for c in CONFIDENCES] == [_band(c) for c in CONFIDENCES]


@pytest.mark.parametrize("scope", ["all", "department"])
def test_moves_equal_raw(world, scope):
    s, depts = world["s"], world["depts"]
    dept = depts[0] if scope == "department" else None
    f = Filters(START, END, dept.id if dept else None)
    got = operations.moves_data(s, f, operations._departments(s))
    raw = s.execute(text("""
        SELECT from_department_id, to_department_id, reason, count(*) FROM claim_events
        WHERE kind = 'moved' AND at::date BETWEEN :a AND :b AND from_department_id <> to_department_id
          AND (CAST(:d AS integer) IS NULL OR from_department_id = :d OR to_department_id = :d)
        GROUP BY 1, 2, 3"""), {"a": START, "b": END, "d": dept.id if dept else None}).all()
    flows, reasons = Counter(), Counter()
    codes = {d.id: d.code for d in s.query(Department)}
    for a, b, reason, n in raw:
        flows[(codes[a], codes[b])] += n
        reasons[reason] += n
    assert {(x["from"]["code"], x["to"]["code"]): x["moves"] for x in got["flows"]} == dict(flows)
    assert {x["code"]: x["moves"] for x in got["reasons"]} == dict(reasons)
    assert got["total"] == sum(flows.values()) > 0
    assert all(x["from"]["code"] != x["to"]["code"] for x in got["flows"])


@pytest.mark.parametrize("scope", ["all", "department"])
def test_feedback_equals_raw(world, scope):
    s, depts = world["s"], world["depts"]
    dept = depts[2] if scope == "department" else None
    f = Filters(START, END, dept.id if dept else None)
    got = operations.feedback_data(s, f, operations._departments(s))
    latest = s.execute(text("""
        SELECT f.user_id, f.decision_id, f.id, f.agrees, f.reason_code, f.suggested_department_id,
               f.created_at::date AS day, d.routed_department_id
        FROM routing_feedback f JOIN routing_decisions d ON d.id = f.decision_id""")).all()
    current = {}
    for r in sorted(latest, key=lambda r: r.id):
        current[(r.user_id, r.decision_id)] = r
    rows = [r for r in current.values() if START <= r.day <= END
            and (dept is None or r.routed_department_id == dept.id)]
    assert got["total"] == len(rows) > 0
    assert got["agree"] == sum(r.agrees for r in rows)
    assert got["agreement"] == pytest.approx(sum(r.agrees for r in rows) / len(rows))
    reasons = Counter(r.reason_code for r in rows if not r.agrees)
    assert {x["code"]: x["verdicts"] for x in got["reasons"]} == dict(reasons.most_common(operations.TOP_REASONS))
    codes = {d.id: d.code for d in s.query(Department)}
    for item in got["reasons"]:
        suggested = Counter(codes[r.suggested_department_id] for r in rows
                            if not r.agrees and r.reason_code == item["code"] and r.suggested_department_id)
        assert {x["code"]: x["verdicts"] for x in item["suggested"]} == dict(suggested)


def test_workload_equals_raw(world):
    s, depts, people = world["s"], world["depts"], world["people"]
    got = operations.workload_data(s, Filters(START, END), today=TODAY)
    raw = s.execute(text("""
        SELECT department_id, adjuster_id, coalesce(report_date, created_at::date) AS day FROM claims
        WHERE status <> 'closed'""")).all()
    by_code = {d["code"]: d for d in got["departments"]}
    for d in depts:
        mine = [r for r in raw if r.department_id == d.id]
        ages = [0] * len(workload.AGE_BUCKETS)
        for r in mine:
            ages[workload.age_bucket((TODAY - r.day).days)] += 1
        row = by_code[d.code]
        assert row["open"] == len(mine) > 0
        assert row["ages"] == ages
        assert row["unassigned"] == sum(r.adjuster_id is None for r in mine)
        assert row["sla_days"] == d.sla_days
        assert row["past_sla"] == sum((TODAY - r.day).days > d.sla_days for r in mine)
        team = [p for p in people if d in p.departments]
        assert row["capacity"] == sum(p.capacity for p in team)
    by_id = {a["id"]: a for a in got["adjusters"]}
    for p in people:
        open_claims = sum(r.adjuster_id == p.id for r in raw)
        assert by_id[p.id]["open"] == open_claims
        assert by_id[p.id]["over"] == (open_claims > p.capacity)
        assert by_id[p.id]["use"] == pytest.approx(open_claims / p.capacity)
    assert any(a["over"] for a in got["adjusters"] if a["id"] in {p.id for p in people})

    one = operations.workload_data(s, Filters(START, END, depts[1].id), today=TODAY)
    assert [d["code"] for d in one["departments"]] == [depts[1].code]
    assert {a["id"] for a in one["adjusters"]} >= {p.id for p in people if depts[1] in p.departments}
    assert all(depts[1].code in a["departments"] for a in one["adjusters"])


def test_age_buckets_follow_the_workload_page(world):
    """The live workload page and the rollup put every open claim in the same bucket."""
    s = world["s"]
    manager = type("U", (), {"can": lambda self, p: True})()
    live = {d.code: (list(d.ages.values()), d.past_sla) for d in workload.department_loads(s, manager, today=TODAY)}
    rolled = {d["code"]: (d["ages"], d["past_sla"])
              for d in operations.workload_data(s, Filters(START, END), today=TODAY)["departments"]}
    assert live == rolled


@pytest.mark.parametrize("days", [30, 181])
def test_flow_equals_raw(world, days):
    s, depts = world["s"], world["depts"]
    end = END
    start = end - dt.timedelta(days=days - 1)
    f = Filters(start, end, depts[0].id)
    got = operations.flow_data(s, f, operations._departments(s))
    received = defaultdict(int)
    closed = defaultdict(int)
    for day, status, cday in s.execute(text("""
            SELECT coalesce(report_date, created_at::date), status,
                   coalesce(closed_at::date, report_date, created_at::date)
            FROM claims WHERE department_id = :d"""), {"d": depts[0].id}):
        key = (lambda x: x - dt.timedelta(days=x.weekday())) if days > operations.WEEKLY_AFTER_DAYS else (lambda x: x)
        if start <= day <= end:
            received[key(day)] += 1
        if status == "closed" and start <= cday <= end:
            closed[key(cday)] += 1
    assert got["grain"] == ("week" if days > operations.WEEKLY_AFTER_DAYS else "day")
    # days with only feedback have a kpi_daily row with nothing received or closed
    series = {p: v for p, v in zip(got["periods"], zip(got["received"], got["closed"])) if v != (0, 0)}
    expected = {p.isoformat(): (received[p], closed[p]) for p in set(received) | set(closed)}
    assert series == expected
    assert sum(received.values()) > 0 and sum(closed.values()) > 0
    assert got["by_department"] == [{"code": depts[0].code, "name": depts[0].name, "color": depts[0].color,
                                     "received": sum(received.values()), "closed": sum(closed.values())}]


def test_refresh_is_idempotent_and_page_data_is_consistent(world):
    s, depts = world["s"], world["depts"]
    manager = type("U", (), {"can": lambda self, p: True})()
    f = Filters(START, END, depts[0].id)
    before = operations.page_data(s, manager, f, today=TODAY, use_cache=False)
    aggregates.refresh(s)
    after = operations.page_data(s, manager, f, today=TODAY, use_cache=False)
    assert before == after
    assert operations.page_data(s, manager, f, today=TODAY) == operations.page_data(s, manager, f, today=TODAY)
    assert before["filters"]["department"] == depts[0].code


def test_page_data_refuses_roles_without_the_permission(world):
    from auth.permissions import Perm
    from services.access import AccessDenied

    class Viewer:
        def can(self, perm):
            return perm != Perm.VIEW_OPERATIONS

    with pytest.raises(AccessDenied):
        operations.page_data(world["s"], Viewer(), Filters(START, END))
    with pytest.raises(AccessDenied):
        operations.page_data(world["s"], None, Filters(START, END))


def test_filters_default_to_the_last_180_days_and_reject_bad_input(world):
    s, depts = world["s"], world["depts"]
    f = operations.parse_filters(s, {})
    assert f.days == operations.DEFAULT_DAYS and f.end == aggregates.data_bounds(s)[1]
    assert operations.parse_filters(s, {"start": "2026-01-01", "end": "2026-02-01",
                                        "department": depts[0].code}).department_id == depts[0].id
    for bad in ({"department": "NO_SUCH"}, {"start": "2026-13-01"}, {"start": "2026-02-01", "end": "2026-01-01"},
                {"department": ["x"]}, "nonsense"):
        with pytest.raises(aggregates.FilterError):
            operations.parse_filters(s, bad)


def test_shared_adjuster_capacity_adds_up_once(world):
    """A shared adjuster's capacity is split across their departments, so the page's
    total capacity (the sum over departments) is the distinct team's, and the
    capacity use card is not understated."""
    s, depts, people = world["s"], world["depts"], world["people"]
    shared = people[2]  # capacity 25, in depts[2]; now also in depts[0]
    shared.departments.append(depts[0])
    s.flush()
    got = operations.workload_data(s, Filters(START, END), today=TODAY)
    by_code = {d["code"]: d for d in got["departments"]}
    mine = [by_code[d.code]["capacity"] for d in depts]
    assert sum(mine) == sum(p.capacity for p in people) == 38
    assert mine[0] + mine[2] == 25 + 3 and by_code[depts[0].code]["shared"] == 1
    total = sum(d["capacity"] for d in got["departments"])
    active = set(by_code)
    distinct = sum(a["capacity"] for a in got["adjusters"] if set(a["departments"]) & active)
    assert total == distinct
    row = next(a for a in got["adjusters"] if a["id"] == shared.id)
    assert row["capacity"] == 25 and sorted(row["department_names"]) == sorted([depts[0].name, depts[2].name])
