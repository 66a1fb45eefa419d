"""User accounts: creation, lookup and credential checks."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.passwords import hash_password, needs_rehash, rehash, verify_password
from auth.permissions import ROLES
from db.models import Department, User
from services import audit, lockout

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_NAME = 120  # users.name


def _clean_name(name: str | None) -> str:
    # Spaces of every kind (a no-break space pasted from a document) are a plain space;
    # line breaks and tabs stay, to be refused below.
    name = re.sub(r"[^\S\r\n\t\v\f\x1c-\x1f\x85\u2028\u2029]", " ", name or "").strip()
    # Refused rather than cut or stored: a control character would reach every page,
    # export and email that shows the name.
    if any(not ch.isprintable() for ch in name):
        raise UserError("the name must not contain control characters (tabs, line breaks, escapes)")
    if len(name) > MAX_NAME:
        raise UserError(f"the name can be at most {MAX_NAME} characters (got {len(name)})")
    return name


class UserError(ValueError):
    pass


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def get_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    session: Session,
    *,
    email: str,
    role: str,
    password: str | None,
    name: str = "",
    department_codes: list[str] | None = None,
    actor: str = "system",
    actor_id: int | None = None,
    email_verified: bool = False,
) -> User:
    """``password=None`` makes an invited account that cannot sign in until the
    invitation is accepted (services.accounts). ``email_verified`` is for
    operators who typed the address themselves (CLI, first start)."""
    email = normalise_email(email)
    name = _clean_name(name)

    if not EMAIL_RE.match(email):
        raise UserError(f"not a valid email address: {email!r}")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (choose from {', '.join(ROLES)})")
    if get_by_email(session, email) is not None:
        raise UserError(f"a user with email {email} already exists")
    departments: list[Department] = []
    if department_codes:
        departments = list(session.scalars(select(Department).where(Department.code.in_(department_codes))))
        missing = set(department_codes) - {d.code for d in departments}
        if missing:
            raise UserError(f"unknown department(s): {', '.join(sorted(missing))}")
    now = dt.datetime.now(dt.timezone.utc)
    user = User(email=email, role=role, name=name or email.split("@")[0].title(),
                password_hash=hash_password(password, email=email) if password is not None else None,
                password_changed_at=now if password is not None else None,
                email_verified_at=now if email_verified else None, departments=departments)
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, actor_id=actor_id, action="user.create", target_type="user",
                 target_id=user.id, after={"email": email, "role": role, "departments": sorted(department_codes or []),
                                           "email_verified": email_verified, "invited": password is None})
    return user


def authenticate(session: Session, email: str, password: str, *, ip: str | None = None,
                 now: dt.datetime | None = None) -> User | None:
    """Return the active user whose password matches, recording the attempt.
    A locked account (services.lockout) fails like a wrong password."""
    now = now or dt.datetime.now(dt.timezone.utc)
    user = get_by_email(session, email)
    locked = user is not None and lockout.is_locked(user, now)
    if user is None or locked:
        verify_password(None, password)  # same hashing time whatever the reason
        ok = False
    else:
        ok = user.is_active and verify_password(user.password_hash, password)
    audit.record(session, actor=normalise_email(email)[:254], actor_id=user.id if user else None,
                 action="auth.login" if ok else "auth.login_failed", target_type="user",
                 target_id=user.id if user else None, ip=ip, after={"locked": True} if locked else None)
    if not ok:
        if user is not None and not locked:
            lockout.register_failure(session, user, now, ip=ip)
        return None
    lockout.register_success(user)
    if needs_rehash(user.password_hash):
        # Same password, current argon2 parameters; the policy is not re-applied here.
        user.password_hash = rehash(password)
    user.last_login_at = dt.datetime.now(dt.timezone.utc)
    return user


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
