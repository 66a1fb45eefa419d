"""Department queues: server-side paging, sorting and filtering of claims."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from db.models import CLAIM_STATUSES, Claim, Department, RoutingDecision, User
from services.access import AccessDenied, NotFound, can_see_department

MAX_PAGE = 500
OPEN_STATUSES = tuple(s for s in CLAIM_STATUSES if s != "closed")

# Grid column id -> sortable/filterable claim column. Anything else the client
# sends is ignored, so a tampered request cannot reach other columns.
SORTABLE = {
    "claim_number": Claim.claim_number,
    "report_date": Claim.report_date,
    "loss_date": Claim.loss_date,
    "line_of_business": Claim.line_of_business,
    "status": Claim.status,
    "claimed_amount": Claim.claimed_amount,
    "state": Claim.state,
}
TEXT_FILTERABLE = {"claim_number": Claim.claim_number, "line_of_business": Claim.line_of_business,
                   "status": Claim.status, "state": Claim.state}


@dataclass(frozen=True)
class QueueSummary:
    department_id: int
    code: str
    name: str
    color: str
    is_triage: bool
    open_claims: int
    new_claims: int
    avg_confidence: float | None


def department_by_code(session: Session, code: str) -> Department:
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound(f"no department {code!r}")
    return dept


def visible_departments(session: Session, user) -> list[Department]:
    depts = session.scalars(select(Department).where(Department.active).order_by(Department.is_triage, Department.name))
    return [d for d in depts if can_see_department(user, d.id)]


def overview(session: Session, user) -> list[QueueSummary]:
    """Open and new claims per visible department, with the mean routing confidence
    of the open claims' latest decisions."""
    depts = visible_departments(session, user)
    if not depts:
        return []
    ids = [d.id for d in depts]
    counts = dict(
        (row.department_id, (row.open, row.new))
        for row in session.execute(
            select(
                Claim.department_id,
                func.count().label("open"),
                func.count().filter(Claim.status == "new").label("new"),
            )
            .where(Claim.department_id.in_(ids), Claim.status.in_(OPEN_STATUSES))
            .group_by(Claim.department_id)
        )
    )
    latest = (
        select(RoutingDecision.routed_department_id, func.avg(RoutingDecision.confidence).label("conf"))
        .join(Claim, Claim.id == RoutingDecision.claim_id)
        .where(Claim.status.in_(OPEN_STATUSES), RoutingDecision.routed_department_id.in_(ids))
        .group_by(RoutingDecision.routed_department_id)
    )
    conf = {row.routed_department_id: row.conf for row in session.execute(latest)}
    return [
        QueueSummary(d.id, d.code, d.name, d.color, d.is_triage, counts.get(d.id, (0, 0))[0],
                     counts.get(d.id, (0, 0))[1], None if conf.get(d.id) is None else float(conf[d.id]))
        for d in depts
    ]


def _filtered(query: Select, filter_model: dict | None) -> Select:
    for col_id, spec in (filter_model or {}).items():
        column = TEXT_FILTERABLE.get(col_id)
        if column is None or not isinstance(spec, dict):
            continue
        value = spec.get("filter")
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            continue
        query = query.where(column.ilike(f"%{_escape_like(value.strip())}%", escape="\\"))
    return query


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def queue_page(
    session: Session,
    user,
    department_code: str,
    *,
    start: int = 0,
    end: int = 100,
    sort_model: list | None = None,
    filter_model: dict | None = None,
    include_closed: bool = False,
) -> tuple[list[dict], int]:
    """One page of a department's queue and the total row count."""
    dept = department_by_code(session, department_code)
    if not can_see_department(user, dept.id):
        raise AccessDenied(f"no access to the {dept.name} queue")
    start = max(0, int(start))
    end = min(max(start + 1, int(end)), start + MAX_PAGE)

    base = select(Claim.id).where(Claim.department_id == dept.id)
    if not include_closed:
        base = base.where(Claim.status.in_(OPEN_STATUSES))
    base = _filtered(base, filter_model)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0

    order = []
    for item in sort_model or []:
        column = SORTABLE.get(item.get("colId")) if isinstance(item, dict) else None
        if column is not None:
            order.append(column.desc().nulls_last() if item.get("sort") == "desc" else column.asc().nulls_last())
    order = order or [Claim.report_date.desc().nulls_last()]
    page_ids = [row[0] for row in session.execute(base.order_by(*order, Claim.id.desc()).offset(start).limit(end - start))]
    if not page_ids:
        return [], total

    latest = (
        select(RoutingDecision.claim_id, func.max(RoutingDecision.id).label("decision_id"))
        .where(RoutingDecision.claim_id.in_(page_ids))
        .group_by(RoutingDecision.claim_id)
        .subquery()
    )
    rows = session.execute(
        select(Claim, RoutingDecision.confidence, User.name)
        .outerjoin(latest, latest.c.claim_id == Claim.id)
        .outerjoin(RoutingDecision, RoutingDecision.id == latest.c.decision_id)
        .outerjoin(User, User.id == Claim.adjuster_id)
        .where(Claim.id.in_(page_ids))
    ).all()
    by_id = {claim.id: (claim, conf, adjuster) for claim, conf, adjuster in rows}
    return [_row(*by_id[i]) for i in page_ids if i in by_id], total


def _row(claim: Claim, confidence: float | None, adjuster: str | None) -> dict:
    return {
        "claim_number": claim.claim_number,
        "report_date": claim.report_date.isoformat() if claim.report_date else None,
        "loss_date": claim.loss_date.isoformat() if claim.loss_date else None,
        "line_of_business": claim.line_of_business,
        "status": claim.status,
        "claimed_amount": float(claim.claimed_amount) if isinstance(claim.claimed_amount, Decimal) else claim.claimed_amount,
        "state": claim.state,
        "confidence": None if confidence is None else round(float(confidence), 3),
        "adjuster": adjuster,
        "description": (claim.description or "")[:160],
    }


def confidence_distribution(session: Session, user, bins: int = 10) -> list[dict]:
    """Open claims per confidence band of their latest routing decision, by
    routed department (visible departments only)."""
    ids = [d.id for d in visible_departments(session, user)]
    if not ids:
        return []
    latest_id = (
        select(func.max(RoutingDecision.id).label("id"))
        .join(Claim, Claim.id == RoutingDecision.claim_id)
        .where(Claim.status.in_(OPEN_STATUSES), Claim.department_id.in_(ids))
        .group_by(RoutingDecision.claim_id)
        .subquery()
    )
    latest = (
        select(RoutingDecision.claim_id, RoutingDecision.confidence, RoutingDecision.routed_department_id)
        .join(latest_id, latest_id.c.id == RoutingDecision.id)
        .subquery()
    )
    band = func.least(func.width_bucket(latest.c.confidence, 0.0, 1.0, bins), bins).label("band")
    rows = session.execute(
        select(band, Department.code, func.count().label("n"))
        .select_from(latest)
        .join(Department, Department.id == latest.c.routed_department_id)
        .group_by(band, Department.code)
    )
    return [{"low": (r.band - 1) / bins, "high": r.band / bins, "department": r.code, "claims": r.n} for r in rows]
