"""Team workload: counts per adjuster and department, age buckets, capacity,
and the page's refresh callback behind its permission."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from services.access import AccessDenied
from services.workload import AGE_BUCKETS, adjuster_loads, department_loads
from tests.integration.test_reassignment import actor, make_claims, make_user


def test_open_claims_per_adjuster_with_capacity(db_session):
    manager = make_user(db_session, "manager", [])
    full = make_user(db_session, "adjuster", ["WORKERS_COMP"], capacity=3)
    idle = make_user(db_session, "adjuster", ["WORKERS_COMP"], capacity=10)
    make_claims(db_session, 4, "WORKERS_COMP", status="assigned", adjuster_id=full.id)
    make_claims(db_session, 2, "WORKERS_COMP", status="closed", adjuster_id=idle.id)  # closed ones do not count
    loads = {a.id: a for a in adjuster_loads(db_session, actor(manager))}
    assert (loads[full.id].open_claims, loads[full.id].capacity, loads[full.id].over_capacity) == (4, 3, True)
    assert (loads[idle.id].open_claims, loads[idle.id].over_capacity) == (0, False)
    order = [a.id for a in adjuster_loads(db_session, actor(manager))]
    assert order.index(full.id) < order.index(idle.id)  # fullest first


def test_department_age_buckets_and_team(db_session):
    manager = make_user(db_session, "manager", [])
    before = {d.code: d for d in department_loads(db_session, actor(manager))}["WORKERS_COMP"]
    over = make_user(db_session, "adjuster", ["WORKERS_COMP"], capacity=1)
    # report dates today, 10, 20, ..., 100 days ago
    make_claims(db_session, 11, "WORKERS_COMP", lob="workers_comp", status="assigned", adjuster_id=over.id)
    after = {d.code: d for d in department_loads(db_session, actor(manager), today=dt.date.today())}["WORKERS_COMP"]
    delta = {b: after.ages[b] - before.ages[b] for b in AGE_BUCKETS}
    assert delta == {"0–7 days": 1, "8–30 days": 3, "31–90 days": 6, "90+ days": 1}
    assert after.open_claims - before.open_claims == 11 and after.unassigned == before.unassigned
    assert after.adjusters == before.adjusters + 1 and after.over_capacity == before.over_capacity + 1


@pytest.mark.parametrize("role", ["adjuster", "viewer"])
def test_only_workload_viewers(db_session, role):
    user = make_user(db_session, role, ["PROPERTY"])
    with pytest.raises(AccessDenied):
        department_loads(db_session, actor(user))
    with pytest.raises(AccessDenied):
        adjuster_loads(db_session, actor(user))


def _refresh(client):
    return client.post("/_dash-update-component", json={
        "output": "..workload-content.children...workload-updated.children..",
        "outputs": [{"id": "workload-content", "property": "children"},
                    {"id": "workload-updated", "property": "children"}],
        "inputs": [{"id": "workload-interval", "property": "n_intervals", "value": 3}],
        "state": [], "changedPropIds": ["workload-interval.n_intervals"],
    })


def test_refresh_callback_for_managers_only(client_for):
    response = _refresh(client_for("manager"))
    assert response.status_code == 200
    body = json.loads(response.get_data(as_text=True))["response"]
    text = json.dumps(body)
    assert "workload-open-PROPERTY" in text and "Age of open claims" in text
    assert body["workload-updated"]["children"].startswith("Updated")
    assert body["workload-updated"]["children"].endswith(" UTC")  # was the server clock, unlabelled
    for role in ("adjuster", "viewer"):
        assert _refresh(client_for(role)).status_code == 403


def test_workload_page_renders_for_managers_only(client_for):
    from tests.webutil import render_page

    status, body = render_page(client_for("manager"), "/workload")
    assert status == 200 and "workload-interval" in body
    status, body = render_page(client_for("adjuster"), "/workload")
    assert status == 200 and "Not allowed" in body and "workload-interval" not in body


def _department(session, tag: str) -> str:
    from db.models import Department

    code = f"WL{tag}"
    session.add(Department(code=code, name=f"Workload test {tag}", color="#0072B2"))
    session.flush()
    return code


def test_a_shared_adjuster_is_counted_once_across_departments(db_session):
    """An adjuster on two teams adds their capacity once, split equally between the
    teams: department capacities add up to the capacity of the distinct adjusters."""
    manager = make_user(db_session, "manager", [])
    a, b = _department(db_session, "A"), _department(db_session, "B")
    shared = make_user(db_session, "adjuster", [a, b], capacity=41)
    make_user(db_session, "adjuster", [a], capacity=10)
    make_claims(db_session, 3, a, status="assigned", adjuster_id=shared.id)
    depts = {d.code: d for d in department_loads(db_session, actor(manager))}
    # 41 split as 21 + 20 (the extra claim to the department listed first), never 41 + 41
    assert depts[a].capacity + depts[b].capacity == 41 + 10
    assert sorted((depts[a].capacity - 10, depts[b].capacity)) == [20, 21]
    assert (depts[a].adjusters, depts[a].shared, depts[b].adjusters, depts[b].shared) == (2, 1, 1, 1)
    assert {ld.id: ld for ld in adjuster_loads(db_session, actor(manager))}[shared.id].capacity == 41
    # the whole database: no capacity counted twice, none lost
    loads = adjuster_loads(db_session, actor(manager))
    active = {d.code for d in department_loads(db_session, actor(manager))}
    distinct = sum(ld.capacity for ld in loads if set(ld.departments) & active)
    assert sum(d.capacity for d in department_loads(db_session, actor(manager))) == distinct


def test_capacity_shares_are_whole_and_add_up():
    from services.workload import capacity_shares

    assert capacity_shares(40, 3) == [14, 13, 13] and capacity_shares(41, 2) == [21, 20]
    assert capacity_shares(0, 2) == [0, 0] and capacity_shares(7, 1) == [7] and capacity_shares(5, 0) == []


def test_adjusters_show_department_names(db_session):
    manager = make_user(db_session, "manager", [])
    two = make_user(db_session, "adjuster", ["AUTO_PD", "WORKERS_COMP"], capacity=5)
    load = {ld.id: ld for ld in adjuster_loads(db_session, actor(manager))}[two.id]
    assert load.departments == ("AUTO_PD", "WORKERS_COMP")  # codes stay for filters and ids
    assert load.department_names == ("Auto Physical Damage", "Workers' Comp")


def test_open_claims_past_their_department_service_level(db_session):
    """Each department counts open claims older than its own service level (Auto Glass
    14 days, Workers' Comp 180): the same ages are late in one and on time in the other."""
    manager = make_user(db_session, "manager", [])
    loads = lambda: {d.code: d for d in department_loads(db_session, actor(manager))}  # noqa: E731
    before = loads()
    assert (before["AUTO_GLASS"].sla_days, before["WORKERS_COMP"].sla_days) == (14, 180)
    # report dates today, 10, 20, ..., 190 days ago, in each department
    make_claims(db_session, 20, "AUTO_GLASS", lob="auto", status="assigned")
    make_claims(db_session, 20, "WORKERS_COMP", lob="workers_comp", status="assigned")
    make_claims(db_session, 5, "WORKERS_COMP", lob="workers_comp", status="closed")  # closed: never late
    after = loads()
    assert after["AUTO_GLASS"].past_sla - before["AUTO_GLASS"].past_sla == 18  # 20 ... 190 days
    assert after["WORKERS_COMP"].past_sla - before["WORKERS_COMP"].past_sla == 1  # 190 days



def test_loads_equal_a_plain_count_of_the_open_claims(db_session):
    """What the page shows equals a straightforward count over the claims table (the
    partial index of open claims answers the service's query, migration 0018), and
    the adjusters the callback passes in change nothing."""
    from sqlalchemy import text

    manager = make_user(db_session, "manager", [])
    person = make_user(db_session, "adjuster", ["PROPERTY"], capacity=2)
    make_claims(db_session, 12, "PROPERTY", status="assigned", adjuster_id=person.id)
    unassigned = make_claims(db_session, 12, "LIABILITY", status="in_review")
    unassigned[0].report_date = None  # aged from its creation instead
    make_claims(db_session, 4, "PROPERTY", status="closed", adjuster_id=person.id)
    db_session.flush()
    today = dt.date.today()
    rows = db_session.execute(text("""
        SELECT d.code, count(c.id) AS open, count(c.id) FILTER (WHERE c.adjuster_id IS NULL) AS unassigned,
               count(c.id) FILTER (WHERE :today - coalesce(c.report_date, c.created_at::date) <= 7) AS a,
               count(c.id) FILTER (WHERE :today - coalesce(c.report_date, c.created_at::date) BETWEEN 8 AND 30) AS b,
               count(c.id) FILTER (WHERE :today - coalesce(c.report_date, c.created_at::date) BETWEEN 31 AND 90) AS c,
               count(c.id) FILTER (WHERE :today - coalesce(c.report_date, c.created_at::date) > 90) AS d,
               count(c.id) FILTER (WHERE :today - coalesce(c.report_date, c.created_at::date) > d.sla_days) AS late
        FROM departments d LEFT JOIN claims c ON c.department_id = d.id AND c.status <> 'closed'
        WHERE d.active GROUP BY d.code"""), {"today": today}).all()
    expected = {r.code: (r.open, r.unassigned, [r.a, r.b, r.c, r.d], r.late) for r in rows}
    per_adjuster = dict(db_session.execute(text(
        "SELECT adjuster_id, count(*) FROM claims WHERE status <> 'closed' AND adjuster_id IS NOT NULL "
        "GROUP BY adjuster_id")).all())
    adjusters = adjuster_loads(db_session, actor(manager))
    assert {a.id: a.open_claims for a in adjusters if a.open_claims} == per_adjuster
    assert {a.id: a.open_claims for a in adjusters}[person.id] == 12
    for loads in (department_loads(db_session, actor(manager), today=today),
                  department_loads(db_session, actor(manager), today=today, adjusters=adjusters)):
        got = {d.code: (d.open_claims, d.unassigned, [d.ages[b] for b in AGE_BUCKETS], d.past_sla) for d in loads}
        assert got == expected
    assert expected["LIABILITY"][1] >= 12 and expected["PROPERTY"][0] >= 12
