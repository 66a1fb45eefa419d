"""Recording how people use SCOPE: page views, key actions, sampled clicks and
the weekly one-question rating.

Nothing here may break or slow the work it observes: ``record`` writes in a
savepoint and logs instead of raising. No claim or personal data is stored:
pages are path templates, never query strings, and a claim appears only as a
keyed hash (``claim_ref``) that cannot be turned back into its number.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import math
import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.models import UsageClick, UsageEvent, UsageRating

log = logging.getLogger(__name__)

ACTIONS = ("page_view", "time_on_page", "claim_opened", "decision_recorded", "status_changed", "claim_assigned",
           "note_added", "document_attached", "reassigned", "export")
PAGE_MAX = 120
UNKNOWN_PAGE = "(unknown)"
RETENTION_DAYS = 180
MAX_ITEMS = 50  # per beacon
MAX_VIEWPORT = 20_000
MAX_TIME_ON_PAGE_MS = 8 * 3600 * 1000
RATING_EVERY = dt.timedelta(days=7)
# Ask only people who have actually used SCOPE today, not on their first page.
RATING_MIN_VIEWS_TODAY = 3
COMMENT_MAX = 500


class UsageError(ValueError):
    """A beacon or rating that is not what our own page sends."""


def claim_ref(claim_number: str, key: str) -> str:
    """An opaque, stable name for a claim: joins a claim's events without storing its number."""
    return hmac.new(key.encode(), f"claim:{claim_number}".encode(), hashlib.sha256).hexdigest()[:32]


def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"(<[^>]+>)", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("<") else re.escape(p) for p in parts) + "$")


def page_template(pathname, templates: list[str]) -> str:
    """The registered page a browser path belongs to, as its template; the
    concrete values (claim numbers, ids) never leave this function."""
    if not isinstance(pathname, str) or len(pathname) > 2000:
        return UNKNOWN_PAGE
    path = pathname.split("?", 1)[0].split("#", 1)[0]
    path = path.rstrip("/") or "/"
    if path in templates:
        return path
    for template in templates:
        if "<" in template and _template_regex(template).match(path):
            return template[:PAGE_MAX]
    return UNKNOWN_PAGE


def record(session: Session, *, user_id: int | None, role: str, journey_id: str, action: str, page: str,
           subject: str | None = None, duration_ms: int | None = None, at: dt.datetime | None = None) -> bool:
    """Add one event in a savepoint. Returns False (and logs) instead of raising,
    so the surrounding request or transaction never fails because of analytics."""
    try:
        if action not in ACTIONS:
            raise UsageError(f"unknown action {action!r}")
        with session.begin_nested():
            session.add(UsageEvent(user_id=user_id, role=(role or "")[:20], journey_id=(journey_id or "-")[:32],
                                   action=action, page=(page or UNKNOWN_PAGE)[:PAGE_MAX], subject=subject,
                                   duration_ms=(None if duration_ms is None
                                                else max(0, min(int(duration_ms), 2**31 - 1))),
                                   **({"at": at} if at is not None else {})))
        return True
    except Exception:
        log.warning("usage event %s on %s not recorded", action, page, exc_info=True)
        return False


@dataclass(frozen=True)
class Beacon:
    clicks: list[dict]
    views: list[dict]


def _fraction(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= 1:
        raise UsageError("click positions are fractions between 0 and 1")
    return float(value)


def _size(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_VIEWPORT:
        raise UsageError("viewport sizes are whole pixels")
    return value


def _path(value) -> str:
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        raise UsageError("path must be a site path")
    return value


def parse_beacon(data) -> Beacon:
    """Validate what assets/50-usage.js sends: ``{"clicks": [{x, y, w, h, path}], "views": [{path, ms}]}``.
    Any bad item rejects the whole batch, so nothing half-valid is stored."""
    if not isinstance(data, dict) or set(data) - {"clicks", "views"}:
        raise UsageError("expected an object with clicks and views")
    clicks, views = data.get("clicks") or [], data.get("views") or []
    if not isinstance(clicks, list) or not isinstance(views, list):
        raise UsageError("clicks and views are lists")
    if len(clicks) > MAX_ITEMS or len(views) > MAX_ITEMS:
        raise UsageError(f"at most {MAX_ITEMS} clicks and {MAX_ITEMS} views per batch")
    if not clicks and not views:
        raise UsageError("nothing to record")
    parsed_clicks, parsed_views = [], []
    for c in clicks:
        if not isinstance(c, dict):
            raise UsageError("each click is an object")
        parsed_clicks.append({"x": _fraction(c.get("x")), "y": _fraction(c.get("y")), "w": _size(c.get("w")),
                              "h": _size(c.get("h")), "path": _path(c.get("path"))})
    for v in views:
        ms = v.get("ms") if isinstance(v, dict) else None
        if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= MAX_TIME_ON_PAGE_MS:
            raise UsageError("time on page is whole milliseconds (at most 8 hours)")
        parsed_views.append({"path": _path(v.get("path")), "ms": ms})
    return Beacon(parsed_clicks, parsed_views)


def store_beacon(session: Session, beacon: Beacon, *, user_id: int, role: str, journey_id: str,
                 templates: list[str], now: dt.datetime | None = None) -> dict:
    now = now or dt.datetime.now(dt.UTC)
    for c in beacon.clicks:
        session.add(UsageClick(at=now, user_id=user_id, role=role, page=page_template(c["path"], templates),
                               x=c["x"], y=c["y"], viewport_w=c["w"], viewport_h=c["h"]))
    for v in beacon.views:
        session.add(UsageEvent(at=now, user_id=user_id, role=role, journey_id=journey_id, action="time_on_page",
                               page=page_template(v["path"], templates), duration_ms=v["ms"]))
    session.flush()
    return {"clicks": len(beacon.clicks), "views": len(beacon.views)}


# --- the weekly rating ---

def rating_due(session: Session, user_id: int, now: dt.datetime | None = None) -> bool:
    now = now or dt.datetime.now(dt.UTC)
    asked = session.scalar(select(func.count()).select_from(UsageRating).where(
        UsageRating.user_id == user_id, UsageRating.asked_at > now - RATING_EVERY))
    if asked:
        return False
    day_start = dt.datetime.combine(now.date(), dt.time(), tzinfo=dt.UTC)
    views = session.scalar(select(func.count()).select_from(UsageEvent).where(
        UsageEvent.user_id == user_id, UsageEvent.action == "page_view", UsageEvent.at >= day_start))
    return views >= RATING_MIN_VIEWS_TODAY


def ask_rating(session: Session, user_id: int, role: str, now: dt.datetime | None = None) -> UsageRating:
    row = UsageRating(user_id=user_id, role=role, asked_at=now or dt.datetime.now(dt.UTC))
    session.add(row)
    session.flush()
    return row


def answer_rating(session: Session, user_id: int, rating_id, rating, comment=None,
                  now: dt.datetime | None = None) -> UsageRating:
    if isinstance(rating, str) and rating.isdigit():
        rating = int(rating)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise UsageError("Pick a rating from 1 to 5.")
    if comment is not None and not isinstance(comment, str):
        raise UsageError("The comment must be text.")
    comment = (comment or "").strip() or None
    if comment and len(comment) > COMMENT_MAX:
        raise UsageError(f"The comment can be at most {COMMENT_MAX} characters.")
    now = now or dt.datetime.now(dt.UTC)
    row = session.get(UsageRating, rating_id) if isinstance(rating_id, int) and not isinstance(rating_id, bool) \
        else None
    # Someone else's question, an answered one or one from last week are all "not yours to answer".
    if row is None or row.user_id != user_id or row.answered_at is not None or row.asked_at < now - RATING_EVERY:
        raise UsageError("This question has expired; thank you anyway.")
    row.rating, row.comment, row.answered_at = rating, comment, now
    session.flush()
    return row


def purge(session: Session, *, days: int = RETENTION_DAYS, now: dt.datetime | None = None) -> dict:
    """Delete usage data older than ``days`` so the tables stay bounded."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    events = session.execute(delete(UsageEvent).where(UsageEvent.at < cutoff)).rowcount
    clicks = session.execute(delete(UsageClick).where(UsageClick.at < cutoff)).rowcount
    ratings = session.execute(delete(UsageRating).where(UsageRating.asked_at < cutoff)).rowcount
    return {"events": events, "clicks": clicks, "ratings": ratings, "cutoff": cutoff.isoformat()}
