"""Team workload: open claims per adjuster and department, their age, and how
full each adjuster is. Every figure is one GROUP BY over the open claims, which
the (adjuster_id, status) index and the partial index of the open claims (it
carries adjuster_id and created_at, migration 0018) serve without reading the
table: at a million claims reading it cost more than the count, and made the plan
costly enough for PostgreSQL's JIT (100-500 ms of compiling per refresh).

Capacity of a shared adjuster (one in several departments): they are on each of
those teams, but their capacity is split equally among their active departments
(whole claims; a remainder goes to the departments first in page order). So no
capacity is counted twice: the departments' capacities add up to the capacity
of the distinct adjusters who have an active department (the pages say so:
``components.workload.SHARED_CAPACITY_NOTE``)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import Claim, Department, User, user_departments
from services.access import AccessDenied
from services.departments import DEFAULT_SLA_DAYS
from services.queues import OPEN_STATUSES
from services.reassignment import ASSIGNABLE_ROLES

AGE_BUCKETS = ("0–7 days", "8–30 days", "31–90 days", "90+ days")
AGE_LIMITS = (7, 30, 90)  # last day of each bucket but the open-ended one


def age_bucket(days: int) -> int:
    """Index into AGE_BUCKETS for an age in whole days."""
    return next((i for i, limit in enumerate(AGE_LIMITS) if days <= limit), len(AGE_LIMITS))


@dataclass(frozen=True)
class AdjusterLoad:
    id: int
    name: str
    email: str
    departments: tuple[str, ...]  # codes, for filters and ids
    open_claims: int
    capacity: int
    department_names: tuple[str, ...] = ()  # what people read

    @property
    def use(self) -> float:
        return self.open_claims / self.capacity if self.capacity else (1.0 if self.open_claims else 0.0)

    @property
    def over_capacity(self) -> bool:
        return self.open_claims > self.capacity


@dataclass(frozen=True)
class DepartmentLoad:
    id: int
    code: str
    name: str
    color: str
    open_claims: int
    unassigned: int
    ages: dict[str, int]
    adjusters: int
    capacity: int  # this department's share of its team's capacity (see the module note)
    over_capacity: int  # adjusters above capacity
    shared: int = 0  # team members who are also on another active department's team
    sla_days: int = DEFAULT_SLA_DAYS
    past_sla: int = 0  # open claims older than the department's service level


def _check(user) -> None:
    if user is None or not user.can(Perm.VIEW_WORKLOAD):
        raise AccessDenied("Your role cannot see team workload.")


def adjuster_loads(session: Session, user) -> list[AdjusterLoad]:
    """Every active adjuster/manager with a department, fullest first."""
    _check(user)
    counts = dict(session.execute(
        select(Claim.adjuster_id, func.count()).where(Claim.adjuster_id.is_not(None),
                                                      Claim.status.in_(OPEN_STATUSES))
        .group_by(Claim.adjuster_id)).all())
    return loads_from_counts(session, counts)


def loads_from_counts(session: Session, counts: dict[int, int]) -> list[AdjusterLoad]:
    """Adjuster loads from open-claim counts per adjuster id (live or from a rollup)."""
    people = list(session.scalars(select(User).where(User.is_active, User.role.in_(ASSIGNABLE_ROLES))))
    loads = [AdjusterLoad(p.id, p.name, p.email, tuple(sorted(d.code for d in p.departments)),
                          counts.get(p.id, 0), int(p.capacity or 0), tuple(sorted(d.name for d in p.departments)))
             for p in people if p.departments or counts.get(p.id)]
    loads.sort(key=lambda a: (-a.use, -a.open_claims, a.name))
    return loads


def department_loads(session: Session, user, *, today: dt.date | None = None,
                     adjusters: list[AdjusterLoad] | None = None) -> list[DepartmentLoad]:
    """Open claims per active department with their age buckets and team capacity.
    ``adjusters``: this request's ``adjuster_loads`` when the caller has them already
    (the page shows both), so they are not counted twice."""
    _check(user)
    today = today or dt.date.today()
    age_from = func.coalesce(Claim.report_date, cast(Claim.created_at, Date))
    age = today - age_from  # whole days (date - date is an integer in PostgreSQL)
    bucket = case(*((age <= limit, i) for i, limit in enumerate(AGE_LIMITS)),
                  else_=len(AGE_LIMITS)).label("bucket")
    rows = session.execute(
        select(Claim.department_id, bucket, func.count().label("n"),
               func.count().filter(Claim.adjuster_id.is_(None)).label("unassigned"),
               func.count().filter(age > Department.sla_days).label("past_sla"))
        .join(Department, Department.id == Claim.department_id)
        .where(Claim.status.in_(OPEN_STATUSES))
        .group_by(Claim.department_id, bucket)
    ).all()
    ages: dict[int, list[int]] = {}
    unassigned: dict[int, int] = {}
    past_sla: dict[int, int] = {}
    for r in rows:
        ages.setdefault(r.department_id, [0] * len(AGE_BUCKETS))[r.bucket] += r.n
        unassigned[r.department_id] = unassigned.get(r.department_id, 0) + r.unassigned
        past_sla[r.department_id] = past_sla.get(r.department_id, 0) + r.past_sla
    if adjusters is None:
        adjusters = adjuster_loads(session, user)
    return department_loads_from(session, ages, unassigned, adjusters, past_sla)


def capacity_shares(capacity: int, departments: int) -> list[int]:
    """``capacity`` split equally into ``departments`` whole shares that add up to it,
    the larger shares first."""
    if departments <= 0:
        return []
    base, extra = divmod(max(capacity, 0), departments)
    return [base + (i < extra) for i in range(departments)]


def department_loads_from(session: Session, ages: dict[int, list[int]], unassigned: dict[int, int],
                          adjusters: list[AdjusterLoad],
                          past_sla: dict[int, int] | None = None) -> list[DepartmentLoad]:
    """Department loads from open claims per age bucket, unassigned counts and open
    claims past the service level, per department id."""
    departments = list(session.scalars(select(Department).where(Department.active)
                                       .order_by(Department.is_triage, Department.name)))
    order = {d.id: i for i, d in enumerate(departments)}
    loads = {a.id: a for a in adjusters}
    memberships: dict[int, list[int]] = {}  # adjuster id -> active department ids, in page order
    for dept_id, user_id in session.execute(select(user_departments.c.department_id, user_departments.c.user_id)):
        if user_id in loads and dept_id in order:
            memberships.setdefault(user_id, []).append(dept_id)
    team: dict[int, list[AdjusterLoad]] = {}
    capacity: dict[int, int] = {}
    for user_id, dept_ids in memberships.items():
        dept_ids.sort(key=order.__getitem__)
        for dept_id, share in zip(dept_ids, capacity_shares(loads[user_id].capacity, len(dept_ids))):
            team.setdefault(dept_id, []).append(loads[user_id])
            capacity[dept_id] = capacity.get(dept_id, 0) + share
    out = []
    for d in departments:
        buckets = ages.get(d.id, [0] * len(AGE_BUCKETS))
        members = team.get(d.id, [])
        out.append(DepartmentLoad(
            d.id, d.code, d.name, d.color, sum(buckets), unassigned.get(d.id, 0),
            dict(zip(AGE_BUCKETS, buckets)), len(members), capacity.get(d.id, 0),
            sum(1 for m in members if m.over_capacity),
            sum(1 for m in members if len(memberships[m.id]) > 1),
            int(d.sla_days or DEFAULT_SLA_DAYS), (past_sla or {}).get(d.id, 0)))
    return out
