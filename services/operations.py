"""Operations page: department workload and routing quality, read from rollups.

``refresh`` rebuilds the four ``ops_*`` tables with a full, set-based recompute
inside the caller's transaction; ``services.aggregates.refresh`` calls it, so the
scheduled aggregates job and the first start keep them next to ``kpi_daily``.
Reads never touch the claims table: at a million claims each one aggregates a
few thousand rollup rows.

Definitions (the page and its tests rely on them):
- open claims: status other than closed, counted at the last refresh; the age is
  today minus the report date (creation date when missing), in the workload
  page's buckets (services.workload.AGE_BUCKETS); past SLA: older than its
  department's service level (``departments.sla_days``).
- inflow / outflow: ``kpi_daily`` received (report date) and closed (closing date).
- routed department: the **first** routing decision's predicted department (what
  the router thought before any person touched the claim); final department: the
  closed claim's department. Counted on the closing day, like kpi_daily's closures.
- confidence band: the first decision's confidence, below 0.5, then 0.5-0.6 ...
  0.9-1.0 (upper edge in the last band).
- reassignment flows: "moved" claim events that changed department, on the day
  of the move.
- verdicts: the latest verdict per user and decision, on the day it was given,
  under the decision's routed department.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Date, cast, func, literal, or_, select, text
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import Department, KpiDaily, OpsFeedbackDaily, OpsMovesDaily, OpsOpenClaims, OpsRoutingDaily
from services import aggregates, workload
from services.access import AccessDenied
from services.aggregates import Filters
from services.departments import DEFAULT_SLA_DAYS
from services.feedback import REASONS as FEEDBACK_REASONS
from services.reassignment import MOVE_REASON_LABELS as MOVE_REASONS

BANDS = ("< 0.5", "0.5–0.6", "0.6–0.7", "0.7–0.8", "0.8–0.9", "0.9–1.0")
BAND_BOUNDS = ((0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0))
WEEKLY_AFTER_DAYS = 120
DEFAULT_DAYS = 180
TOP_REASONS = 8
CACHE_TTL = 300
# Part of every cache key: bump it when page_data's shape changes, so entries cached
# by the previous release (same refresh stamp) are not read with the new shape.
DATA_SHAPE = 3

_REFRESH = (
    "DELETE FROM ops_routing_daily",
    "DELETE FROM ops_moves_daily",
    "DELETE FROM ops_feedback_daily",
    "DELETE FROM ops_open_claims",
    """
    WITH first AS (
        SELECT DISTINCT ON (claim_id) claim_id, predicted_department_id, confidence
        FROM routing_decisions ORDER BY claim_id, id
    )
    INSERT INTO ops_routing_daily (day, department_id, predicted_department_id, band, claims, confidence_sum)
    SELECT coalesce(c.closed_at::date, c.report_date, c.created_at::date), c.department_id,
           f.predicted_department_id,
           CASE WHEN f.confidence < 0.5 THEN 0 ELSE least(floor(f.confidence * 10)::int - 4, 5) END,
           count(*), sum(f.confidence)
    FROM claims c JOIN first f ON f.claim_id = c.id
    WHERE c.status = 'closed'
    GROUP BY 1, 2, 3, 4
    """,
    """
    INSERT INTO ops_moves_daily (day, from_department_id, to_department_id, reason, moves)
    SELECT at::date, from_department_id, to_department_id, reason, count(*)
    FROM claim_events WHERE kind = 'moved'
    GROUP BY 1, 2, 3, 4
    """,
    """
    WITH current AS (
        SELECT DISTINCT ON (user_id, decision_id) decision_id, agrees, reason_code, suggested_department_id,
               created_at
        FROM routing_feedback ORDER BY user_id, decision_id, id DESC
    )
    INSERT INTO ops_feedback_daily (day, department_id, agrees, reason_code, suggested_department_id, verdicts)
    SELECT v.created_at::date, d.routed_department_id, v.agrees, v.reason_code, v.suggested_department_id,
           count(*)
    FROM current v JOIN routing_decisions d ON d.id = v.decision_id
    GROUP BY 1, 2, 3, 4, 5
    """,
    """
    INSERT INTO ops_open_claims (department_id, adjuster_id, report_day, claims)
    SELECT department_id, adjuster_id, coalesce(report_date, created_at::date), count(*)
    FROM claims WHERE status <> 'closed'
    GROUP BY 1, 2, 3
    """,
)


def refresh(session: Session) -> int:
    """Rebuild the operations rollups (full recompute); returns the rows written.
    The caller holds the aggregates advisory lock and commits."""
    rows = 0
    for statement in _REFRESH:
        result = session.execute(text(statement))
        if statement.lstrip().startswith(("WITH", "INSERT")):
            rows += int(result.rowcount or 0)
    return rows


def band_of(confidence: float) -> int:
    """The band index of a confidence, as the refresh computes it."""
    return 0 if confidence < 0.5 else min(int(confidence * 10 + 1e-9) - 4, 5)


# ---------------------------------------------------------------- reads

def parse_filters(session: Session, raw: dict) -> Filters:
    """The dashboard's filters (period, department; validated the same way), with a
    default period of the last ``DEFAULT_DAYS`` days of data: routing quality is about
    closed claims, and a quarter holds too few closings to read calibration from."""
    if not isinstance(raw, dict):
        raise aggregates.FilterError("Filters must be a set of named values.")
    raw = {k: raw.get(k) for k in ("start", "end", "department")}
    if not raw["start"] and not raw["end"]:
        bounds = aggregates.data_bounds(session)
        end = bounds[1] if bounds else dt.date.today()
        raw["start"], raw["end"] = (end - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat(), end.isoformat()
    return aggregates.parse_filters(session, raw)


def check(user) -> None:
    if user is None or not user.can(Perm.VIEW_OPERATIONS):
        raise AccessDenied("Your role cannot see the operations page.")


def _departments(session: Session) -> dict[int, dict]:
    return {d.id: {"id": d.id, "code": d.code, "name": d.name, "color": d.color, "is_triage": d.is_triage,
                   "active": d.active}
            for d in session.scalars(select(Department))}


def _in(model, f: Filters) -> list:
    return [model.day >= f.start, model.day <= f.end]


def workload_data(session: Session, f: Filters, *, today: dt.date | None = None) -> dict:
    """Open claims per department (age buckets, unassigned, team capacity) and per
    adjuster, from the open-claims rollup; with a department filter, that
    department and its team only."""
    today = today or dt.date.today()
    rows = session.execute(select(OpsOpenClaims.department_id, OpsOpenClaims.adjuster_id,
                                  OpsOpenClaims.report_day, OpsOpenClaims.claims)).all()
    sla = dict(session.execute(select(Department.id, Department.sla_days)).all())
    ages: dict[int, list[int]] = {}
    unassigned: dict[int, int] = {}
    past_sla: dict[int, int] = {}
    per_adjuster: dict[int, int] = {}
    for dept_id, adjuster_id, day, n in rows:
        if adjuster_id is not None:
            per_adjuster[adjuster_id] = per_adjuster.get(adjuster_id, 0) + n
        if dept_id is None:
            continue
        age = (today - day).days
        ages.setdefault(dept_id, [0] * len(workload.AGE_BUCKETS))[workload.age_bucket(age)] += n
        if adjuster_id is None:
            unassigned[dept_id] = unassigned.get(dept_id, 0) + n
        if age > sla.get(dept_id, DEFAULT_SLA_DAYS):
            past_sla[dept_id] = past_sla.get(dept_id, 0) + n
    adjusters = workload.loads_from_counts(session, per_adjuster)
    departments = workload.department_loads_from(session, ages, unassigned, adjusters, past_sla)
    if f.department_id is not None:
        departments = [d for d in departments if d.id == f.department_id]
        code = departments[0].code if departments else None
        adjusters = [a for a in adjusters if code in a.departments]
    return {
        "as_of": today.isoformat(),
        "buckets": list(workload.AGE_BUCKETS),
        "departments": [{"code": d.code, "name": d.name, "color": d.color, "open": d.open_claims,
                         "unassigned": d.unassigned, "ages": [d.ages[b] for b in workload.AGE_BUCKETS],
                         "adjusters": d.adjusters, "shared": d.shared, "capacity": d.capacity,
                         "over_capacity": d.over_capacity, "assigned": d.open_claims - d.unassigned,
                         "sla_days": d.sla_days, "past_sla": d.past_sla}
                        for d in departments],
        "adjusters": [{"id": a.id, "name": a.name, "departments": list(a.departments),
                       "department_names": list(a.department_names), "open": a.open_claims,
                       "capacity": a.capacity, "use": a.use, "over": a.over_capacity} for a in adjusters],
    }


def open_past_sla(session: Session, *, today: dt.date, department_id: int | None = None) -> tuple[int, int]:
    """(open claims, those past their department's service level) from the open-claims
    rollup, all departments or one: the alerts on them read what Operations shows."""
    age = literal(today, Date) - OpsOpenClaims.report_day
    query = (select(func.coalesce(func.sum(OpsOpenClaims.claims), 0),
                    func.coalesce(func.sum(OpsOpenClaims.claims).filter(age > Department.sla_days), 0))
             .join(Department, Department.id == OpsOpenClaims.department_id))
    if department_id is not None:
        query = query.where(OpsOpenClaims.department_id == department_id)
    open_claims, past = session.execute(query).one()
    return int(open_claims), int(past)


def flow_data(session: Session, f: Filters, departments: dict[int, dict]) -> dict:
    """Received against closed per day (per week past 120 days) and per department, from kpi_daily."""
    weekly = f.days > WEEKLY_AFTER_DAYS
    where = [KpiDaily.day >= f.start, KpiDaily.day <= f.end]
    if f.department_id is not None:
        where.append(KpiDaily.department_id == f.department_id)
    bucket = (cast(func.date_trunc("week", KpiDaily.day), Date) if weekly else KpiDaily.day).label("bucket")
    series = session.execute(select(bucket, func.sum(KpiDaily.received), func.sum(KpiDaily.closed))
                             .where(*where).group_by(bucket).order_by(bucket)).all()
    per_dept = session.execute(select(KpiDaily.department_id, func.sum(KpiDaily.received),
                                      func.sum(KpiDaily.closed))
                               .where(*where).group_by(KpiDaily.department_id)).all()
    by_dept = []
    for dept_id, received, closed in per_dept:
        d = departments.get(dept_id)
        by_dept.append({"code": d["code"] if d else "", "name": d["name"] if d else "No department",
                        "color": d["color"] if d else "#adb5bd", "received": int(received), "closed": int(closed)})
    by_dept.sort(key=lambda r: (-r["received"], r["name"]))
    periods, received, closed = aggregates.zero_filled(series, f, weekly) if series else ([], [], [])
    return {"grain": "week" if weekly else "day",
            "periods": [p.isoformat() for p in periods],
            "days": aggregates.bucket_days(periods, f, weekly),
            "received": received, "closed": closed,
            "by_department": by_dept}


def routing_data(session: Session, f: Filters, departments: dict[int, dict]) -> dict:
    """Confusion matrix (final x first predicted department) and calibration by confidence band."""
    where = _in(OpsRoutingDaily, f)
    if f.department_id is not None:
        where.append(OpsRoutingDaily.department_id == f.department_id)
    rows = session.execute(select(OpsRoutingDaily.department_id, OpsRoutingDaily.predicted_department_id,
                                  OpsRoutingDaily.band, func.sum(OpsRoutingDaily.claims),
                                  func.sum(OpsRoutingDaily.confidence_sum))
                           .where(*where).group_by(OpsRoutingDaily.department_id,
                                                   OpsRoutingDaily.predicted_department_id,
                                                   OpsRoutingDaily.band)).all()
    cells: dict[tuple[int | None, int], int] = {}
    bands = [{"band": b, "label": BANDS[b], "low": BAND_BOUNDS[b][0], "high": BAND_BOUNDS[b][1],
              "claims": 0, "correct": 0, "confidence_sum": 0.0} for b in range(len(BANDS))]
    for final, predicted, band, n, conf in rows:
        n = int(n)
        cells[(final, predicted)] = cells.get((final, predicted), 0) + n
        bands[band]["claims"] += n
        bands[band]["confidence_sum"] += float(conf)
        if final == predicted:
            bands[band]["correct"] += n
    for b in bands:
        b["mean_confidence"] = b["confidence_sum"] / b["claims"] if b["claims"] else None
        b["accuracy"] = b["correct"] / b["claims"] if b["claims"] else None
        del b["confidence_sum"]
    ids = sorted({k[0] for k in cells} | {k[1] for k in cells}, key=lambda i: _order_key(departments, i))
    labels = [departments[i]["code"] if i in departments else "" for i in ids]
    finals = [i for i in ids if any(k[0] == i for k in cells)]
    predicted = [i for i in ids if any(k[1] == i for k in cells)]
    total = sum(cells.values())
    correct = sum(n for (a, b), n in cells.items() if a == b)
    names = {departments[i]["code"]: departments[i]["name"] for i in ids if i in departments}
    return {
        "total": total, "correct": correct, "accuracy": correct / total if total else None,
        "rows": [labels[ids.index(i)] for i in finals], "columns": [labels[ids.index(i)] for i in predicted],
        "matrix": [[cells.get((a, b), 0) for b in predicted] for a in finals],
        "names": names, "bands": bands,
    }


def _order_key(departments: dict[int, dict], dept_id) -> tuple:
    d = departments.get(dept_id)
    return (1, "") if d is None else (int(d["is_triage"]), d["name"])


def moves_data(session: Session, f: Filters, departments: dict[int, dict]) -> dict:
    """Department changes by hand in the period: flows (from -> to) and reasons."""
    where = [*_in(OpsMovesDaily, f), OpsMovesDaily.from_department_id.is_not(None),
             OpsMovesDaily.to_department_id.is_not(None),
             OpsMovesDaily.from_department_id != OpsMovesDaily.to_department_id]
    if f.department_id is not None:
        where.append(or_(OpsMovesDaily.from_department_id == f.department_id,
                         OpsMovesDaily.to_department_id == f.department_id))
    rows = session.execute(select(OpsMovesDaily.from_department_id, OpsMovesDaily.to_department_id,
                                  OpsMovesDaily.reason, func.sum(OpsMovesDaily.moves))
                           .where(*where).group_by(OpsMovesDaily.from_department_id,
                                                   OpsMovesDaily.to_department_id, OpsMovesDaily.reason)).all()
    flows: dict[tuple[int, int], int] = {}
    reasons: dict[str, int] = {}
    for src, dst, reason, n in rows:
        flows[(src, dst)] = flows.get((src, dst), 0) + int(n)
        reasons[reason or ""] = reasons.get(reason or "", 0) + int(n)

    def dept(i):
        d = departments.get(i, {})
        return {"code": d.get("code", "?"), "name": d.get("name", "Unknown"), "color": d.get("color", "#adb5bd")}

    return {
        "total": sum(flows.values()),
        "flows": sorted(({"from": dept(a), "to": dept(b), "moves": n} for (a, b), n in flows.items()),
                        key=lambda x: (-x["moves"], x["from"]["name"], x["to"]["name"])),
        "reasons": sorted(({"code": r, "label": MOVE_REASONS.get(r, r or "No reason"), "moves": n}
                           for r, n in reasons.items()), key=lambda x: (-x["moves"], x["label"])),
    }


def feedback_data(session: Session, f: Filters, departments: dict[int, dict]) -> dict:
    """Agreement and the most common disagreement reasons (with the departments suggested)."""
    where = _in(OpsFeedbackDaily, f)
    if f.department_id is not None:
        where.append(OpsFeedbackDaily.department_id == f.department_id)
    rows = session.execute(select(OpsFeedbackDaily.agrees, OpsFeedbackDaily.reason_code,
                                  OpsFeedbackDaily.suggested_department_id, func.sum(OpsFeedbackDaily.verdicts))
                           .where(*where).group_by(OpsFeedbackDaily.agrees, OpsFeedbackDaily.reason_code,
                                                   OpsFeedbackDaily.suggested_department_id)).all()
    total = agree = 0
    reasons: dict[str, dict] = {}
    for agrees, reason, suggested, n in rows:
        n = int(n)
        total += n
        if agrees:
            agree += n
            continue
        item = reasons.setdefault(reason or "", {"code": reason or "", "label": FEEDBACK_REASONS.get(reason, reason
                                                                                                     or "No reason"),
                                                 "verdicts": 0, "suggested": {}})
        item["verdicts"] += n
        if suggested is not None:
            code = departments.get(suggested, {}).get("code", "?")
            item["suggested"][code] = item["suggested"].get(code, 0) + n
    ranked = sorted(reasons.values(), key=lambda x: (-x["verdicts"], x["label"]))[:TOP_REASONS]
    for item in ranked:
        item["suggested"] = sorted(({"code": c, "name": next((d["name"] for d in departments.values()
                                                              if d["code"] == c), c), "verdicts": n}
                                    for c, n in item["suggested"].items()), key=lambda x: -x["verdicts"])
    return {"total": total, "agree": agree, "disagree": total - agree,
            "agreement": agree / total if total else None, "reasons": ranked}


def stamp(session: Session) -> str:
    """Changes whenever the rollups are rebuilt (every row of a refresh carries its transaction id)."""
    return session.execute(text("SELECT xmin::text FROM kpi_daily LIMIT 1")).scalar() or "empty"


def page_data(session: Session, user, f: Filters, *, today: dt.date | None = None, use_cache: bool = True) -> dict:
    """Everything the Operations page shows for the filters, as JSON-able data."""
    check(user)
    today = today or dt.date.today()

    def compute() -> dict:
        departments = _departments(session)
        return {"filters": {"start": f.start.isoformat(), "end": f.end.isoformat(),
                            "department": departments[f.department_id]["code"]
                            if f.department_id in departments else None},
                "workload": workload_data(session, f, today=today),
                "flow": flow_data(session, f, departments),
                "routing": routing_data(session, f, departments),
                "moves": moves_data(session, f, departments),
                "feedback": feedback_data(session, f, departments)}

    if not use_cache:
        return compute()
    # Through JSON so cached and fresh values have the same shape.
    return cached(session, f, "data", lambda: json.loads(json.dumps(compute())), today=today)


def cached(session: Session, f: Filters, part: str, compute, *, today: dt.date | None = None):
    """``compute()`` through the shared cache (services.cache, when this build has it),
    keyed by the rollups' refresh stamp, the filters and the day (ages change daily)."""
    try:
        from services.cache import cached as through_cache, make_key
    except ImportError:  # no cache layer in this build
        return compute()
    key = make_key("operations", DATA_SHAPE, part, stamp(session), f.start, f.end, f.department_id,
                   today or dt.date.today())
    return through_cache(key, compute, ttl=CACHE_TTL)
