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
    for role in ("adjuster", "viewer"):
        assert _refresh(client_for(role)).status_code == 403


def test_workload_page_renders_for_managers_only(client_for):
    from tests.webutil import render_page

    status, body = render_page(client_for("manager"), "/workload")
    assert status == 200 and "workload-interval" in body
    status, body = render_page(client_for("adjuster"), "/workload")
    assert status == 200 and "Not allowed" in body and "workload-interval" not in body
