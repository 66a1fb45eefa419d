"""What the usage records say: funnels, journeys, time to decision, click
density, satisfaction and page views, for one period (and optionally one role)."""
from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from db.models import ROLES

MAX_SPAN_DAYS = 366
DEFAULT_DAYS = 30
QUEUE_PAGES = ("/queues", "/my-work")
DECISION_ACTIONS = ("decision_recorded", "status_changed")
FUNNEL_STEPS = ("Queue viewed", "Claim opened", "Decision recorded")
HEATMAP_LIMIT = 20_000
JOURNEY_LIMIT = 20_000
PATH_STEPS = 4


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive
    role: str | None = None

    @property
    def since(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)

    @property
    def until(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    def params(self) -> dict:
        return {"since": self.since, "until": self.until, "role": self.role}


def default_period(today: dt.date | None = None) -> Period:
    today = today or dt.datetime.now(dt.UTC).date()
    return Period(today - dt.timedelta(days=DEFAULT_DAYS - 1), today)


def parse_period(raw: dict, today: dt.date | None = None) -> Period:
    """``start``/``end`` (YYYY-MM-DD) and ``role`` from the URL; missing values take the last 30 days."""
    default = default_period(today)
    values = {}
    for key, fallback in (("start", default.start), ("end", default.end)):
        value = raw.get(key)
        if value in (None, ""):
            values[key] = fallback
            continue
        try:
            values[key] = dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            raise PeriodError(f"{key} must be a date like 2026-11-28") from None
    if values["start"] > values["end"]:
        raise PeriodError("the start date is after the end date")
    if (values["end"] - values["start"]).days >= MAX_SPAN_DAYS:
        raise PeriodError(f"choose at most {MAX_SPAN_DAYS} days")
    role = raw.get("role") or None
    if role is not None and role not in ROLES:
        raise PeriodError("unknown role")
    return Period(values["start"], values["end"], role)


# SQL here is assembled only from constant fragments (the role clause below);
# every value is a bound parameter, hence the B608 (string-built SQL) waivers.
def _role_clause(column: str, period: Period) -> str:
    return f" AND {column} = :role" if period.role else ""


def summary(session: Session, p: Period) -> dict:
    row = session.execute(text(
        "SELECT count(*) FILTER (WHERE action = 'page_view'), count(DISTINCT journey_id), count(DISTINCT user_id),"  # nosec B608
        " count(*) FILTER (WHERE action = ANY(:decisions))"
        " FROM usage_events WHERE at >= :since AND at < :until" + _role_clause("role", p)),
        {**p.params(), "decisions": list(DECISION_ACTIONS)}).one()
    clicks = session.execute(text("SELECT count(*) FROM usage_clicks WHERE at >= :since AND at < :until"  # nosec B608
                                  + _role_clause("role", p)), p.params()).scalar_one()
    rating = session.execute(text(
        "SELECT avg(rating)::float, count(rating) FROM usage_ratings"  # nosec B608
        " WHERE answered_at >= :since AND answered_at < :until" + _role_clause("role", p)), p.params()).one()
    return {"page_views": row[0], "journeys": row[1], "users": row[2], "decisions": row[3], "clicks": clicks,
            "avg_rating": rating[0], "ratings": rating[1]}


def funnel(session: Session, p: Period) -> dict:
    """Journeys that viewed a queue; of those, opened a claim afterwards; of
    those, recorded a decision after opening it. Per role and in total."""
    rows = session.execute(text(
        "WITH ev AS (SELECT journey_id, role, action, page, at FROM usage_events"  # nosec B608
        "            WHERE at >= :since AND at < :until" + _role_clause("role", p) + "),"  # nosec B608
        " q AS (SELECT journey_id, min(role) AS role, min(at) AS t FROM ev"
        "       WHERE action = 'page_view' AND page = ANY(:queues) GROUP BY journey_id),"
        " o AS (SELECT q.journey_id, min(ev.at) AS t FROM q JOIN ev ON ev.journey_id = q.journey_id"
        "       WHERE ev.action = 'claim_opened' AND ev.at >= q.t GROUP BY q.journey_id),"
        " d AS (SELECT o.journey_id FROM o JOIN ev ON ev.journey_id = o.journey_id"
        "       WHERE ev.action = ANY(:decisions) AND ev.at >= o.t GROUP BY o.journey_id)"
        " SELECT q.role, count(*), count(o.journey_id), count(d.journey_id)"
        " FROM q LEFT JOIN o ON o.journey_id = q.journey_id LEFT JOIN d ON d.journey_id = q.journey_id"
        " GROUP BY q.role ORDER BY q.role"),
        {**p.params(), "queues": list(QUEUE_PAGES), "decisions": list(DECISION_ACTIONS)}).all()
    by_role = {role: [int(a), int(b), int(c)] for role, a, b, c in rows}
    total = [sum(v[i] for v in by_role.values()) for i in range(3)]
    return {"steps": list(FUNNEL_STEPS), "total": total, "by_role": by_role,
            "conversion": conversion(total)}


def conversion(counts: list[int]) -> list[float | None]:
    """Share of the first step reaching each step."""
    first = counts[0] if counts else 0
    return [(c / first) if first else None for c in counts]


def time_to_decision(session: Session, p: Period) -> list[dict]:
    """Per person: seconds from opening a claim to their first decision on it in
    the period (the latest opening before that decision counts)."""
    rows = session.execute(text(
        "WITH d AS (SELECT user_id, subject, min(at) AS t FROM usage_events"  # nosec B608
        "           WHERE action = ANY(:decisions) AND subject IS NOT NULL AND user_id IS NOT NULL"
        "             AND at >= :since AND at < :until" + _role_clause("role", p) +
        "           GROUP BY user_id, subject),"  # nosec B608
        " pairs AS (SELECT d.user_id, extract(epoch FROM d.t - (SELECT max(o.at) FROM usage_events o"
        "             WHERE o.user_id = d.user_id AND o.subject = d.subject AND o.action = 'claim_opened'"
        "               AND o.at <= d.t)) AS seconds FROM d)"
        " SELECT u.id, u.name, u.role, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds),"
        "        avg(seconds)::float"
        " FROM pairs JOIN users u ON u.id = pairs.user_id WHERE seconds IS NOT NULL"
        " GROUP BY u.id, u.name, u.role ORDER BY 5"),
        {**p.params(), "decisions": list(DECISION_ACTIONS)}).all()
    return [{"user_id": r[0], "name": r[1], "role": r[2], "decisions": int(r[3]), "median_s": float(r[4]),
             "mean_s": float(r[5])} for r in rows]


def page_views(session: Session, p: Period) -> list[dict]:
    rows = session.execute(text(
        "SELECT page, role, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)"  # nosec B608
        " FROM usage_events WHERE action = 'page_view' AND at >= :since AND at < :until" + _role_clause("role", p) +
        " GROUP BY page, role ORDER BY page, role"), p.params()).all()
    return [{"page": r[0], "role": r[1], "views": int(r[2]), "median_ms": r[3]} for r in rows]


def time_on_page(session: Session, p: Period) -> dict[str, float]:
    """Median seconds on each page, as the browser reported it."""
    rows = session.execute(text(
        "SELECT page, percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) / 1000.0 FROM usage_events"  # nosec B608
        " WHERE action = 'time_on_page' AND at >= :since AND at < :until" + _role_clause("role", p) +
        " GROUP BY page"), p.params()).all()
    return {r[0]: float(r[1]) for r in rows}


def click_pages(session: Session, p: Period) -> list[tuple[str, int]]:
    rows = session.execute(text(
        "SELECT page, count(*) FROM usage_clicks WHERE at >= :since AND at < :until" + _role_clause("role", p) +  # nosec B608
        " GROUP BY page ORDER BY 2 DESC, 1"), p.params()).all()
    return [(r[0], int(r[1])) for r in rows]


def clicks(session: Session, p: Period, page: str) -> list[tuple[float, float]]:
    rows = session.execute(text(
        "SELECT x, y FROM usage_clicks WHERE page = :page AND at >= :since AND at < :until" + _role_clause("role", p) +  # nosec B608
        " ORDER BY at DESC LIMIT :limit"), {**p.params(), "page": page, "limit": HEATMAP_LIMIT}).all()
    return [(float(x), float(y)) for x, y in rows]


def satisfaction(session: Session, p: Period) -> list[dict]:
    """Per ISO week (Monday): adjuster agreement with the router (current
    verdicts, as services.feedback.agreement_rate counts them) and the average rating."""
    role_join = " JOIN users u ON u.id = f.user_id AND u.role = :role" if p.role else ""
    agreement = session.execute(text(
        "SELECT date_trunc('week', f.created_at AT TIME ZONE 'UTC')::date AS wk, count(*),"  # nosec B608
        "       count(*) FILTER (WHERE f.agrees)"
        " FROM routing_feedback f JOIN (SELECT max(id) AS id FROM routing_feedback"
        "   WHERE created_at >= :since AND created_at < :until GROUP BY user_id, decision_id) l ON l.id = f.id"
        + role_join + " GROUP BY wk"), p.params()).all()
    ratings = session.execute(text(
        "SELECT date_trunc('week', answered_at AT TIME ZONE 'UTC')::date AS wk, avg(rating)::float, count(rating)"  # nosec B608
        " FROM usage_ratings WHERE rating IS NOT NULL AND answered_at >= :since AND answered_at < :until"
        + _role_clause("role", p) + " GROUP BY wk"), p.params()).all()
    weeks: dict[dt.date, dict] = {}
    for wk, given, agreed in agreement:
        weeks.setdefault(wk, {"week": wk})
        weeks[wk].update(feedback=int(given), agreed=int(agreed), agreement=agreed / given if given else None)
    for wk, avg, n in ratings:
        weeks.setdefault(wk, {"week": wk})
        weeks[wk].update(avg_rating=avg, ratings=int(n))
    return [{"feedback": 0, "agreed": 0, "agreement": None, "avg_rating": None, "ratings": 0, **weeks[wk]}
            for wk in sorted(weeks)]


def collapse(pages: list[str]) -> list[str]:
    """A page reloaded or re-rendered twice in a row is one step."""
    out: list[str] = []
    for page in pages:
        if not out or out[-1] != page:
            out.append(page)
    return out


def journeys(session: Session, p: Period, top: int = 8) -> dict:
    """How visits go: count, median pages and minutes per visit, and the most
    common first steps (up to four pages)."""
    rows = session.execute(text(
        "SELECT array_agg(page ORDER BY at), extract(epoch FROM max(at) - min(at)) FROM usage_events"  # nosec B608
        " WHERE action = 'page_view' AND at >= :since AND at < :until" + _role_clause("role", p) +
        " GROUP BY journey_id ORDER BY max(at) DESC LIMIT :limit"), {**p.params(), "limit": JOURNEY_LIMIT}).all()
    if not rows:
        return {"journeys": 0, "median_pages": None, "median_minutes": None, "paths": []}
    paths = Counter(" → ".join(collapse(list(pages))[:PATH_STEPS]) for pages, _ in rows)
    n = len(rows)
    return {
        "journeys": n,
        "median_pages": statistics.median(len(pages) for pages, _ in rows),
        "median_minutes": statistics.median(float(sec) for _, sec in rows) / 60,
        "paths": [{"path": path, "journeys": c, "share": c / n} for path, c in paths.most_common(top)],
    }
