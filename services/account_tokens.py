"""Single-use, expiring links sent by email (invitation, email verification,
password reset). The token is 256 random bits shown only in the mail; the
database keeps its SHA-256, so a leaked table opens no account."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import AccountToken, User

INVITE, VERIFY_EMAIL, RESET_PASSWORD = "invite", "verify_email", "reset_password"
LIFETIMES = {
    INVITE: dt.timedelta(days=7),
    VERIFY_EMAIL: dt.timedelta(days=2),
    RESET_PASSWORD: dt.timedelta(minutes=30),
}
MAX_TOKEN_LENGTH = 100


class TokenInvalid(ValueError):
    """Unknown, used, expired or superseded: one message for all, so a guess learns nothing."""

    def __init__(self) -> None:
        super().__init__("This link is not valid any more. It may have expired or been used already.")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def password_fingerprint(user: User) -> str:
    """Changes whenever the password hash changes (new password, or rehash)."""
    return hashlib.sha256((user.password_hash or "").encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def issue(session: Session, user: User, purpose: str, *, email: str | None = None,
          created_by_id: int | None = None, now: dt.datetime | None = None) -> str:
    """A new token for ``user``; earlier unused tokens of the same purpose stop working."""
    now = now or _now()
    revoke(session, user.id, purpose, now=now)
    token = secrets.token_urlsafe(32)
    session.add(AccountToken(
        user_id=user.id, purpose=purpose, token_hash=_digest(token), email=email or user.email,
        password_fingerprint=password_fingerprint(user) if purpose == RESET_PASSWORD else None,
        created_by_id=created_by_id, created_at=now, expires_at=now + LIFETIMES[purpose],
    ))
    session.flush()
    return token


def peek(session: Session, token: object, purpose: str, *, now: dt.datetime | None = None) -> AccountToken:
    """The live token row (for showing a form) without using it up."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid()
    row = session.scalar(select(AccountToken).where(AccountToken.token_hash == _digest(token),
                                                    AccountToken.purpose == purpose))
    if row is None or row.used_at is not None or row.expires_at <= (now or _now()):
        raise TokenInvalid()
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or user.email != row.email:
        raise TokenInvalid()
    if purpose == RESET_PASSWORD and row.password_fingerprint != password_fingerprint(user):
        raise TokenInvalid()
    return row


def consume(session: Session, token: object, purpose: str, *, now: dt.datetime | None = None) -> User:
    """Use the token once and return its user. The row is locked and marked used
    in this transaction, so two concurrent uses cannot both succeed."""
    now = now or _now()
    row = peek(session, token, purpose, now=now)
    locked = session.execute(
        update(AccountToken).where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
        .values(used_at=now).returning(AccountToken.id)
    ).first()
    if locked is None:
        raise TokenInvalid()
    session.refresh(row)
    return session.get(User, row.user_id)


def revoke(session: Session, user_id: int, *purposes: str, now: dt.datetime | None = None) -> int:
    """Mark the user's unused tokens of these purposes (all when none given) as used."""
    stmt = update(AccountToken).where(AccountToken.user_id == user_id, AccountToken.used_at.is_(None))
    if purposes:
        stmt = stmt.where(AccountToken.purpose.in_(purposes))
    return session.execute(stmt.values(used_at=now or _now())).rowcount or 0


def pending_invites(session: Session, user_ids: list[int], *, now: dt.datetime | None = None) -> dict[int, dt.datetime]:
    """user id -> expiry of their live invitation."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(AccountToken.user_id, AccountToken.expires_at).where(
            AccountToken.user_id.in_(user_ids), AccountToken.purpose == INVITE,
            AccountToken.used_at.is_(None), AccountToken.expires_at > (now or _now())))
    return {uid: exp for uid, exp in rows}
