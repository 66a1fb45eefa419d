"""What the executive dashboard reads: rollup figures through the cache, and the
claims behind a clicked point or bar, paged server-side.

Cache keys hold the filters and the rollup's refresh stamp (the id of the
transaction that last rebuilt ``kpi_daily``), so the first read after a refresh
misses and recomputes; nothing has to be deleted.

Drill-down lists read the claims table itself (they must list today's claims),
but never scan it: the rollup says how many claims each day holds, so a page is
looked for only in the few newest days that hold it, and the department / status
list is spelled out so ``ix_claims_queue`` (department, status, report date)
serves the date range. The total shown is the rollup's figure, the same number
as the bar that was clicked.

A point on the trend's Closed line lists the claims closed that day (or week):
closed claims by closing date through the partial index ``ix_claims_closed_at``,
and legacy closed claims without a closing time by report date, as the rollup
dates them.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Date, cast, func, select, text, union_all
from sqlalchemy.orm import Session

from db.models import CLAIM_STATUSES, Claim, Department, KpiDaily
from services import aggregates
from services.aggregates import BreakdownRow, FilterError, Filters
from services.cache import cached, make_key

PAGE_SIZE = 25
MAX_OFFSET = 10_000
EXPORT_LIMIT = 100_000
DIMENSIONS = ("period", "department", "line", "region")
MEASURES = ("received", "closed")  # what a drill lists; "closed" only for the trend's dates
WEEKLY_AFTER_DAYS = 120  # services.aggregates.series switches to weeks past this


def stamp(session: Session) -> str:
    """Changes whenever the rollup is rebuilt: every row of a refresh carries its transaction id."""
    value = session.execute(text("SELECT xmin::text FROM kpi_daily LIMIT 1")).scalar()
    return value or "empty"


def _filters_key(f: Filters) -> dict:
    return {"start": f.start.isoformat(), "end": f.end.isoformat(), "department": f.department_id,
            "line": f.line_of_business}


# ---------------------------------------------------------------- cached reads

def options(session: Session, current: str | None = None) -> dict:
    """Filter choices, regions and the data's date bounds (cached per refresh)."""
    current = current or stamp(session)

    def compute():
        opts = aggregates.filter_options(session)
        bounds = aggregates.data_bounds(session)
        regions = [r for r in session.scalars(select(KpiDaily.region).distinct()
                                              .where(KpiDaily.region.is_not(None)).order_by(KpiDaily.region))]
        all_departments = [{"id": d.id, "code": d.code, "name": d.name}
                           for d in session.scalars(select(Department).order_by(Department.id))]
        return {**opts, "regions": regions, "all_departments": all_departments,
                "bounds": [bounds[0].isoformat(), bounds[1].isoformat()] if bounds else None}

    return cached(make_key("dashboard.options", current), compute)


def _bounds(opts: dict):
    b = opts.get("bounds")
    return (dt.date.fromisoformat(b[0]), dt.date.fromisoformat(b[1])) if b else None


def parse(session: Session, raw: dict) -> tuple[Filters, dict]:
    """Validated filters (FilterError with a message otherwise) and the options behind them."""
    opts = options(session)
    return aggregates.parse_filters(session, raw, options=opts, bounds=_bounds(opts)), opts


def default_filters(session: Session) -> Filters:
    return aggregates.default_filters(session, _bounds(options(session)))


def view(session: Session, f: Filters) -> dict:
    """Everything the dashboard draws for one set of filters (cached per filters and refresh)."""

    def compute():
        s = aggregates.series(session, f)
        # A chart filtered to one department or line would be a single bar: under such a
        # filter it shows every department (or line) of the same period, the chosen one
        # highlighted, so it tells how large a share of the work the chosen one has.
        departments = _unfiltered(session, f, "department", department_id=None) \
            if f.department_id is not None else None
        lines = _unfiltered(session, f, "line", line_of_business=None) \
            if f.line_of_business is not None else None
        return {
            "kpis": aggregates.kpis_with_previous(session, f),
            "series": {**s, "periods": [p.isoformat() for p in s["periods"]]},
            "breakdowns": {by: [dataclasses.asdict(r) for r in aggregates.breakdown(session, f, by)]
                           for by in ("department", "line", "region")},
            "department_chart": departments,
            "line_chart": lines,
            "selected_department": session.scalar(select(Department.code).where(Department.id == f.department_id))
            if f.department_id is not None else None,
        }

    data = cached(make_key("dashboard.view.3", stamp(session), _filters_key(f)), compute)
    breakdowns = {by: [BreakdownRow(**r) for r in rows] for by, rows in data["breakdowns"].items()}

    def chart(by: str) -> list[BreakdownRow]:  # the unfiltered rows, or the breakdown when nothing is chosen
        rows = data[f"{by}_chart"]
        return [BreakdownRow(**r) for r in rows] if rows is not None else breakdowns[by]

    return {
        "kpis": data["kpis"],
        "series": {**data["series"], "periods": [dt.date.fromisoformat(p) for p in data["series"]["periods"]]},
        "breakdowns": breakdowns,
        "department_chart": chart("department"),
        "selected_department": data["selected_department"],
        "line_chart": chart("line"),
        "selected_line": f.line_of_business,
    }


def _unfiltered(session: Session, f: Filters, by: str, **lifted) -> list[dict]:
    return [dataclasses.asdict(r) for r in aggregates.breakdown(session, dataclasses.replace(f, **lifted), by)]


def rendered(session: Session, f: Filters, name: str, build) -> dict:
    """A figure (or any JSON-able rendering) built from this view, cached like the view:
    building plotly figures costs more CPU than reading the rollup does."""
    return cached(make_key("dashboard.rendered.3", name, stamp(session), _filters_key(f)), build)


# ---------------------------------------------------------------- drill-down

@dataclass(frozen=True)
class Drill:
    """The claims behind one clicked point or bar: the page's filters plus the clicked value.
    ``line``/``region``: None = any, "" = missing."""

    dimension: str
    value: str
    label: str
    start: dt.date
    end: dt.date
    department_id: int | None
    line: str | None
    region: str | None
    measure: str = "received"

    def describe(self) -> dict:
        return {"dimension": self.dimension, "value": self.value, "measure": self.measure,
                "start": self.start.isoformat(), "end": self.end.isoformat()}

    def spec(self) -> dict:
        """What the browser keeps to page or export this drill (checked again when it comes back)."""
        return {"dimension": self.dimension, "value": self.value, "measure": self.measure}


def grain(f: Filters) -> str:
    return "week" if f.days > WEEKLY_AFTER_DAYS else "day"


def parse_drill(session: Session, f: Filters, opts: dict, raw) -> Drill:
    """Check a clicked payload ({"dimension", "value", "measure"}) against the page's filters."""
    if not isinstance(raw, dict):
        raise FilterError("The clicked point is not valid.")
    dimension, value, measure = raw.get("dimension"), raw.get("value"), raw.get("measure", "received")
    if dimension not in DIMENSIONS:
        raise FilterError("Unknown chart.")
    if measure not in MEASURES or (measure == "closed" and dimension != "period"):
        raise FilterError("The clicked point is not valid.")
    if not isinstance(value, str) or len(value) > 60:
        raise FilterError("The clicked point is not valid.")
    start, end, dept_id, line, region = f.start, f.end, f.department_id, f.line_of_business, None
    if dimension == "period":
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise FilterError("The clicked date is not valid.") from None
        if grain(f) == "week":
            if day.weekday() != 0 or not (f.start - dt.timedelta(days=6) <= day <= f.end):
                raise FilterError("The clicked week is outside the period shown.")
            start, end = max(day, f.start), min(day + dt.timedelta(days=6), f.end)
            label = f"week of {day.isoformat()}"
        else:
            if not f.start <= day <= f.end:
                raise FilterError("The clicked day is outside the period shown.")
            start = end = day
            label = day.isoformat()
    elif dimension == "department":
        dept = next((d for d in opts["all_departments"] if d["code"] == value), None)
        if dept is None:
            raise FilterError("Unknown department.")
        # The department chart shows every department even under a department filter
        # (the chosen one highlighted): a bar lists its own department's claims.
        dept_id, label = dept["id"], dept["name"]
    elif dimension == "line":
        if value and value not in opts["lines"]:
            raise FilterError("Unknown line of business.")
        # Like the department chart, the line chart keeps every line under a line filter.
        line, label = value, (value.replace("_", " ").title() if value else "Unknown line")
    else:
        if value and value not in opts["regions"]:
            raise FilterError("Unknown region.")
        region, label = value, (value or "Unknown region")
    return Drill(dimension, value, label, start, end, dept_id, line, region, measure)


def _rollup_where(d: Drill, start: dt.date | None = None) -> list:
    where = [KpiDaily.day >= (start or d.start), KpiDaily.day <= d.end]
    if d.department_id is not None:
        where.append(KpiDaily.department_id == d.department_id)
    for column, value in ((KpiDaily.line_of_business, d.line), (KpiDaily.region, d.region)):
        if value is not None:
            where.append(column == value if value else column.is_(None))
    return where


def _claim_branches(d: Drill, opts: dict, lo: dt.date, hi: dt.date) -> list[list]:
    """The claims behind a drill as separate conditions whose union is the answer.
    Each branch spells out the department and status lists (always true) and has
    no OR, so the planner walks an index over the date range (ix_claims_queue for
    report dates, ix_claims_closed_at for closing times) instead of scanning the
    table; claims without a report date (dated by creation), without a closing
    time (closed claims dated by report) and without a department get branches
    of their own. ``lo`` and ``hi`` are report days, or closing days for a
    "closed" drill, the way the rollup counts them."""
    if d.department_id is not None:
        departments = [Claim.department_id == d.department_id]
    else:
        departments = [Claim.department_id.in_([x["id"] for x in opts["all_departments"]]),
                       Claim.department_id.is_(None)]
    by_report = [[Claim.report_date >= lo, Claim.report_date <= hi],
                 [Claim.report_date.is_(None), cast(Claim.created_at, Date) >= lo,
                  cast(Claim.created_at, Date) <= hi]]
    if d.measure == "closed":
        # A date compared with a timestamptz is midnight in the session's time zone,
        # the same zone the rollup's closed_at::date uses.
        dates = [[Claim.closed_at >= lo, Claim.closed_at < hi + dt.timedelta(days=1)],
                 *[[Claim.closed_at.is_(None), *when] for when in by_report]]
        common = [Claim.status == "closed"]
    else:
        dates = by_report
        common = [Claim.status.in_(CLAIM_STATUSES)]
    for column, value in ((Claim.line_of_business, d.line), (Claim.region, d.region)):
        if value is not None:
            common.append(column == value if value else column.is_(None))
    return [[dept, *common, *when] for dept in departments for when in dates]


_RDAY = func.coalesce(Claim.report_date, cast(Claim.created_at, Date))
_CDAY = func.coalesce(cast(Claim.closed_at, Date), Claim.report_date, cast(Claim.created_at, Date))
_COLUMNS = (Claim.claim_number, Claim.report_date, Claim.loss_date, Claim.line_of_business, Department.name,
            Claim.status, Claim.region, Claim.claimed_amount, Claim.reserve_amount, Claim.paid_amount,
            cast(Claim.closed_at, Date))
FIELDS = ("claim_number", "report_date", "loss_date", "line_of_business", "department", "status", "region",
          "claimed", "reserve", "paid", "closed_date")


def _rows(session: Session, branches: list[list], offset: int, limit: int, measure: str = "received") -> list[dict]:
    """Rows ``offset``..``offset + limit`` of the union of the branches, newest first
    (by report day, or by closing day for a "closed" drill)."""
    keep = offset + limit
    day = _CDAY if measure == "closed" else _RDAY
    parts = [select(Claim.id.label("id"), day.label("rday")).where(*where)
             .order_by(day.desc(), Claim.id.desc()).limit(keep) for where in branches]
    union = union_all(*parts).subquery()
    page = (select(union.c.id, union.c.rday).order_by(union.c.rday.desc(), union.c.id.desc())
            .offset(offset).limit(limit).subquery())
    stmt = (select(*_COLUMNS).join(page, page.c.id == Claim.id)
            .outerjoin(Department, Department.id == Claim.department_id)
            .order_by(page.c.rday.desc(), page.c.id.desc()))
    out = []
    for r in session.execute(stmt):
        row = dict(zip(FIELDS, r))
        for k in ("claimed", "reserve", "paid"):
            row[k] = float(row[k]) if row[k] is not None else None
        out.append(row)
    return out


def drill_total(session: Session, d: Drill) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(_measure(d)), 0)).where(*_rollup_where(d))))


def _measure(d: Drill):
    return KpiDaily.closed if d.measure == "closed" else KpiDaily.received


def drill_page(session: Session, d: Drill, opts: dict, page: int = 0) -> dict:
    """One page of the claims behind a click, newest first."""
    total = drill_total(session, d)
    pages = max(1, -(-min(total, MAX_OFFSET) // PAGE_SIZE))
    page = max(0, min(int(page), pages - 1))
    offset = page * PAGE_SIZE
    need = offset + PAGE_SIZE
    lo = d.start
    if total > need:
        # Newest days first until they hold this page (with a margin for claims
        # received since the last refresh moved between days).
        per_day = session.execute(select(KpiDaily.day, func.sum(_measure(d))).where(*_rollup_where(d))
                                  .group_by(KpiDaily.day).order_by(KpiDaily.day.desc())).all()
        seen = 0
        for day, n in per_day:
            seen += int(n)
            if seen >= need * 1.1 + 20:
                lo = day
                break
    rows = _rows(session, _claim_branches(d, opts, lo, d.end), offset, PAGE_SIZE, d.measure)
    if len(rows) < PAGE_SIZE and lo > d.start:  # the rollup was behind the claims: look at the whole period
        rows = _rows(session, _claim_branches(d, opts, d.start, d.end), offset, PAGE_SIZE, d.measure)
    return {"rows": rows, "total": total, "page": page, "pages": pages, "capped": total > MAX_OFFSET}


class ExportTooLarge(FilterError):
    pass


def drill_all(session: Session, d: Drill, opts: dict, limit: int | None = None) -> list[dict]:
    """Every claim behind a click, for an export; refuses more than ``limit`` (EXPORT_LIMIT) rows."""
    limit = limit or EXPORT_LIMIT
    if drill_total(session, d) > limit:
        raise ExportTooLarge(f"More than {limit:,} claims: narrow the filters to export them.")
    rows = _rows(session, _claim_branches(d, opts, d.start, d.end), 0, limit + 1, d.measure)
    if len(rows) > limit:
        raise ExportTooLarge(f"More than {limit:,} claims: narrow the filters to export them.")
    return rows


def describe_filters(f: Filters, opts: dict, drill: Drill | None = None) -> list[tuple[str, str]]:
    """The filters in words, for export sheets and the printed report."""
    dept = next((d["name"] for d in opts["all_departments"] if d["id"] == f.department_id), None)
    out = [("Period", f"{f.start.isoformat()} to {f.end.isoformat()} ({f.days} day{'' if f.days == 1 else 's'})"),
           ("Department", dept or "All departments"),
           ("Line of business", f.line_of_business.replace("_", " ").title() if f.line_of_business else "All lines")]
    if drill is not None:
        out.append(("Clicked", f"{drill.dimension}: {drill.label}"))
        if (drill.start, drill.end) != (f.start, f.end):
            out.append((f"Claims {drill.measure}", f"{drill.start.isoformat()} to {drill.end.isoformat()}"))
    return out
