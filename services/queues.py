"""Department queues and "My work": server-side paging, sorting and filtering of claims.

Every filter value arrives from the browser, so ``parse_filters`` checks types,
ranges and sizes and raises ``InvalidFilter`` with a message meant for the user.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import Date, Select, and_, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import CLAIM_STATUSES, OPEN_STATUSES, Claim, Department, User  # noqa: F401 (OPEN_STATUSES re-exported)
from services.access import AccessDenied, NotFound, can_see_department

MAX_PAGE = 500
# The grid callback's scope value for "My work" (department codes never contain "@").
MY_WORK_SCOPE = "@my-work"
# Beyond this many rows OFFSET paging gets slow and nobody reads that far:
# the grid offers the first MAX_OFFSET rows and asks the user to narrow the filters.
MAX_OFFSET = 10_000
# Counting is exact up to this many rows (tens of ms at 1M claims, see
# docs/benchmarks.md); above it the planner's estimate is shown as "about N".
# The estimate can be off by a third, so it is only used for large results
# (e.g. closed-claim history), where the exact figure matters least.
EXACT_COUNT_LIMIT = 50_000

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
    "confidence": Claim.routing_confidence,
}
TEXT_FILTERABLE = {"claim_number": Claim.claim_number, "line_of_business": Claim.line_of_business,
                   "status": Claim.status, "state": Claim.state}

# Confidence bands over the denormalised Claim.routing_confidence: [low, high).
CONFIDENCE_BANDS = {"low": (0.0, 0.5), "medium": (0.5, 0.8), "high": (0.8, 1.000001)}
BAND_LABELS = {"low": "Low (< 50 %)", "medium": "Medium (50–80 %)", "high": "High (≥ 80 %)",
               "unscored": "Not scored"}
DATE_FIELDS = ("report_date", "loss_date")
MAX_AMOUNT = Decimal("1000000000000")  # Numeric(14, 2)
MAX_SEARCH = 100
MAX_LIST = 20
MAX_FILTER_JSON = 4_000
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(2200, 12, 31)
_CODE_RE = re.compile(r"^[A-Za-z0-9_ ./&-]{1,40}$")
_CLAIM_NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


class InvalidFilter(ValueError):
    """A filter value the server refuses; the message is shown to the user."""


@dataclass(frozen=True)
class QueueFilters:
    statuses: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    date_field: str = "report_date"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    confidence: tuple[str, ...] = ()
    search: str = ""
    # Open claims past their department's service level only (days from report, see
    # _service_level: the rows' red report date).
    overdue: bool = False

    def is_empty(self) -> bool:
        return self == QueueFilters(date_field=self.date_field)

    def to_json(self) -> dict:
        """Plain JSON (the form a saved filter and the browser store keep)."""
        out = asdict(self)
        out["statuses"], out["lines"], out["confidence"] = list(self.statuses), list(self.lines), list(self.confidence)
        for key in ("amount_min", "amount_max"):
            out[key] = None if out[key] is None else float(out[key])
        for key in ("date_from", "date_to"):
            out[key] = None if out[key] is None else out[key].isoformat()
        return out


def _str_list(raw, name: str, allowed: tuple[str, ...] | None) -> tuple[str, ...]:
    if raw in (None, "", []):
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_LIST:
        raise InvalidFilter(f"{name}: expected a list of at most {MAX_LIST} values.")
    values = []
    for item in raw:
        if not isinstance(item, str) or not _CODE_RE.match(item):
            raise InvalidFilter(f"{name}: {str(item)[:40]!r} is not a valid value.")
        if allowed is not None and item not in allowed:
            raise InvalidFilter(f"{name}: {item!r} is not one of {', '.join(allowed)}.")
        if item not in values:
            values.append(item)
    return tuple(values)


def _amount(raw, name: str) -> Decimal | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)) or (isinstance(raw, str) and len(raw) > 30):
        raise InvalidFilter(f"{name}: expected a number.")
    try:
        value = Decimal(str(raw).replace(",", "").strip())
    except InvalidOperation:
        raise InvalidFilter(f"{name}: {str(raw)[:30]!r} is not a number.") from None
    if not value.is_finite() or value < 0 or value >= MAX_AMOUNT:
        raise InvalidFilter(f"{name}: must be between 0 and {MAX_AMOUNT:,.0f}.")
    return value.quantize(Decimal("0.01"))


def _date(raw, name: str) -> dt.date | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or len(raw) > 32:
        raise InvalidFilter(f"{name}: expected a date (YYYY-MM-DD).")
    try:
        value = dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise InvalidFilter(f"{name}: {raw[:32]!r} is not a date (YYYY-MM-DD).") from None
    if not MIN_DATE <= value <= MAX_DATE:
        raise InvalidFilter(f"{name}: must be between {MIN_DATE} and {MAX_DATE}.")
    return value


def parse_filters(raw, *, lines: tuple[str, ...] | None = None) -> QueueFilters:
    """Validate filters sent by a browser (or read from a saved filter).

    ``lines`` restricts line of business to known values when given."""
    if raw in (None, ""):
        return QueueFilters()
    if not isinstance(raw, dict):
        raise InvalidFilter("Filters must be an object.")
    try:
        size = len(json.dumps(raw, default=str))
    except (TypeError, ValueError):
        raise InvalidFilter("Filters could not be read.") from None
    if size > MAX_FILTER_JSON:
        raise InvalidFilter("Filters are too large.")
    unknown = set(raw) - set(QueueFilters.__dataclass_fields__)
    if unknown:
        raise InvalidFilter(f"Unknown filter {sorted(unknown)[0][:40]!r}.")
    amount_min = _amount(raw.get("amount_min"), "Minimum amount")
    amount_max = _amount(raw.get("amount_max"), "Maximum amount")
    if amount_min is not None and amount_max is not None and amount_min > amount_max:
        raise InvalidFilter("Minimum amount is above the maximum amount.")
    date_field = raw.get("date_field") or "report_date"
    if date_field not in DATE_FIELDS:
        raise InvalidFilter("Date filter: choose the report date or the loss date.")
    date_from, date_to = _date(raw.get("date_from"), "From date"), _date(raw.get("date_to"), "To date")
    if date_from and date_to and date_from > date_to:
        raise InvalidFilter("The 'from' date is after the 'to' date.")
    search = raw.get("search") or ""
    if not isinstance(search, str):
        raise InvalidFilter("Search: expected text.")
    search = " ".join(search.split())
    if len(search) > MAX_SEARCH:
        raise InvalidFilter(f"Search: at most {MAX_SEARCH} characters.")
    overdue = raw.get("overdue")
    if overdue is not None and not isinstance(overdue, bool):  # JSON 1 is not "on"
        raise InvalidFilter("Past service level: expected on or off.")
    return QueueFilters(
        overdue=bool(overdue),
        statuses=_str_list(raw.get("statuses"), "Status", CLAIM_STATUSES),
        lines=_str_list(raw.get("lines"), "Line of business", lines),
        amount_min=amount_min, amount_max=amount_max, date_field=date_field,
        date_from=date_from, date_to=date_to,
        confidence=_str_list(raw.get("confidence"), "Confidence", tuple(BAND_LABELS)),
        search=search,
    )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_clause(query: str):
    """Claim-number prefix (text_pattern_ops index) or description words (GIN
    expression index: the expression must match ix_claims_description_fts)."""
    fts = func.to_tsvector(literal_column("'simple'"), Claim.description).op("@@")(
        func.plainto_tsquery(literal_column("'simple'"), query))
    if _CLAIM_NUMBER_RE.match(query) and any(ch.isdigit() for ch in query):
        return or_(Claim.claim_number.like(_escape_like(query.upper()) + "%", escape="\\"), fts)
    return fts


def _apply_filters(query: Select, f: QueueFilters, *, default_statuses: tuple[str, ...]) -> Select:
    statuses = f.statuses or default_statuses
    if statuses:
        query = query.where(Claim.status.in_(statuses))
    if f.lines:
        query = query.where(Claim.line_of_business.in_(f.lines))
    if f.amount_min is not None:
        query = query.where(Claim.claimed_amount >= f.amount_min)
    if f.amount_max is not None:
        query = query.where(Claim.claimed_amount <= f.amount_max)
    date_col = Claim.loss_date if f.date_field == "loss_date" else Claim.report_date
    if f.date_from is not None:
        query = query.where(date_col >= f.date_from)
    if f.date_to is not None:
        query = query.where(date_col <= f.date_to)
    if f.confidence:
        bands = [Claim.routing_confidence.is_(None) if b == "unscored"
                 else and_(Claim.routing_confidence >= CONFIDENCE_BANDS[b][0],
                           Claim.routing_confidence < CONFIDENCE_BANDS[b][1])
                 for b in f.confidence]
        query = query.where(or_(*bands))
    if f.search:
        query = query.where(_search_clause(f.search))
    if f.overdue:
        query = query.where(past_service_level(dt.date.today()))
    return query


def reported_on():
    """The day a claim's service level counts from (SQL): its report date, or the day it was created."""
    return func.coalesce(Claim.report_date, func.cast(Claim.created_at, Date))


def past_service_level(today: dt.date):
    """The rows' red report date as a condition (_service_level's rule): open, and ``today``
    more than the department's level after the report date. Also the overdue-claims email's."""
    # Correlated on the claim only: a query that joins departments itself still asks its own row here.
    late = select(Department.id).where(Department.id == Claim.department_id,
                                       literal(today, Date) - reported_on() > Department.sla_days
                                       ).correlate_except(Department)
    return and_(Claim.status.in_(OPEN_STATUSES), late.exists())


def _legacy_filter_model(query: Select, filter_model: dict | None) -> Select:
    """The grid's own column filters ("contains" text)."""
    for col_id, spec in (filter_model or {}).items():
        column = TEXT_FILTERABLE.get(col_id)
        if column is None or not isinstance(spec, dict):
            continue
        value = spec.get("filter")
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            continue
        query = query.where(column.ilike(f"%{_escape_like(value.strip())}%", escape="\\"))
    return query


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


@dataclass(frozen=True)
class QueuePage:
    rows: list[dict]
    total: int            # rows the grid may page through (at most MAX_OFFSET + a page)
    count: int            # matching claims (exact, or an estimate when ``estimated``)
    estimated: bool = False
    capped: bool = False  # more rows match than the grid offers
    extras: dict = field(default_factory=dict)

    def describe(self, noun: str = "open claims") -> str:
        if self.estimated:
            text = f"about {_round_estimate(self.count):,} {noun}"
        else:
            text = f"{self.count:,} {noun}"
        if self.capped:
            text += f" (showing the first {MAX_OFFSET:,}; narrow the filters to see the rest)"
        return text


def _round_estimate(n: int) -> int:
    if n < 1000:
        return n
    step = 10 ** max(0, int(math.log10(n)) - 2)
    return int(round(n / step) * step)


def department_by_code(session: Session, code: str) -> Department:
    if not isinstance(code, str) or len(code) > 40 or not code.isprintable():
        raise NotFound("no such department")
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound(f"no department {code!r}")
    return dept


def visible_departments(session: Session, user) -> list[Department]:
    depts = session.scalars(select(Department).where(Department.active).order_by(Department.is_triage, Department.name))
    return [d for d in depts if can_see_department(user, d.id)]


def lines_of_business(session: Session, department_ids: list[int] | None = None) -> list[str]:
    """Lines of business the departments handle (all departments when None)."""
    query = select(Department.lines_of_business)
    if department_ids is not None:
        query = query.where(Department.id.in_(department_ids))
    lines = set()
    for (values,) in session.execute(query):
        lines.update(values or [])
    return sorted(lines)


def overview(session: Session, user) -> list[QueueSummary]:
    """Open and new claims per visible department, with the mean routing confidence of
    the open claims in it (their latest decision's, kept on the claim), in one pass over
    the open claims: joining every decision of the open claims took 0.5-1.5 s at a
    million claims, on the page every adjuster lands on."""
    depts = visible_departments(session, user)
    if not depts:
        return []
    ids = [d.id for d in depts]
    counts = {
        row.department_id: (row.open, row.new, row.conf)
        for row in session.execute(
            select(
                Claim.department_id,
                func.count().label("open"),
                func.count().filter(Claim.status == "new").label("new"),
                func.avg(Claim.routing_confidence).label("conf"),
            )
            .where(Claim.department_id.in_(ids), Claim.status.in_(OPEN_STATUSES))
            .group_by(Claim.department_id)
        )
    }
    out = []
    for d in depts:
        n_open, n_new, conf = counts.get(d.id, (0, 0, None))
        out.append(QueueSummary(d.id, d.code, d.name, d.color, d.is_triage, n_open, n_new,
                                None if conf is None else float(conf)))
    return out


def _bounds(start, end) -> tuple[int, int]:
    start = max(0, int(start))
    end = min(max(start + 1, int(end)), start + MAX_PAGE)
    return start, end


def _order(sort_model) -> list:
    order = []
    for item in sort_model if isinstance(sort_model, list) else []:
        column = (SORTABLE.get(item.get("colId"))
                  if isinstance(item, dict) and isinstance(item.get("colId"), str) else None)
        if column is not None:
            order.append(column.desc() if item.get("sort") == "desc" else column.asc())
    # PostgreSQL's default null placement (last ascending, first descending) is
    # the order a btree index gives in either direction, so a sort over a
    # single status can walk ix_claims_queue instead of sorting every row.
    return order or [Claim.report_date.desc()]


def _count(session: Session, base: Select) -> tuple[int, bool]:
    """Exact count up to EXACT_COUNT_LIMIT rows, otherwise the planner's estimate."""
    capped = session.scalar(select(func.count()).select_from(base.limit(EXACT_COUNT_LIMIT + 1).subquery())) or 0
    if capped <= EXACT_COUNT_LIMIT:
        return capped, False
    compiled = base.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    plan = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled.string}", compiled.params).scalar()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    # The estimate can undershoot; never show fewer than we actually counted.
    return max(estimate, capped), True


def _page(session: Session, base: Select, start: int, end: int, sort_model) -> QueuePage:
    count, estimated = _count(session, base)
    offered = min(count, MAX_OFFSET)
    capped = count > MAX_OFFSET
    if start >= offered:
        return QueuePage([], offered, count, estimated, capped)
    end = min(end, offered)
    page_ids = [row[0] for row in session.execute(base.order_by(*_order(sort_model), Claim.id.desc())
                                                  .offset(start).limit(end - start))]
    if not page_ids:
        return QueuePage([], offered, count, estimated, capped)
    return QueuePage(_rows(session, page_ids), offered, count, estimated, capped)


def _rows(session: Session, page_ids: list[int]) -> list[dict]:
    rows = session.execute(
        select(Claim, User.name, Department.code, Department.name, Department.sla_days)
        .outerjoin(User, User.id == Claim.adjuster_id)
        .outerjoin(Department, Department.id == Claim.department_id)
        .where(Claim.id.in_(page_ids))
    ).all()
    by_id = {row[0].id: row for row in rows}
    today = dt.date.today()
    return [_row(*by_id[i], today=today) for i in page_ids if i in by_id]


class InvalidCursor(ValueError):
    """A paging cursor this service did not hand out."""


_CURSOR_RE = re.compile(r"^(null|[0-9]{4}-[0-9]{2}-[0-9]{2})_([0-9]{1,18})$", re.ASCII)


def _cursor(report_date: dt.date | None, claim_id: int) -> str:
    return f"{report_date.isoformat() if report_date else 'null'}_{claim_id}"


def _parse_cursor(cursor: str) -> tuple[dt.date | None, int]:
    match = _CURSOR_RE.match(cursor) if isinstance(cursor, str) else None
    if match is None:
        raise InvalidCursor("is not a cursor from a previous page's next")
    try:
        day = None if match[1] == "null" else dt.date.fromisoformat(match[1])
    except ValueError:
        raise InvalidCursor("is not a cursor from a previous page's next") from None
    return day, int(match[2])


@dataclass(frozen=True)
class SeekPage:
    rows: list[dict]
    total: int             # every open claim of the queue (exact, or an estimate when ``estimated``)
    estimated: bool
    next: str | None       # cursor of the page after this one; None on the last page


def seek_queue(session: Session, user, department_code: str, *, limit: int, offset: int = 0,
               after: str | None = None) -> SeekPage:
    """Open claims of a department, newest report first, for API clients that page through all of them.

    The grid stops at MAX_OFFSET rows because OFFSET gets slow; an integration must reach every claim,
    so each page hands out a cursor (the last row's report date and id) and the next page seeks past
    it on ix_claims_queue instead of counting rows off. ``offset`` (at most MAX_OFFSET) is for the first pages.
    """
    dept = department_by_code(session, department_code)
    if not can_see_department(user, dept.id):
        raise AccessDenied(f"no access to the {dept.name} queue")
    limit = max(1, min(int(limit), MAX_PAGE))
    base = select(Claim.id).where(Claim.department_id == dept.id, Claim.status.in_(OPEN_STATUSES))
    total, estimated = _count(session, base)
    query = base.add_columns(Claim.report_date)
    if after is not None:
        day, last_id = _parse_cursor(after)
        # Descending order puts claims without a report date first (PostgreSQL's NULLS FIRST).
        if day is None:
            query = query.where(or_(and_(Claim.report_date.is_(None), Claim.id < last_id),
                                    Claim.report_date.is_not(None)))
        else:
            query = query.where(or_(Claim.report_date < day, and_(Claim.report_date == day, Claim.id < last_id)))
    query = query.order_by(Claim.report_date.desc(), Claim.id.desc()).offset(max(0, int(offset))).limit(limit + 1)
    found = session.execute(query).all()
    more = len(found) > limit
    found = found[:limit]
    rows = _rows(session, [r.id for r in found]) if found else []
    return SeekPage(rows, total, estimated, _cursor(found[-1].report_date, found[-1].id) if more else None)


def queue_page(
    session: Session,
    user,
    department_code: str,
    *,
    start: int = 0,
    end: int = 100,
    sort_model: list | None = None,
    filter_model: dict | None = None,
    filters: QueueFilters | None = None,
    include_closed: bool = False,
) -> tuple[list[dict], int]:
    """One page of a department's queue and the total row count."""
    page = department_queue(session, user, department_code, start=start, end=end, sort_model=sort_model,
                            filter_model=filter_model, filters=filters, include_closed=include_closed)
    return page.rows, page.total


def department_queue(session: Session, user, department_code: str, *, start: int = 0, end: int = 100,
                     sort_model: list | None = None, filter_model: dict | None = None,
                     filters: QueueFilters | None = None, include_closed: bool = False) -> QueuePage:
    dept = department_by_code(session, department_code)
    if not can_see_department(user, dept.id):
        raise AccessDenied(f"no access to the {dept.name} queue")
    start, end = _bounds(start, end)
    base = select(Claim.id).where(Claim.department_id == dept.id)
    base = _apply_filters(base, filters or QueueFilters(), default_statuses=() if include_closed else OPEN_STATUSES)
    base = _legacy_filter_model(base, filter_model)
    return _page(session, base, start, end, sort_model)


def my_work(session: Session, user, *, start: int = 0, end: int = 100, sort_model: list | None = None,
            filters: QueueFilters | None = None) -> QueuePage:
    """Open claims assigned to the user, in departments the user may see."""
    start, end = _bounds(start, end)
    filters = filters or QueueFilters()
    if any(s not in OPEN_STATUSES for s in filters.statuses):
        raise InvalidFilter("My work lists open claims only.")
    base = select(Claim.id).where(Claim.adjuster_id == user.id)
    if not user.can(Perm.VIEW_ALL_DEPARTMENTS):
        base = base.where(Claim.department_id.in_(tuple(user.department_ids) or (-1,)))
    base = _apply_filters(base, filters, default_statuses=OPEN_STATUSES)
    return _page(session, base, start, end, sort_model)


def _service_level(claim: Claim, sla_days: int | None, today: dt.date) -> dict:
    """When the claim is due to close under its department's service level, and
    whether an open claim is already past it (what the Reported cell shows)."""
    # Counted from the report date, or the day the claim was created without one (as Workload does).
    reported = claim.report_date or (claim.created_at.date() if claim.created_at else None)
    if reported is None or sla_days is None:
        return {"sla_due": None, "overdue": False, "sla_note": None}
    due = reported + dt.timedelta(days=int(sla_days))
    overdue = claim.status in OPEN_STATUSES and today > due
    note = (f"Past its {sla_days}-day service level since {due.isoformat()}" if overdue
            else f"Service level {sla_days} days: due to close by {due.isoformat()}")
    return {"sla_due": due.isoformat(), "overdue": overdue, "sla_note": note}


def _row(claim: Claim, adjuster: str | None, department: str | None, department_name: str | None,
         sla_days: int | None = None, *, today: dt.date) -> dict:
    return {
        "claim_number": claim.claim_number,
        "report_date": claim.report_date.isoformat() if claim.report_date else None,
        "loss_date": claim.loss_date.isoformat() if claim.loss_date else None,
        "line_of_business": claim.line_of_business,
        "status": claim.status,
        "claimed_amount": (float(claim.claimed_amount) if isinstance(claim.claimed_amount, Decimal)
                           else claim.claimed_amount),
        "state": claim.state,
        "department": department,  # the code, for links and the API
        "department_name": department_name,  # what the grid shows
        # Rounded down: 0.49985 rounded to 0.5 read "50%" (and the medium band) on a Triage claim.
        "confidence": (None if claim.routing_confidence is None
                       else math.floor(float(claim.routing_confidence) * 1000 + 1e-9) / 1000),
        "adjuster": adjuster,
        "description": (claim.description or "")[:160],
        **_service_level(claim, sla_days, today),
    }


def confidence_distribution(session: Session, user, bins: int = 10) -> list[dict]:
    """Open claims per routing-confidence band (their latest decision's, kept on the
    claim), by the queue they are in (visible departments only)."""
    ids = [d.id for d in visible_departments(session, user)]
    if not ids:
        return []
    band = func.least(func.width_bucket(Claim.routing_confidence, 0.0, 1.0, bins), bins).label("band")
    rows = session.execute(
        select(band, Department.code, func.count().label("n"))
        .join(Department, Department.id == Claim.department_id)
        .where(Claim.status.in_(OPEN_STATUSES), Claim.department_id.in_(ids), Claim.routing_confidence.is_not(None))
        .group_by(band, Department.code)
    )
    return [{"low": (r.band - 1) / bins, "high": r.band / bins, "department": r.code, "claims": r.n} for r in rows]
