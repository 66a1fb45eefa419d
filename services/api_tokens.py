"""API bearer tokens. The token is shown once; only its SHA-256 and a short
prefix (to recognise it in lists) are stored. A token's scopes never exceed
what its owner's role allows, checked at creation and again on every use
(a demoted owner's token loses the scopes the new role lacks). Tokens expire
(90 days unless the creator chooses otherwise; "never" is possible but has to
be asked for), and admins see and revoke everyone's active tokens, and create tokens for
other active users (an integration runs as a user of its own)."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from auth.current import SessionUser
from auth.permissions import API_SCOPES, Perm, role_has
from db.models import ApiToken, User
from services import audit

TOKEN_PREFIX = "scope_"
NAME_MAX = 80
MAX_TOKENS_PER_USER = 50
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
# Expiry in days from creation; 0 means never. The page offers EXPIRY_CHOICES, the command line any day count.
DEFAULT_EXPIRY_DAYS = 90
MAX_EXPIRY_DAYS = 3650
EXPIRY_CHOICES: dict[int, str] = {30: "30 days", 90: "90 days", 365: "1 year", 0: "Never"}
# Who sees and revokes every user's tokens: the admins who manage users.
MANAGE_ALL_TOKENS = Perm.MANAGE_USERS


class TokenError(ValueError):
    """A request to create or revoke a token that cannot be honoured (message for the user)."""


@dataclass(frozen=True)
class TokenOwner:
    """The authenticated caller of an API request."""
    user: SessionUser
    token_id: int
    scopes: frozenset[str]

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def email(self) -> str:
        return self.user.email

    via_api = True


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def allowed_scopes(role: str) -> list[str]:
    return [scope for scope, perm in API_SCOPES.items() if role_has(role, perm)]


def expiry_for_days(days, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """When a token made now for ``days`` days expires (None: never). Refuses anything but 0..MAX_EXPIRY_DAYS."""
    if isinstance(days, str) and re.fullmatch(r"-?[0-9]{1,9}", days.strip()):  # the page and CLI pass text
        days = int(days.strip())
    if isinstance(days, bool) or not isinstance(days, int):
        raise TokenError(f"the expiry must be a whole number of days from 0 (never) to {MAX_EXPIRY_DAYS}")
    if days < 0 or days > MAX_EXPIRY_DAYS:
        raise TokenError(f"the expiry must be from 0 (never) to {MAX_EXPIRY_DAYS} days (got {days})")
    if days == 0:
        return None
    return (now or dt.datetime.now(dt.timezone.utc)) + dt.timedelta(days=days)


def is_expired(expires_at: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    return expires_at is not None and expires_at <= (now or dt.datetime.now(dt.timezone.utc))


def create_token(session: Session, user, *, name: str, scopes: list[str],
                 expires_at: dt.datetime | None = None, actor=None) -> tuple[ApiToken, str]:
    """The stored row and the token itself (never stored, never shown again). ``user`` owns it;
    ``actor``: who creates it when that is someone else (an admin, create_token_for)."""
    if not getattr(user, "is_active", True):
        # authenticate() refuses a deactivated owner's tokens: one made now could never work.
        raise TokenError(f"{user.email} is deactivated; reactivate the account before giving it a token")
    if not isinstance(name, str) or not name.strip():
        raise TokenError("give the token a name")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise TokenError(f"the name must be at most {NAME_MAX} characters")
    if not isinstance(scopes, (list, tuple)) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise TokenError("choose at least one scope")
    unknown = [s for s in scopes if s not in API_SCOPES]
    if unknown:
        raise TokenError(f"unknown scope {unknown[0][:40]!r} (known: {', '.join(API_SCOPES)})")
    too_much = [s for s in scopes if s not in allowed_scopes(user.role)]
    if too_much:
        whose = "your role" if actor is None or actor.id == user.id else f"the role of {user.email}"
        raise TokenError(f"{whose} ({user.role}) cannot grant {', '.join(too_much)}")
    if expires_at is not None and expires_at <= dt.datetime.now(dt.timezone.utc):
        raise TokenError("the expiry must be in the future")
    active = session.scalars(select(ApiToken.id).where(ApiToken.user_id == user.id,
                                                       ApiToken.revoked_at.is_(None))).all()
    if len(active) >= MAX_TOKENS_PER_USER:
        raise TokenError(f"at most {MAX_TOKENS_PER_USER} active tokens; revoke one first")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, prefix=token[:12], token_hash=hash_token(token),
                   scopes=sorted(set(scopes)), expires_at=expires_at)
    session.add(row)
    session.flush()
    by = actor or user
    # The owner is named: the actor is not always the owner (an admin's token for an integration user).
    audit.record(session, actor=by.email, actor_id=by.id, action="api_token.create", target_type="api_token",
                 target_id=row.id, after={"name": name, "scopes": row.scopes, "prefix": row.prefix,
                                          "expires_at": expires_at.isoformat() if expires_at else None,
                                          "owner": user.email, "owner_id": user.id})
    return row, token


def _require_admin(user, what: str) -> None:
    if user is None or not role_has(getattr(user, "role", None), MANAGE_ALL_TOKENS):
        raise TokenError(f"only an admin can {what}")


def token_owner(session: Session, admin, owner_id) -> User:
    """The active user an admin may create a token for (themselves included)."""
    _require_admin(admin, "create tokens for other people")
    if isinstance(owner_id, bool) or not isinstance(owner_id, int) or not 0 < owner_id < 2**31:
        raise TokenError("choose whom the token is for")
    owner = session.get(User, owner_id)
    if owner is None or not owner.is_active:
        raise TokenError("there is no such active user to give a token to")
    if not allowed_scopes(owner.role):
        raise TokenError(f"the role of {owner.email} ({owner.role}) allows no API scope")
    return owner


def create_token_for(session: Session, admin, owner_id, *, name: str, scopes: list[str],
                     expires_at: dt.datetime | None = None) -> tuple[ApiToken, str, User]:
    """An admin creates a token owned by another active user (or themselves): the row, the token
    and its owner. The scopes are checked against the owner's role, the audit names both."""
    owner = token_owner(session, admin, owner_id)
    row, token = create_token(session, owner, name=name, scopes=scopes, expires_at=expires_at, actor=admin)
    return row, token, owner


def owner_choices(session: Session, admin) -> list[dict]:
    """Whom an admin may create a token for: active users whose role allows a scope, the admin first,
    then by name. Each: id, name, email, role, scopes (what the role allows)."""
    _require_admin(admin, "create tokens for other people")
    rows = session.execute(select(User.id, User.name, User.email, User.role).where(User.is_active)).all()
    out = [{"id": r.id, "name": r.name or "", "email": r.email, "role": r.role, "scopes": allowed_scopes(r.role)}
           for r in rows if allowed_scopes(r.role)]
    return sorted(out, key=lambda u: (u["id"] != admin.id, (u["name"] or u["email"]).lower(), u["email"]))


def revoke_token(session: Session, user, token_id, *, any_owner: bool = False) -> ApiToken:
    """Revoke one of the user's tokens (``any_owner`` for the command line)."""
    if isinstance(token_id, bool) or not isinstance(token_id, (int, str)):  # the command line passes text
        raise TokenError("no such token")
    try:
        token_id = int(token_id)
    except ValueError:
        raise TokenError("no such token") from None
    row = session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if row is None or (not any_owner and row.user_id != user.id):
        raise TokenError("no such token")
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.timezone.utc)
        audit.record(session, actor=user.email if user else "cli", actor_id=user.id if user else None,
                     action="api_token.revoke", target_type="api_token", target_id=row.id,
                     after={"prefix": row.prefix})
    return row


def revoke_any_token(session: Session, admin, token_id) -> dict:
    """An admin revokes anyone's token (audited with the admin as actor and the owner named).
    The token's name and its owner's email and id."""
    _require_admin(admin, "revoke other people's tokens")
    if isinstance(token_id, bool) or not isinstance(token_id, int) or not 0 < token_id < 2**31:
        raise TokenError("no such token")
    row = session.get(ApiToken, token_id)
    if row is None:
        raise TokenError("no such token")
    owner = session.get(User, row.user_id)
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.timezone.utc)
        audit.record(session, actor=admin.email, actor_id=admin.id, action="api_token.revoke",
                     target_type="api_token", target_id=row.id, after={"prefix": row.prefix, "owner": owner.email})
    return {"name": row.name, "owner_email": owner.email, "owner_id": owner.id}


def _as_dict(t: ApiToken, now: dt.datetime) -> dict:
    return {"id": t.id, "name": t.name, "prefix": t.prefix, "scopes": list(t.scopes),
            "created_at": t.created_at, "last_used_at": t.last_used_at, "expires_at": t.expires_at,
            "revoked_at": t.revoked_at, "expired": t.revoked_at is None and is_expired(t.expires_at, now)}


def list_tokens(session: Session, user, *, now: dt.datetime | None = None) -> list[dict]:
    now = now or dt.datetime.now(dt.timezone.utc)
    rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))
    return [_as_dict(t, now) for t in rows]


def list_all_active_tokens(session: Session, admin, *, now: dt.datetime | None = None) -> list[dict]:
    """Every user's tokens that still work (not revoked, not expired), soonest to expire first, with their owner."""
    _require_admin(admin, "see other people's tokens")
    now = now or dt.datetime.now(dt.timezone.utc)
    rows = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.revoked_at.is_(None), (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now))
        .order_by(ApiToken.expires_at.asc().nulls_last(), ApiToken.id.desc())).all()
    return [{**_as_dict(t, now), "owner_name": u.name or "", "owner_email": u.email, "owner_active": u.is_active}
            for t, u in rows]


def authenticate(session: Session, token: str | None, *, now: dt.datetime | None = None, ip: str | None = None,
                 method: str | None = None, path: str | None = None) -> TokenOwner | None:
    """The caller for a bearer token, or None (unknown, revoked, expired or inactive owner).
    The first use in each hour goes to the audit log."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = now or dt.datetime.now(dt.timezone.utc)
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .options(selectinload(User.departments))
        .where(ApiToken.token_hash == hash_token(token))).first()
    if row is None:
        return None
    token_row, user = row
    if token_row.revoked_at is not None or not user.is_active:
        return None
    if token_row.expires_at is not None and token_row.expires_at <= now:
        return None
    audit.record_token_use(session, user=user, token_id=token_row.id, last_used_at=token_row.last_used_at,
                           now=now, ip=ip, method=method, path=path)
    if token_row.last_used_at is None or now - token_row.last_used_at > LAST_USED_RESOLUTION:
        token_row.last_used_at = now
    scopes = frozenset(token_row.scopes) & frozenset(allowed_scopes(user.role))
    return TokenOwner(SessionUser.from_model(user), token_row.id, scopes)


def refusal_message(session: Session, token: str | None, *, now: dt.datetime | None = None) -> str:
    """Why authenticate() refused a token, for the 401. Only an expired token is named as such: whoever
    holds a real token learns nothing new from it, and its integration's owner learns what to do."""
    generic = "invalid, expired or revoked token"
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return generic
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or not is_expired(row.expires_at, now):
        return generic
    return (f"this token expired on {row.expires_at.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; "
            "create a new one on the API tokens page")


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        raise TokenError(f"no user {email}")
    return user
