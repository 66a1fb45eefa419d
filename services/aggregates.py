"""Executive KPI rollups and the dashboard's reads over them.

``refresh`` rebuilds ``kpi_daily`` and ``kpi_cycle_histogram`` with a full,
set-based recompute (delete + INSERT ... SELECT) inside the caller's transaction.
Full rather than incremental on purpose: a claim that moves department or closes
changes rows of days long past, and one GROUP BY pass over the claims stays a few
seconds at a million claims, well inside the 5-minute schedule. Readers keep
seeing the previous rollup until the caller commits (DELETE, not TRUNCATE), and an
advisory lock makes two concurrent refreshes run one after the other.

Definitions (the dashboard and its tests rely on them):
- received: claims by report date (creation date when the report date is missing).
- closed: claims with status closed, by closing date (report date for legacy
  closed claims without a closing time).
- cycle time: whole days from report date to closing date, for claims with a
  closing time; the histogram caps it at ``CYCLE_CAP`` days.
- SLA breach: a claim closed more than its department's ``sla_days`` after its
  report (the department it closed in; ``DEFAULT_SLA_DAYS`` when it has none),
  counted on its closing day.
- open backlog at a day: claims received up to that day minus claims closed up to it.
- routed: claims with a routing decision; auto-routed: the latest decision sent
  it to a department that is not triage (confidence at or above its threshold).
- routing accuracy: closed claims whose latest decision's routed department is
  their final department, over closed claims with a decision. Beside it, the same
  without the claims that decision sent to another department (not triage) and that
  ended in SIU (referred after routing, when a fraud signal came up while they were
  worked; a claim a person routed from triage to SIU stays a routing miss).
- reassigned: routed claims moved by hand to another department, counted once, on the
  day of their first such move (a move to another adjuster of the same department is
  workload balancing, not a re-route; Operations' flows leave those out too). The
  reassignment rate is those moved in the period over the claims routed (received)
  in the period: a flow, current for this week. Counted on the report date instead
  (the share of a week's claims moved by now), a recent week read near 0% because
  moves come days later (median 6 on the demo), so "above 5% this week" could
  hardly ever fire. Over routed claims, not all claims received: claims from before
  go-live were never routed, have no event history, and would read as a 0% rate
  where there is nothing to measure.
- agreement: latest verdict per user per decision, on the day it was given.
Amounts (reserve, paid, claimed) belong to the report date.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Date, cast, func, select, text
from sqlalchemy.orm import Session

from db.models import Department, JobRun, KpiCycleHistogram, KpiDaily
from services.departments import DEFAULT_SLA_DAYS, SIU

CYCLE_CAP = 3 * 366  # SIU and litigated claims run past a year: a one-year cap read as their P90
MAX_RANGE_DAYS = 3 * 366
_LOCK_KEY = 740_021_001  # advisory lock id for the refresh

# Built once from module constants (no user input); every value is bound: B608 waived below.
_REFRESH_DAILY = text(f"""
WITH latest AS (
    SELECT DISTINCT ON (rd.claim_id) rd.claim_id, rd.routed_department_id, NOT d.is_triage AS auto
    FROM routing_decisions rd JOIN departments d ON d.id = rd.routed_department_id
    ORDER BY rd.claim_id, rd.id DESC
), moved AS (
    SELECT claim_id, min(at)::date AS mday FROM claim_events
    WHERE kind = 'moved' AND from_department_id IS DISTINCT FROM to_department_id GROUP BY claim_id
), base AS (
    SELECT c.id, c.department_id, c.line_of_business, c.region, c.reserve_amount, c.paid_amount,
           c.claimed_amount,
           -- Suspected, as the product knows it: an alert, the SIU queue or a case, or a finding.
           -- Not fraud_label on an open claim: the generator's or an import's ground truth.
           (cd.code = '{SIU}' OR fa.claim_id IS NOT NULL OR sc.claim_id IS NOT NULL
            OR (c.status = 'closed' AND c.fraud_label IS TRUE)) AS suspected,
           coalesce(c.report_date, c.created_at::date) AS rday,
           CASE WHEN c.status = 'closed'
                THEN coalesce(c.closed_at::date, c.report_date, c.created_at::date) END AS cday,
           CASE WHEN c.status = 'closed' AND c.closed_at IS NOT NULL
                THEN greatest(c.closed_at::date - coalesce(c.report_date, c.created_at::date), 0) END AS cycle,
           l.routed_department_id, l.auto, m.mday,
           coalesce(cd.sla_days, {DEFAULT_SLA_DAYS}) AS sla_days,
           cd.code IS NOT DISTINCT FROM '{SIU}' AS in_siu
    FROM claims c LEFT JOIN latest l ON l.claim_id = c.id LEFT JOIN moved m ON m.claim_id = c.id
         LEFT JOIN departments cd ON cd.id = c.department_id
         LEFT JOIN fraud_alerts fa ON fa.claim_id = c.id LEFT JOIN siu_case_claims sc ON sc.claim_id = c.id
), fb AS (
    SELECT DISTINCT ON (f.user_id, f.decision_id) f.claim_id, f.agrees, f.created_at::date AS fday
    FROM routing_feedback f ORDER BY f.user_id, f.decision_id, f.id DESC
), parts AS (
    SELECT rday AS day, department_id, line_of_business, region,
           count(*) AS received, 0 AS closed,
           coalesce(sum(reserve_amount), 0) AS reserve_sum, coalesce(sum(paid_amount), 0) AS paid_sum,
           coalesce(sum(claimed_amount), 0) AS claimed_sum,
           count(*) FILTER (WHERE suspected) AS fraud_flagged,
           count(routed_department_id) AS routed, count(*) FILTER (WHERE auto) AS auto_routed,
           0 AS reassigned,
           0 AS closed_routed, 0 AS routed_correct, 0 AS routed_siu_later, 0 AS feedback_total,
           0 AS feedback_agree, 0 AS cycle_days_sum, 0 AS cycle_count, 0 AS sla_breaches
    FROM base GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT cday, department_id, line_of_business, region, 0, count(*), 0, 0, 0, 0, 0, 0, 0,
           count(routed_department_id),
           count(*) FILTER (WHERE routed_department_id = department_id),
           count(*) FILTER (WHERE in_siu AND auto AND routed_department_id IS DISTINCT FROM department_id),
           0, 0, coalesce(sum(cycle), 0), count(cycle), count(*) FILTER (WHERE cycle > sla_days)
    FROM base WHERE cday IS NOT NULL GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT fb.fday, c.department_id, c.line_of_business, c.region, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           count(*), count(*) FILTER (WHERE fb.agrees), 0, 0, 0
    FROM fb JOIN claims c ON c.id = fb.claim_id GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT mday, department_id, line_of_business, region, 0, 0, 0, 0, 0, 0, 0, 0,
           count(*) FILTER (WHERE routed_department_id IS NOT NULL), 0, 0, 0, 0, 0, 0, 0, 0
    FROM base WHERE mday IS NOT NULL GROUP BY 1, 2, 3, 4
)
INSERT INTO kpi_daily (day, department_id, line_of_business, region, received, closed, reserve_sum,
                       paid_sum, claimed_sum, fraud_flagged, routed, auto_routed, reassigned,
                       closed_routed, routed_correct, routed_siu_later, feedback_total, feedback_agree,
                       cycle_days_sum, cycle_count, sla_breaches)
SELECT day, department_id, line_of_business, region, sum(received), sum(closed), sum(reserve_sum),
       sum(paid_sum), sum(claimed_sum), sum(fraud_flagged), sum(routed), sum(auto_routed),
       sum(reassigned), sum(closed_routed), sum(routed_correct), sum(routed_siu_later), sum(feedback_total),
       sum(feedback_agree), sum(cycle_days_sum), sum(cycle_count), sum(sla_breaches)
FROM parts GROUP BY 1, 2, 3, 4
""")  # nosec B608

_REFRESH_HISTOGRAM = text(f"""
INSERT INTO kpi_cycle_histogram (day, department_id, line_of_business, cycle_days, claims)
SELECT closed_at::date, department_id, line_of_business,
       least(greatest(closed_at::date - coalesce(report_date, created_at::date), 0), {CYCLE_CAP}),
       count(*)
FROM claims WHERE status = 'closed' AND closed_at IS NOT NULL
GROUP BY 1, 2, 3, 4
""")  # nosec B608


def refresh(session: Session) -> int:
    """Rebuild the rollups (full recompute, idempotent); returns the rows written."""
    session.flush()
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    session.execute(text("DELETE FROM kpi_daily"))
    session.execute(text("DELETE FROM kpi_cycle_histogram"))
    daily = session.execute(_REFRESH_DAILY).rowcount
    histogram = session.execute(_REFRESH_HISTOGRAM).rowcount
    from services import operations  # imports this module: bound late

    return int(daily) + int(histogram) + operations.refresh(session)


def refreshed_at(session: Session) -> dt.datetime | None:
    """When the refresh_aggregates job last rebuilt the rollups (None before its first run)."""
    return session.scalar(select(func.max(JobRun.finished_at)).where(JobRun.job == "refresh_aggregates",
                                                                      JobRun.status == "succeeded"))


STALE_AFTER = dt.timedelta(minutes=20)  # four missed runs of the 5-minute job, not one slow one


def staleness(session: Session, now: dt.datetime | None = None) -> str | None:
    """A warning when the rollups are older than the schedule allows (the scheduler is
    down or the job fails), None when they are current: the pages would otherwise show
    old figures as today's without a word."""
    from services.workflow import _duration  # imports services that import this module

    at = refreshed_at(session)
    now = now or dt.datetime.now(dt.timezone.utc)
    if at is None:
        return ("These figures have not been refreshed by the scheduled job yet. If this lasts more than a "
                "few minutes, ask an administrator to check the scheduler (Admin → Jobs).")
    if now - at <= STALE_AFTER:
        return None
    return (f"These figures are from {at.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC: the refresh that runs "
            f"every 5 minutes has not succeeded for {_duration((now - at).total_seconds())}. Claims received or "
            "moved since are not in them; ask an administrator to check the scheduler (Admin → Jobs).")


def refreshed_text(session: Session) -> str:
    at = refreshed_at(session)
    when = f", last at {at.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC" if at else ""
    return f"refreshed every 5 minutes{when}"


# ---------------------------------------------------------------- filters

class FilterError(ValueError):
    """A dashboard filter that is not a valid value (shown to the user as is)."""


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    department_id: int | None = None
    line_of_business: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Filters":
        """The period of equal length just before this one."""
        end = self.start - dt.timedelta(days=1)
        return Filters(end - dt.timedelta(days=self.days - 1), end, self.department_id, self.line_of_business)


def data_bounds(session: Session) -> tuple[dt.date, dt.date] | None:
    lo, hi = session.execute(select(func.min(KpiDaily.day), func.max(KpiDaily.day))).one()
    return (lo, hi) if hi is not None else None


def filter_options(session: Session) -> dict:
    departments = session.scalars(select(Department).where(Department.active.is_(True))
                                  .order_by(Department.name)).all()
    lines = [v for v in session.scalars(select(KpiDaily.line_of_business).distinct()
                                        .where(KpiDaily.line_of_business.is_not(None))
                                        .order_by(KpiDaily.line_of_business))]
    return {"departments": [{"id": d.id, "code": d.code, "name": d.name, "color": d.color} for d in departments],
            "lines": lines}


_UNSET = object()


def default_filters(session: Session, bounds=_UNSET) -> Filters:
    """The last 90 days of data the rollup holds (not of today's date)."""
    if bounds is _UNSET:
        bounds = data_bounds(session)
    end = bounds[1] if bounds else dt.date.today()
    return Filters(end - dt.timedelta(days=89), end)


def _date(value, name: str) -> dt.date:
    if not isinstance(value, str) or len(value) > 10:
        raise FilterError(f"{name} must be a date like 2026-10-31.")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name} must be a date like 2026-10-31.") from None


def parse_filters(session: Session, raw: dict, *, options: dict | None = None, bounds=_UNSET) -> Filters:
    """Validate filters from the URL or the controls; raises FilterError with a message.
    ``options`` and ``bounds`` may come from a cache (services.dashboard) to spare the reads."""
    if not isinstance(raw, dict):
        raise FilterError("Filters must be a set of named values.")
    default = default_filters(session, bounds)
    start = _date(raw["start"], "Start date") if raw.get("start") else default.start
    end = _date(raw["end"], "End date") if raw.get("end") else default.end
    if start > end:
        raise FilterError("The start date must not be after the end date.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise FilterError(f"Choose a range of at most {MAX_RANGE_DAYS} days.")
    department_id = None
    code = raw.get("department")
    if code not in (None, ""):
        if not isinstance(code, str) or len(code) > 40 or not code.isprintable():  # PostgreSQL refuses NUL
            raise FilterError("Unknown department.")
        if options is not None:
            department_id = next((d["id"] for d in options["departments"] if d["code"] == code), None)
        else:
            department_id = session.scalar(select(Department.id).where(Department.code == code))
        if department_id is None:
            raise FilterError("Unknown department.")
    line = raw.get("line")
    if line in (None, ""):
        line = None
    elif not isinstance(line, str) or len(line) > 40 or line not in (options or filter_options(session))["lines"]:
        raise FilterError("Unknown line of business.")
    return Filters(start, end, department_id, line)


# ---------------------------------------------------------------- reads

_SUMS = ("received", "closed", "reserve_sum", "paid_sum", "claimed_sum", "fraud_flagged", "routed",
         "auto_routed", "reassigned", "closed_routed", "routed_correct", "routed_siu_later", "feedback_total",
         "feedback_agree", "cycle_days_sum", "cycle_count", "sla_breaches")


def _dims(f: Filters, model=KpiDaily) -> list:
    where = []
    if f.department_id is not None:
        where.append(model.department_id == f.department_id)
    if f.line_of_business is not None:
        where.append(model.line_of_business == f.line_of_business)
    return where


def _in_period(f: Filters, model=KpiDaily) -> list:
    return [model.day >= f.start, model.day <= f.end, *_dims(f, model)]


def _ratio(num, den) -> float | None:
    return (num / den) if den else None


def percentile_from_histogram(histogram: list[tuple[int, int]], q: float) -> float | None:
    """Nearest-rank percentile over (value, count) pairs."""
    total = sum(n for _, n in histogram)
    if not total:
        return None
    rank = max(1, -(-int(q * total * 1000) // 1000))  # ceil(q * total) without float drift
    seen = 0
    for value, n in sorted(histogram):
        seen += n
        if seen >= rank:
            return float(value)
    return float(sorted(histogram)[-1][0])


def backlog_at(session: Session, f: Filters, day: dt.date) -> int:
    received, closed = session.execute(
        select(func.coalesce(func.sum(KpiDaily.received), 0), func.coalesce(func.sum(KpiDaily.closed), 0))
        .where(KpiDaily.day <= day, *_dims(f))).one()
    return int(received) - int(closed)


def cycle_histogram(session: Session, f: Filters) -> list[tuple[int, int]]:
    rows = session.execute(select(KpiCycleHistogram.cycle_days, func.sum(KpiCycleHistogram.claims))
                           .where(*_in_period(f, KpiCycleHistogram)).group_by(KpiCycleHistogram.cycle_days))
    return [(int(d), int(n)) for d, n in rows]


def kpis(session: Session, f: Filters) -> dict:
    """Headline figures for one period (None where a rate has no denominator)."""
    row = session.execute(select(*[func.coalesce(func.sum(getattr(KpiDaily, c)), 0) for c in _SUMS])
                          .where(*_in_period(f))).one()
    s = dict(zip(_SUMS, row))
    histogram = cycle_histogram(session, f)
    return {
        "received": int(s["received"]),
        "closed": int(s["closed"]),
        "backlog": backlog_at(session, f, f.end),
        "cycle_median": percentile_from_histogram(histogram, 0.5),
        "cycle_p90": percentile_from_histogram(histogram, 0.9),
        "cycle_mean": _ratio(int(s["cycle_days_sum"]), int(s["cycle_count"])),
        "sla_breaches": int(s["sla_breaches"]),
        "routing_accuracy": _ratio(int(s["routed_correct"]), int(s["closed_routed"])),
        # The same without the claims referred to SIU after routing (a fraud signal found while
        # they were worked): shown beside the rate, whose definition counts them as misses.
        "routed_siu_later": int(s["routed_siu_later"]),
        "routing_accuracy_without_siu_later": _ratio(int(s["routed_correct"]),
                                                     int(s["closed_routed"]) - int(s["routed_siu_later"])),
        "reassignment_rate": _ratio(int(s["reassigned"]), int(s["routed"])),
        "agreement_rate": _ratio(int(s["feedback_agree"]), int(s["feedback_total"])),
        "feedback_total": int(s["feedback_total"]),
        # The rates' denominators, so a reader can tell a rate of 3 claims from one of 3,000.
        "routed": int(s["routed"]),
        "closed_routed": int(s["closed_routed"]),
        "auto_routed_share": _ratio(int(s["auto_routed"]), int(s["routed"])),
        "fraud_flagged": int(s["fraud_flagged"]),
        "reserve": float(s["reserve_sum"]),
        "paid": float(s["paid_sum"]),
    }


# Figures that add up over the days of a period: against a previous period that the
# data covers only in part they compare with a fraction of a period.
_PERIOD_TOTALS = ("received", "closed", "sla_breaches", "fraud_flagged", "reserve", "paid", "feedback_total")


def kpis_with_previous(session: Session, f: Filters) -> dict:
    """This period's figures and the previous period's, where None means "nothing to
    compare with": a previous period before the first day of data has no figures at
    all (not zeros), one the data only partly covers has no period totals, and a rate
    without a denominator is None as in ``kpis``."""
    previous_f = f.previous()
    previous = kpis(session, previous_f)
    bounds = data_bounds(session)
    if bounds is None or previous_f.end < bounds[0]:
        previous = dict.fromkeys(previous)
    elif previous_f.start < bounds[0]:
        previous.update(dict.fromkeys(_PERIOD_TOTALS))
    return {"current": kpis(session, f), "previous": previous}


def series(session: Session, f: Filters) -> dict:
    """Received and closed per day, or per week (Monday) for ranges over 120 days."""
    weekly = f.days > 120
    bucket = (cast(func.date_trunc("week", KpiDaily.day), Date) if weekly else KpiDaily.day).label("bucket")
    rows = session.execute(select(bucket, func.sum(KpiDaily.received), func.sum(KpiDaily.closed))
                           .where(*_in_period(f)).group_by(bucket).order_by(bucket)).all()
    periods, received, closed = zero_filled(rows, f, weekly)
    return {"grain": "week" if weekly else "day", "periods": periods, "days": bucket_days(periods, f, weekly),
            "received": received, "closed": closed}


def buckets(f: Filters, weekly: bool) -> list[dt.date]:
    """Every day, or every week (its Monday), of the period."""
    step = dt.timedelta(days=7 if weekly else 1)
    day = f.start - dt.timedelta(days=f.start.weekday()) if weekly else f.start
    out = []
    while day <= f.end:
        out.append(day)
        day += step
    return out


def zero_filled(rows, f: Filters, weekly: bool) -> tuple[list[dt.date], list[int], list[int]]:
    """(bucket, received, closed) rows spread over every bucket of the period: a day
    without claims is a 0 on the chart, not a straight line drawn across it."""
    found = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    periods = buckets(f, weekly)
    return (periods, [found.get(p, (0, 0))[0] for p in periods], [found.get(p, (0, 0))[1] for p in periods])


def bucket_days(periods: list[dt.date], f: Filters, weekly: bool) -> list[int]:
    """How many days of each bucket lie inside the period: a week cut by the
    period's first or last day holds fewer than 7, and a chart must say so
    rather than show it as a drop."""
    if not weekly:
        return [1] * len(periods)
    return [(min(p + dt.timedelta(days=6), f.end) - max(p, f.start)).days + 1 for p in periods]


@dataclass
class BreakdownRow:
    key: str
    label: str
    color: str | None
    received: int
    closed: int
    reserve: float
    paid: float
    routing_accuracy: float | None
    auto_routed_share: float | None
    sla_breaches: int
    extra: dict = field(default_factory=dict)


def breakdown(session: Session, f: Filters, by: str) -> list[BreakdownRow]:
    """Period totals per department, line of business or region, largest first."""
    column = {"department": KpiDaily.department_id, "line": KpiDaily.line_of_business,
              "region": KpiDaily.region}[by]
    rows = session.execute(
        select(column, func.sum(KpiDaily.received), func.sum(KpiDaily.closed), func.sum(KpiDaily.reserve_sum),
               func.sum(KpiDaily.paid_sum), func.sum(KpiDaily.routed_correct), func.sum(KpiDaily.closed_routed),
               func.sum(KpiDaily.auto_routed), func.sum(KpiDaily.routed), func.sum(KpiDaily.sla_breaches))
        .where(*_in_period(f)).group_by(column)).all()
    departments = {d.id: d for d in session.scalars(select(Department))} if by == "department" else {}
    out = []
    for key, rec, clo, res, paid, correct, closed_routed, auto, routed, sla in rows:
        if by == "department":
            dept = departments.get(key)
            code, label, color = ((dept.code, dept.name, dept.color) if dept else ("", "No department", "#adb5bd"))
        else:
            label = (key.replace("_", " ").title() if by == "line" else key) if key else "Unknown"
            code, color = key or "", None
        out.append(BreakdownRow(code, label, color, int(rec), int(clo), float(res), float(paid),
                                _ratio(int(correct), int(closed_routed)), _ratio(int(auto), int(routed)), int(sla)))
    return sorted(out, key=lambda r: (-r.received, r.label))
