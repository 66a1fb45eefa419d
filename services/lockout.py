"""Account lockout with exponential back-off after repeated failed sign-ins.

After FREE_FAILURES wrong passwords in a row the account is paused for
BASE_LOCK, doubling with every further failure up to MAX_LOCK. A locked
account answers exactly like a wrong password (same message, same hashing
time), so lockout never reveals whether an email has an account."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from db.models import User
from services import audit

FREE_FAILURES = 5
BASE_LOCK = dt.timedelta(minutes=1)
MAX_LOCK = dt.timedelta(hours=1)


def lock_duration(failures: int) -> dt.timedelta | None:
    """How long the failure number ``failures`` locks the account (None: not at all)."""
    if failures < FREE_FAILURES:
        return None
    return min(BASE_LOCK * (2 ** (failures - FREE_FAILURES)), MAX_LOCK)


def is_locked(user: User, now: dt.datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def register_failure(session: Session, user: User, now: dt.datetime, *, ip: str | None = None) -> None:
    """Count a wrong password; lock (and audit the lockout) once the free tries are spent."""
    # Incremented in SQL: concurrent failures in other workers each count.
    failures = session.execute(
        update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins).execution_options(synchronize_session=False)).scalar_one()
    set_committed_value(user, "failed_logins", failures)
    duration = lock_duration(failures)
    if duration is None:
        return
    user.locked_until = now + duration
    audit.record(session, actor=user.email, actor_id=user.id, action="auth.lockout", target_type="user",
                 target_id=user.id, ip=ip,
                 after={"failed_logins": user.failed_logins, "locked_seconds": int(duration.total_seconds()),
                        "locked_until": user.locked_until.isoformat()})


def register_success(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None
