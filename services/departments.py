"""Department queues: the standard set, their colours, lookups, and the service
level an admin sets per department."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Date, cast, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import OPEN_STATUSES, Claim, Department
from services import audit
from services.access import AccessDenied

TRIAGE = "TRIAGE"
SIU = "SIU"
# Days from report to closing before a claim counts as an SLA breach, for a
# department nobody has set one for.
DEFAULT_SLA_DAYS = 30


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    lines_of_business: tuple[str, ...] = ()
    color: str = "#6c757d"
    is_triage: bool = False
    sla_days: int = DEFAULT_SLA_DAYS


# One colour per department, used by every chart in the app (colour-blind
# friendly Okabe-Ito based palette). Service levels follow the nature of the work:
# glass is fixed in days, bodily injury and workers' comp run for months, an SIU
# investigation longer (migration 0014 sets the same values on existing databases).
STANDARD_DEPARTMENTS: tuple[DepartmentSpec, ...] = (
    DepartmentSpec("AUTO_PD", "Auto Physical Damage", ("auto",), "#0072B2", sla_days=45),
    DepartmentSpec("AUTO_GLASS", "Auto Glass", ("auto",), "#56B4E9", sla_days=14),
    DepartmentSpec("PROPERTY", "Property", ("property", "homeowners", "commercial_property"), "#009E73",
                   sla_days=90),
    DepartmentSpec("LIABILITY", "Liability / Bodily Injury", ("auto", "general_liability"), "#D55E00",
                   sla_days=240),
    DepartmentSpec("WORKERS_COMP", "Workers' Comp", ("workers_comp",), "#CC79A7", sla_days=180),
    DepartmentSpec(SIU, "Special Investigations", ("auto", "property", "general_liability", "workers_comp"), "#E69F00",
                   sla_days=270),
    DepartmentSpec(TRIAGE, "Triage", (), "#7F7F7F", True),
)

# Extra colours for departments a customer's mapping adds.
EXTRA_PALETTE = ("#332288", "#117733", "#44AA99", "#88CCEE", "#DDCC77", "#AA4499",
                 "#882255", "#999933", "#661100", "#6699CC", "#AA4466", "#4477AA")


def ensure_departments(session: Session, specs: tuple[DepartmentSpec, ...] | list[DepartmentSpec]) -> dict[str, int]:
    """Create the departments that do not exist yet; return code -> id for all of them."""
    if specs:
        rows = [
            dict(code=s.code, name=s.name, lines_of_business=list(s.lines_of_business),
                 color=s.color, is_triage=s.is_triage, sla_days=s.sla_days)
            for s in specs
        ]
        session.execute(insert(Department).values(rows).on_conflict_do_nothing(index_elements=["code"]))
    return department_ids(session)


def ensure_standard_departments(session: Session) -> dict[str, int]:
    return ensure_departments(session, STANDARD_DEPARTMENTS)


def department_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Department.code, Department.id)).all())


def all_departments(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.is_triage, Department.name)))


def color_for(code: str, index: int = 0) -> str:
    for spec in STANDARD_DEPARTMENTS:
        if spec.code == code:
            return spec.color
    return EXTRA_PALETTE[index % len(EXTRA_PALETTE)]


# ---------------------------------------------------------------- service levels (admin page)

MIN_SLA_DAYS, MAX_SLA_DAYS = 1, 3650  # the CHECK constraint on departments.sla_days (migration 0014)


class DepartmentError(ValueError):
    """A refusal meant for the person at the screen; nothing was written."""


class NothingChanged(DepartmentError):
    """The department already has that service level."""


class LevelConflict(DepartmentError):
    """Someone else changed the level since the admin loaded it."""


def _check_manage(user) -> None:
    if user is None or not user.can(Perm.MANAGE_DEPARTMENTS):
        raise AccessDenied("Your role cannot change department settings.")


def department_rows(session: Session, user, *, today: dt.date | None = None) -> list[dict]:
    """Every department (inactive ones too, so their level can be set before they
    reopen) with its open claims and those past its service level now. "Past"
    is the Workload page's definition: today minus the report date (creation date
    when missing) above ``sla_days``, counted live from the claims."""
    _check_manage(user)
    today = today or dt.date.today()
    age = today - func.coalesce(Claim.report_date, cast(Claim.created_at, Date))
    counts = {r.department_id: (r.open, r.past) for r in session.execute(
        select(Claim.department_id, func.count().label("open"),
               func.count().filter(age > Department.sla_days).label("past"))
        .join(Department, Department.id == Claim.department_id)
        .where(Claim.status.in_(OPEN_STATUSES))  # the partial open-claims index's own predicate
        .group_by(Claim.department_id))}
    return [{"id": d.id, "code": d.code, "name": d.name, "color": d.color,
             "lines_of_business": list(d.lines_of_business or []), "active": d.active, "is_triage": d.is_triage,
             "sla_days": d.sla_days, "open": counts.get(d.id, (0, 0))[0], "past_sla": counts.get(d.id, (0, 0))[1]}
            for d in all_departments(session)]


def _whole_days(value: object) -> int:
    # bool is an int subclass (JSON true must not become 1 day); a browser number
    # field sends None when the box is empty or holds no number.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_SLA_DAYS <= value <= MAX_SLA_DAYS:
        raise DepartmentError(f"The service level must be a whole number of days from {MIN_SLA_DAYS} "
                              f"to {MAX_SLA_DAYS}.")
    return value


def set_service_level(session: Session, user, department_id: object, sla_days: object, *,
                      expected: object = None) -> tuple[Department, int]:
    """Set a department's service level; returns the department and its previous
    level. ``expected`` is the level the admin saw: when given and no longer
    current, someone else changed it meanwhile and nothing is written. The caller
    commits, then calls ``forget_cached_reads``."""
    _check_manage(user)
    if not isinstance(department_id, int) or isinstance(department_id, bool) or not 0 < department_id < 2**31:
        raise DepartmentError("No such department; reload the page.")
    dept = session.get(Department, department_id, with_for_update=True)
    if dept is None:
        raise DepartmentError("No such department; reload the page.")
    days = _whole_days(sla_days)
    before = dept.sla_days
    if expected is not None and expected != before:
        raise LevelConflict(f"{dept.name}'s service level was changed by someone else meanwhile: it is now "
                            f"{before} days. Nothing was saved; check the value and save again.")
    if days == before:
        raise NothingChanged(f"{dept.name} already has a service level of {days} days; nothing changed.")
    dept.sla_days = days
    session.flush()
    audit.record(session, actor=getattr(user, "email", None) or str(user), actor_id=getattr(user, "id", None),
                 action="department.sla", target_type="department", target_id=dept.id,
                 before={"code": dept.code, "sla_days": before}, after={"code": dept.code, "sla_days": days})
    return dept, before


def forget_cached_reads() -> None:
    """Drop the cached rollup reads after a committed change: the Operations page
    caches its data per rollup refresh and would show open claims past the old
    level until the next refresh. Dashboard figures are recomputed on the next view."""
    from services.cache import get_cache

    get_cache().clear()
