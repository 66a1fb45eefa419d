"""Server-side sessions: one row per signed-in browser.

The browser holds only a random token; the row (found by the token's SHA-256)
decides whether the session still lives. Revoking rows is how logout, password
change and deactivation end sessions everywhere, not only in one cookie."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import User, UserSession

DEFAULT_IDLE = dt.timedelta(minutes=30)
DEFAULT_MAX_AGE = dt.timedelta(hours=12)
# Writing last_seen on every Dash callback would turn reads into writes; a
# minute of slack on the idle timeout is the price of touching it rarely.
TOUCH_EVERY = dt.timedelta(minutes=1)
TOKEN_CHARS = 43  # secrets.token_urlsafe(32)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def token_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _well_formed(session_id: object) -> bool:
    return isinstance(session_id, str) and 20 <= len(session_id) <= 128


def start_session(db: Session, user_id: int, *, ip: str | None, user_agent: str | None,
                  now: dt.datetime | None = None, max_age: dt.timedelta = DEFAULT_MAX_AGE) -> str:
    """Create a session and return its token (shown once: only its hash is stored)."""
    now = now or _now()
    session_id = secrets.token_urlsafe(32)
    db.add(UserSession(id=token_hash(session_id), user_id=user_id, created_at=now, last_seen_at=now,
                       expires_at=now + max_age, ip=(ip or None) and ip[:45],
                       user_agent=(user_agent or None) and user_agent[:255]))
    db.flush()
    return session_id


def load_active(db: Session, session_id: str | None, now: dt.datetime | None = None, *,
                idle: dt.timedelta = DEFAULT_IDLE) -> UserSession | None:
    """The live session for this token, or None when it is unknown, revoked, idle
    too long, past its absolute expiry, or its user is deactivated."""
    if not _well_formed(session_id):
        return None
    now = now or _now()
    row = db.get(UserSession, token_hash(session_id))
    if row is None or row.revoked_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at > idle:
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return row


def touch(db: Session, row: UserSession, now: dt.datetime | None = None) -> bool:
    """Move last_seen forward when it is more than TOUCH_EVERY old; True if written."""
    now = now or _now()
    if now - row.last_seen_at < TOUCH_EVERY:
        return False
    db.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
    row.last_seen_at = now
    return True


def revoke_session(db: Session, session_id: str | None, reason: str, *,
                   now: dt.datetime | None = None) -> bool:
    """End one session (by its token); True if it was live."""
    if not _well_formed(session_id):
        return False
    result = db.execute(update(UserSession)
                        .where(UserSession.id == token_hash(session_id), UserSession.revoked_at.is_(None))
                        .values(revoked_at=now or _now(), revoked_reason=reason[:40]))
    return result.rowcount > 0


def revoke_user_sessions(db: Session, user_id: int, *, reason: str, except_session_id: str | None = None,
                         now: dt.datetime | None = None) -> int:
    """End every live session of a user (deactivation, password or role change),
    optionally keeping the caller's own; returns how many ended."""
    stmt = (update(UserSession)
            .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=now or _now(), revoked_reason=reason[:40]))
    if _well_formed(except_session_id):
        stmt = stmt.where(UserSession.id != token_hash(except_session_id))
    return db.execute(stmt).rowcount


def active_sessions(db: Session, user_id: int, now: dt.datetime | None = None, *,
                    idle: dt.timedelta = DEFAULT_IDLE) -> list[UserSession]:
    """A user's live sessions, newest first (for a "signed-in devices" list)."""
    now = now or _now()
    return list(db.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None),
               UserSession.expires_at > now, UserSession.last_seen_at >= now - idle)
        .order_by(UserSession.created_at.desc())))
