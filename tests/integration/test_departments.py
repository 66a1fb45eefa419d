"""Department service levels: the admin sets them (validated, audited, admins only),
and Workload and Operations count open claims past the new level at once."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from db.models import AuditLog, Department
from services import aggregates, cache, operations, workload
from services.access import AccessDenied
from services.aggregates import Filters
from services.departments import (DepartmentError, LevelConflict, NothingChanged, department_rows,
                                  forget_cached_reads, set_service_level)
from tests.integration.test_reassignment import actor, make_claims, make_user


@pytest.fixture()
def dept(db_session):
    """A department of its own at 30 days, with open claims reported 0, 10, 20, 30
    and 40 days ago (one past the level) and two closed ones (never counted)."""
    tag = uuid.uuid4().hex[:6].upper()
    d = Department(code=f"SLA{tag}", name=f"SLA test {tag}", color="#0072B2", sla_days=30)
    db_session.add(d)
    db_session.flush()
    make_claims(db_session, 5, d.code, status="assigned")
    make_claims(db_session, 2, d.code, status="closed")
    return d


@pytest.fixture()
def admin(db_session):
    return actor(make_user(db_session, "admin", []))


def _level(session, dept_id: int) -> int:
    return session.scalar(select(Department.sla_days).where(Department.id == dept_id).execution_options(
        populate_existing=True))


def _audit_rows(session, dept_id: int) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == "department.sla",
                                                       AuditLog.target_id == str(dept_id))))


def test_rows_list_every_department_with_open_claims_past_the_level(db_session, dept, admin):
    rows = {r["code"]: r for r in department_rows(db_session, admin)}
    mine = rows[dept.code]
    assert (mine["id"], mine["name"], mine["sla_days"], mine["active"], mine["is_triage"]) == \
        (dept.id, dept.name, 30, True, False)
    assert (mine["open"], mine["past_sla"]) == (5, 1)  # 40 days > 30; exactly 30 is not past
    assert rows["TRIAGE"]["is_triage"] and rows["PROPERTY"]["lines_of_business"][0] == "property"
    dept.active = False  # an inactive department is still listed, so its level can be set
    db_session.flush()
    assert {r["code"]: r["active"] for r in department_rows(db_session, admin)}[dept.code] is False


def test_admin_sets_a_level_and_an_audit_row_is_written(db_session, dept, admin):
    changed, before = set_service_level(db_session, admin, dept.id, 15)
    assert (changed.id, changed.sla_days, before) == (dept.id, 15, 30)
    assert _level(db_session, dept.id) == 15
    (row,) = _audit_rows(db_session, dept.id)
    assert (row.actor, row.actor_id, row.target_type) == (admin.email, admin.id, "department")
    assert row.before == {"code": dept.code, "sla_days": 30} and row.after == {"code": dept.code, "sla_days": 15}
    # the listing counts past the new level at once: 20, 30 and 40 days > 15
    assert {r["code"]: r["past_sla"] for r in department_rows(db_session, admin)}[dept.code] == 3


@pytest.mark.parametrize("value", [None, "", "30", "abc", 0, -5, 3651, 10**9, 12.5, float("nan"), True, [30],
                                   {"days": 30}])
def test_invalid_levels_are_refused_and_change_nothing(db_session, dept, admin, value):
    with pytest.raises(DepartmentError, match="whole number of days from 1 to 3650"):
        set_service_level(db_session, admin, dept.id, value)
    assert _level(db_session, dept.id) == 30
    assert _audit_rows(db_session, dept.id) == []


@pytest.mark.parametrize("bad_id", [None, "1", "", -1, 0, True, 2**40, 1.0, [1], {"id": 1}, 987654321])
def test_unknown_or_malformed_department_ids_are_refused(db_session, admin, bad_id):
    before = db_session.scalar(select(func.count()).select_from(AuditLog))
    with pytest.raises(DepartmentError, match="No such department"):
        set_service_level(db_session, admin, bad_id, 20)
    assert db_session.scalar(select(func.count()).select_from(AuditLog)) == before


def test_bounds_are_accepted(db_session, dept, admin):
    set_service_level(db_session, admin, dept.id, 1)
    set_service_level(db_session, admin, dept.id, 3650.0)  # a whole float from a number field
    assert _level(db_session, dept.id) == 3650 and len(_audit_rows(db_session, dept.id)) == 2


@pytest.mark.parametrize("role", ["manager", "adjuster", "viewer"])
def test_other_roles_are_refused(db_session, dept, role):
    user = actor(make_user(db_session, role, [dept.code]))
    with pytest.raises(AccessDenied):
        set_service_level(db_session, user, dept.id, 15)
    with pytest.raises(AccessDenied):
        department_rows(db_session, user)
    with pytest.raises(AccessDenied):
        set_service_level(db_session, None, dept.id, 15)
    assert _level(db_session, dept.id) == 30 and _audit_rows(db_session, dept.id) == []


def test_a_level_changed_meanwhile_is_not_overwritten(db_session, dept, admin):
    with pytest.raises(LevelConflict, match="now 30 days"):
        set_service_level(db_session, admin, dept.id, 15, expected=45)
    with pytest.raises(NothingChanged):
        set_service_level(db_session, admin, dept.id, 30, expected=30)
    assert _level(db_session, dept.id) == 30 and _audit_rows(db_session, dept.id) == []
    set_service_level(db_session, admin, dept.id, 15, expected=30)
    assert _level(db_session, dept.id) == 15


def test_workload_counts_past_the_new_level_at_once(db_session, dept, admin):
    def past() -> int:
        return {d.code: d.past_sla for d in workload.department_loads(db_session, admin)}[dept.code]

    assert past() == 1
    set_service_level(db_session, admin, dept.id, 15)
    assert past() == 3


@pytest.fixture()
def memory_cache():
    previous = cache._cache
    cache.set_cache(cache.MemoryCache(prefix=f"scope-test-{uuid.uuid4().hex[:8]}:"))
    yield
    cache.get_cache().clear()
    cache.set_cache(previous)


def test_operations_shows_the_new_level_once_the_cached_reads_are_dropped(db_session, dept, admin, memory_cache):
    """Operations caches its data per rollup refresh; the page's callback drops the
    cache after the commit, so its past-SLA count follows without waiting for a refresh."""
    aggregates.refresh(db_session)
    today = dt.date.today()
    f = Filters(today - dt.timedelta(days=60), today, dept.id)

    def past() -> int:
        (row,) = operations.page_data(db_session, admin, f, today=today)["workload"]["departments"]
        return row["past_sla"]

    assert past() == 1
    set_service_level(db_session, admin, dept.id, 15)
    assert past() == 1  # still the cached value: this is why the cache must be dropped
    forget_cached_reads()
    assert past() == 3


def test_open_claim_count_can_use_the_open_claims_index(db_session, dept, admin):
    """The count must be written so PostgreSQL can answer it from ix_claims_open (a partial
    index on the open statuses): "status <> 'closed'" cannot, and read every claim ever
    stored at a million claims. With sequential scans off, the plan names the index."""
    from sqlalchemy import event, text

    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "count(" in statement and "claims" in statement:
            statements.append((statement, parameters))

    bind = db_session.get_bind()
    event.listen(bind, "before_cursor_execute", capture)
    try:
        department_rows(db_session, admin)
    finally:
        event.remove(bind, "before_cursor_execute", capture)
    assert len(statements) == 1, statements
    statement, parameters = statements[0]
    db_session.execute(text("SET LOCAL enable_seqscan = off"))
    raw = db_session.connection().connection.driver_connection
    plan = "\n".join(r[0] for r in raw.execute("EXPLAIN " + statement, parameters).fetchall())
    assert "ix_claims_open" in plan, plan
