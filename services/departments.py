"""Department queues: the standard set, their colours, and lookups."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import Department

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
