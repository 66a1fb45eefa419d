"""Second factor: TOTP enrolment and checks, single-use recovery codes, reset.

The TOTP secret is stored Fernet-encrypted with a key derived from SECRET_KEY
(so a database dump alone does not give the second factor; rotating
SECRET_KEY means everyone re-enrols). Recovery codes are random (50 bits) and
only their SHA-256 is stored. A time step, once accepted, is never accepted
again for that user (replay), and repeated wrong codes lock the step for a while.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.models import MfaRecoveryCode, User, UserMfa
from services import audit

ISSUER = "SCOPE Assistant"
MFA_REQUIRED_ROLES = frozenset({"admin", "manager"})
RECOVERY_CODE_COUNT = 10
MAX_FAILURES = 5
LOCK_MINUTES = 15
STEP_SECONDS = 30
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i look-alikes
_TOTP_RE = re.compile(r"^\d{6}$")


class MfaError(ValueError):
    """A user-facing refusal (wrong code, already enrolled, ...)."""


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    method: str = ""  # "totp" or "recovery" when ok
    message: str = ""  # why not, in words for the user
    locked: bool = False
    recovery_codes_left: int | None = None


def requires_mfa(role: str | None) -> bool:
    return role in MFA_REQUIRED_ROLES


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"scope-assistant/mfa-totp-secret").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret: str, secret_key: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def decrypt_secret(token: str, secret_key: str) -> str | None:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(normalise_recovery(code).encode()).hexdigest()


def normalise_recovery(code: str) -> str:
    return re.sub(r"[\s-]", "", (code or "")).lower()[:40]


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (current, previous or next, for clock drift) whose code matches."""
    totp = pyotp.TOTP(secret)
    current = int(now // STEP_SECONDS)
    found = None
    for step in (current, current - 1, current + 1):
        # Compare every candidate so timing does not tell which step matched.
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found


def is_enrolled(session: Session, user_id: int) -> bool:
    return session.get(UserMfa, user_id) is not None


def status(session: Session, user_id: int) -> dict:
    row = session.get(UserMfa, user_id)
    if row is None:
        return {"enrolled": False, "enrolled_at": None, "recovery_codes_left": 0}
    return {"enrolled": True, "enrolled_at": row.enrolled_at,
            "recovery_codes_left": _codes_left(session, user_id)}


def _codes_left(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count()).select_from(MfaRecoveryCode).where(
        MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))) or 0


def _issue_recovery_codes(session: Session, user_id: int) -> list[str]:
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(MfaRecoveryCode(user_id=user_id, code_hash=_hash_recovery(c)) for c in codes)
    return codes


def enrol(session: Session, user: User, secret: str, code: str, *, secret_key: str,
          ip: str | None = None, now: float | None = None) -> list[str]:
    """Confirm a new authenticator with one of its codes; return the recovery codes (shown once)."""
    code = (code or "").strip().replace(" ", "")
    if not _TOTP_RE.match(code):
        raise MfaError("Enter the 6-digit code your authenticator app shows.")
    if session.get(UserMfa, user.id, with_for_update=True) is not None:
        raise MfaError("Two-step sign-in is already set up for this account.")
    step = _matching_step(secret, code, time.time() if now is None else now)
    if step is None:
        raise MfaError("That code does not match. Check the time on your phone and try the next code.")
    # The confirming code's step counts as used, so it cannot also pass the login step.
    session.add(UserMfa(user_id=user.id, secret_encrypted=encrypt_secret(secret, secret_key), last_step=step))
    session.flush()
    codes = _issue_recovery_codes(session, user.id)
    audit.record(session, actor=user.email, actor_id=user.id, action="mfa.enrolled", target_type="user",
                 target_id=user.id, ip=ip)
    return codes


def check(session: Session, user: User, code: str, *, secret_key: str, ip: str | None = None,
          now: float | None = None) -> CheckResult:
    """The login second step: a TOTP code or a recovery code. Failures are
    counted (and written by the caller's commit) even though the check fails."""
    now = time.time() if now is None else now
    now_dt = dt.datetime.fromtimestamp(now, dt.UTC)
    row = session.get(UserMfa, user.id, with_for_update=True)
    if row is None:
        return CheckResult(False, message="Two-step sign-in is not set up for this account.")
    if row.locked_until is not None and row.locked_until > now_dt:
        return CheckResult(False, locked=True, message=_locked_message(row.locked_until, now_dt))
    cleaned = (code or "").strip().replace(" ", "")
    method, message = "", "That code is not correct."
    if _TOTP_RE.match(cleaned):
        secret = decrypt_secret(row.secret_encrypted, secret_key)
        step = _matching_step(secret, cleaned, now) if secret else None
        if step is not None and (row.last_step is None or step > row.last_step):
            row.last_step = step
            method = "totp"
        elif step is not None:
            message = "That code was already used. Wait for the next code."
    elif 8 <= len(normalise_recovery(cleaned)) <= 20:
        hit = session.scalar(select(MfaRecoveryCode).where(
            MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None),
            MfaRecoveryCode.code_hash == _hash_recovery(cleaned)).with_for_update())
        if hit is not None:
            hit.used_at = now_dt
            method = "recovery"
    if method:
        row.failed_attempts = 0
        row.locked_until = None
        action = "mfa.recovery_code_used" if method == "recovery" else "mfa.success"
        left = _codes_left(session, user.id) if method == "recovery" else None
        audit.record(session, actor=user.email, actor_id=user.id, action=action, target_type="user",
                     target_id=user.id, ip=ip, after={"recovery_codes_left": left} if left is not None else None)
        return CheckResult(True, method=method, recovery_codes_left=left)
    row.failed_attempts += 1
    locked = row.failed_attempts >= MAX_FAILURES
    if locked:
        row.locked_until = now_dt + dt.timedelta(minutes=LOCK_MINUTES)
        row.failed_attempts = 0
        message = _locked_message(row.locked_until, now_dt)
    audit.record(session, actor=user.email, actor_id=user.id, action="mfa.failure", target_type="user",
                 target_id=user.id, ip=ip, after={"locked": locked})
    return CheckResult(False, message=message, locked=locked)


def _locked_message(until: dt.datetime, now: dt.datetime) -> str:
    minutes = max(1, int((until - now).total_seconds() // 60) + 1)
    return f"Too many wrong codes. Sign in again in {minutes} minute{'s' if minutes != 1 else ''}."


def reset_mfa(session: Session, user_id: int, actor) -> bool:
    """Remove a user's authenticator and recovery codes (an admin action); the
    user sets MFA up again at their next request or sign-in. ``actor`` is the
    acting user (anything with ``email`` and ``id``) or a plain name.
    Returns False when the user had no MFA."""
    user = session.get(User, user_id)
    if user is None:
        raise MfaError(f"no user with id {user_id}")
    row = session.get(UserMfa, user_id, with_for_update=True)
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    if row is not None:
        session.delete(row)
    session.flush()
    actor_name = getattr(actor, "email", None) or str(actor)
    audit.record(session, actor=actor_name, actor_id=getattr(actor, "id", None), action="mfa.reset",
                 target_type="user", target_id=user_id, before={"enrolled": row is not None})
    return row is not None
