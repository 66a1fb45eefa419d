"""Append-only audit trail of who did what to which record."""
from __future__ import annotations

import contextvars

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from db.models import AuditLog

_log = logging.getLogger(__name__)


# The address of the request being served, set by the web layer (auth.hardening) for
# the request's duration, so rows written deep in a service carry it like sign-in rows do.
_request_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("scope_request_ip", default=None)


def bind_request_ip(ip: str | None) -> contextvars.Token:
    return _request_ip.set(ip)


def unbind_request_ip(token: contextvars.Token) -> None:
    try:
        _request_ip.reset(token)
    except ValueError:  # a token from another context: forget the address all the same
        _request_ip.set(None)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    actor_id: int | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    session.add(
        AuditLog(
            actor=actor,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            before=before,
            after=after,
            ip=ip if ip is not None else _request_ip.get(),
        )
    )


_ENTRY_KEYS = ("actor", "action", "actor_id", "target_type", "target_id", "before", "after", "ip")


def record_many(session: Session, entries: Iterable[Mapping[str, Any]]) -> int:
    """Write many entries (each with ``record``'s keyword arguments) in a few statements; returns how many.

    For bulk actions: one executemany instead of an ORM object per row. The chain
    itself is still made by the database (migration 0026): the first row locks the
    chain head until the transaction ends, each row is chained after the previous
    one, and the head moves once, at COMMIT. So rows written here and by any other
    writer keep one unbroken order, the rows go in with their transaction or not
    at all, and the cost per row does not grow with the size of the transaction."""
    request_ip = _request_ip.get()
    rows = []
    for entry in entries:
        unknown = set(entry) - set(_ENTRY_KEYS)
        if unknown or "actor" not in entry or "action" not in entry:
            raise TypeError(f"audit entry needs actor and action, and takes only {', '.join(_ENTRY_KEYS)}")
        target_id = entry.get("target_id")
        ip = entry.get("ip")
        # Every row carries every key: one statement shape, batched by the driver.
        rows.append({"actor": entry["actor"], "action": entry["action"], "actor_id": entry.get("actor_id"),
                     "target_type": entry.get("target_type"),
                     "target_id": None if target_id is None else str(target_id),
                     "before": entry.get("before"), "after": entry.get("after"),
                     "ip": ip if ip is not None else request_ip})
    if rows:
        session.execute(insert(AuditLog.__table__), rows)
    return len(rows)


# --- Security events ---------------------------------------------------------

# "Permission denied" is recorded once per user and target per minute, and at
# most DENIED_PER_USER_MINUTE times per user per minute, so a flood of refused
# requests (whose targets the client chooses) cannot fill the disk. With REDIS_URL
# the limits are shared by every worker process; without it (one process, or Redis
# not answering) each process keeps its own.
DENIED_PER_USER_MINUTE = 20
_DENIED_MEMORY = 10_000
_DENIED_PREFIX = "scope:denied:"
_denied_lock = threading.Lock()
_denied_seen: OrderedDict[tuple, None] = OrderedDict()
_denied_counts: dict[tuple[int, int], int] = {}
_UNSET = object()
_denied_store: Any = _UNSET  # a Redis client, None for in-process, or not chosen yet


def set_denied_store(client) -> None:
    """Use this Redis client (None: in-process) for the denied-access limits (tests)."""
    global _denied_store
    _denied_store = client


def _shared_store():
    global _denied_store
    if _denied_store is _UNSET:
        url = os.environ.get("REDIS_URL") or None
        if url is None:
            _denied_store = None
        else:
            import redis

            _denied_store = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
    return _denied_store


def _should_record_shared(client, user_id: int, target: str, minute: int) -> bool:
    digest = hashlib.sha256(target.encode()).hexdigest()[:32]
    if not client.set(f"{_DENIED_PREFIX}{user_id}:{minute}:{digest}", 1, nx=True, ex=120):
        return False  # this user and target already recorded in this minute
    count_key = f"{_DENIED_PREFIX}{user_id}:{minute}"
    count, _ = client.pipeline().incr(count_key).expire(count_key, 120).execute()
    return int(count) <= DENIED_PER_USER_MINUTE


def should_record_denied(user_id: int, target: str, *, now: float | None = None) -> bool:
    minute = int((now if now is not None else time.time()) // 60)
    client = _shared_store()
    if client is not None:
        import redis

        try:
            return _should_record_shared(client, user_id, target, minute)
        except redis.RedisError as exc:
            _log.warning("denied-access limits in Redis failed (%s); counting in this process",
                         exc.__class__.__name__)
    key = (user_id, target, minute)
    with _denied_lock:
        if key in _denied_seen:
            return False
        per_user = (user_id, minute)
        if _denied_counts.get(per_user, 0) >= DENIED_PER_USER_MINUTE:
            return False
        _denied_counts[per_user] = _denied_counts.get(per_user, 0) + 1
        _denied_seen[key] = None
        while len(_denied_seen) > _DENIED_MEMORY:
            _denied_seen.popitem(last=False)
        for stale in [k for k in _denied_counts if k[1] < minute]:
            del _denied_counts[stale]
        return True


def record_denied(session: Session, user, *, target: str, permission: str | None = None,
                  ip: str | None = None, now: float | None = None) -> bool:
    """Record a refused request (throttled); returns whether a row was written."""
    target = (target or "")[:80]
    if not should_record_denied(user.id, target, now=now):
        return False
    record(session, actor=user.email, actor_id=user.id, action="access.denied", target_type="route",
           target_id=target, after={"permission": permission} if permission else None, ip=ip)
    return True


TOKEN_USE_RESOLUTION = dt.timedelta(hours=1)


def record_token_use(session: Session, *, user, token_id: int, last_used_at: dt.datetime | None,
                     now: dt.datetime, ip: str | None = None, method: str | None = None,
                     path: str | None = None) -> bool:
    """The first use of an API token in each hour (writes are audited by what they change)."""
    if last_used_at is not None and now - last_used_at < TOKEN_USE_RESOLUTION:
        return False
    record(session, actor=user.email, actor_id=user.id, action="api_token.use", target_type="api_token",
           target_id=token_id, after={"method": method, "path": (path or "")[:200]}, ip=ip)
    return True


# --- Search and export (admin audit page) ------------------------------------

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
MAX_TEXT = 120
MIN_DAY, MAX_DAY = dt.date(2000, 1, 1), dt.date(2200, 12, 31)


class InvalidSearch(ValueError):
    """A search value the server refuses; the message is shown to the user."""


@dataclass(frozen=True)
class AuditSearch:
    actor: str = ""
    action: str = ""
    target: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def to_json(self) -> dict:
        return {"actor": self.actor, "action": self.action, "target": self.target,
                "date_from": self.date_from.isoformat() if self.date_from else None,
                "date_to": self.date_to.isoformat() if self.date_to else None}


def _text(raw, name: str) -> str:
    if raw in (None, ""):
        return ""
    if not isinstance(raw, str):
        raise InvalidSearch(f"{name}: expected text.")
    value = " ".join(raw.split())
    if len(value) > MAX_TEXT:
        raise InvalidSearch(f"{name}: at most {MAX_TEXT} characters.")
    if "\x00" in value:  # PostgreSQL refuses NUL in a query, and no entry holds one
        raise InvalidSearch(f"{name}: cannot contain a NUL character.")
    return value


def _day(raw, name: str) -> dt.date | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or len(raw) > 32:
        raise InvalidSearch(f"{name}: expected a date (YYYY-MM-DD).")
    try:
        value = dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise InvalidSearch(f"{name}: {raw[:32]!r} is not a date (YYYY-MM-DD).") from None
    if not MIN_DAY <= value <= MAX_DAY:
        raise InvalidSearch(f"{name}: must be between {MIN_DAY} and {MAX_DAY}.")
    return value


def parse_search(actor=None, action=None, target=None, date_from=None, date_to=None) -> AuditSearch:
    search = AuditSearch(_text(actor, "Actor"), _text(action, "Action"), _text(target, "Target"),
                         _day(date_from, "From"), _day(date_to, "To"))
    if search.date_from and search.date_to and search.date_from > search.date_to:
        raise InvalidSearch("The 'from' date is after the 'to' date.")
    return search


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(query, f: AuditSearch):
    if f.actor:
        query = query.where(AuditLog.actor.ilike("%" + _escape(f.actor) + "%", escape="\\"))
    if f.action:
        # "claim" finds claim.status, claim.note...; "claim.note" finds exactly that action.
        query = query.where(or_(AuditLog.action == f.action,
                                AuditLog.action.like(_escape(f.action) + ".%", escape="\\")))
    if f.target:
        kind, sep, ident = f.target.partition(":")
        if sep and kind and ident:
            query = query.where(AuditLog.target_type == kind.strip(), AuditLog.target_id == ident.strip())
        else:
            query = query.where(or_(AuditLog.target_id == f.target, AuditLog.target_type == f.target))
    if f.date_from:
        query = query.where(AuditLog.at >= dt.datetime.combine(f.date_from, dt.time(), dt.UTC))
    if f.date_to:
        query = query.where(AuditLog.at < dt.datetime.combine(f.date_to + dt.timedelta(days=1), dt.time(), dt.UTC))
    return query


def _json_text(value) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def entry_json(row: AuditLog) -> dict:
    return {"seq": row.seq, "id": row.id, "at": row.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "actor": row.actor, "action": row.action,
            "target": f"{row.target_type}:{row.target_id}" if row.target_type and row.target_id is not None
            else (row.target_type or row.target_id or ""),
            "before": _json_text(row.before), "after": _json_text(row.after), "ip": row.ip or ""}


def _target_names(session: Session, rows: list[AuditLog]) -> dict[tuple[str, str], str]:
    """What an id names, read now ("claim:410" is SYN-0042-00000410): the log keeps ids,
    which never change; names are for the reader. A deleted target keeps its bare id."""
    from db.models import AlertRule, Claim, Department, ModelVersion, User

    columns = {"claim": (Claim.id, Claim.claim_number), "user": (User.id, User.email),
               "department": (Department.id, Department.name), "model_version": (ModelVersion.id, ModelVersion.version),
               "alert_rule": (AlertRule.id, AlertRule.name)}
    wanted: dict[str, set[int]] = {}
    for r in rows:
        if r.target_type in columns and r.target_id and r.target_id.isdigit() and len(r.target_id) < 19:
            wanted.setdefault(r.target_type, set()).add(int(r.target_id))
    names = {}
    for kind, ids in wanted.items():
        key, label = columns[kind]
        names.update({(kind, str(i)): str(name) for i, name in session.execute(select(key, label).where(key.in_(ids)))})
    return names


def search_page(session: Session, f: AuditSearch, *, page: int = 0,
                page_size: int = PAGE_SIZE) -> tuple[list[dict], int]:
    """Newest first; returns (rows of this page, number of matching rows), each row with the
    current name of its target ("target_name", "" when there is none to show)."""
    page = max(0, min(int(page), 100_000))
    page_size = max(1, min(int(page_size), 500))
    total = session.scalar(_filtered(select(func.count()).select_from(AuditLog), f)) or 0
    rows = list(session.scalars(_filtered(select(AuditLog), f).order_by(AuditLog.seq.desc())
                                .offset(page * page_size).limit(page_size)))
    names = _target_names(session, rows)
    return [{**entry_json(r), "target_type": r.target_type or "",
             "target_name": names.get((r.target_type, r.target_id), "")} for r in rows], total


EXPORT_COLUMNS = ("seq", "at", "actor", "action", "target", "before", "after", "ip")


def export_csv(session: Session, f: AuditSearch) -> tuple[str, int]:
    """The filtered rows (newest first, at most EXPORT_LIMIT) as CSV text, and how many."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    n = 0
    for row in session.scalars(_filtered(select(AuditLog), f).order_by(AuditLog.seq.desc())
                               .limit(EXPORT_LIMIT).execution_options(yield_per=2_000)):
        entry = entry_json(row)
        # A leading =, +, - or @ would run as a formula in a spreadsheet.
        writer.writerow([_csv_safe(entry[c]) for c in EXPORT_COLUMNS])
        n += 1
    return out.getvalue(), n


def _csv_safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def known_actions(session: Session, limit: int = 200) -> list[str]:
    return list(session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action).limit(limit)))


def last_verification(session: Session) -> dict | None:
    """The newest chain check run from the audit page (its result is itself audited)."""
    row = session.scalar(select(AuditLog).where(AuditLog.action == "audit.verify").order_by(AuditLog.seq.desc())
                         .limit(1))
    if row is None:
        return None
    return {"at": row.at, "actor": row.actor, **(row.after or {})}
