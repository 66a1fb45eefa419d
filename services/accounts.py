"""Account administration and self-service: invitations, direct creation,
role and department changes, deactivation, MFA reset, email verification,
password change and reset.

Every change is audited with before/after. Functions that mail someone return
the ``Mail`` to send; the caller sends it after the commit (services.mail).
Ids, roles and department codes come from the browser: each is checked here,
and a bad one raises ``AccountError`` before anything is written."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from auth.passwords import MAX_LENGTH, WeakPassword, check_policy, hash_password, verify_password
from auth.permissions import ROLES, Perm, role_has
from db.models import Department, OidcIdentity, User, UserMfa
from services import account_mail, audit, lockout, mfa, sessions
from services import account_tokens as tokens
from services.mail import Mail
from services.users import EMAIL_RE, UserError, create_user, get_by_email, normalise_email

ROLE_LABELS = {"admin": "Admin", "manager": "Manager", "adjuster": "Adjuster", "viewer": "Viewer"}
STATUSES = ("active", "invited", "deactivated")
MAX_NAME = 120
LIST_LIMIT = 500


class AccountError(ValueError):
    """A refusal meant for the person at the screen; nothing was written."""


@dataclass(frozen=True)
class Actor:
    """Who acts: anything with id, email, role (auth.current.SessionUser fits)."""

    id: int | None
    email: str
    role: str = "admin"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _actor_id(actor) -> int | None:
    return getattr(actor, "id", None)


def _record(session: Session, actor, action: str, user: User, *, before=None, after=None, ip=None) -> None:
    audit.record(session, actor=getattr(actor, "email", None) or str(actor), actor_id=_actor_id(actor),
                 action=action, target_type="user", target_id=user.id, before=before, after=after, ip=ip)


def _user(session: Session, user_id: object, *, lock: bool = False) -> User:
    # bool is an int subclass; a JSON true must not become user 1.
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not 0 < user_id < 2**31:
        raise AccountError("No such user.")
    user = session.get(User, user_id, with_for_update=lock)
    if user is None:
        raise AccountError("No such user.")
    return user


def _clean_name(name: object) -> str:
    if name is None:
        return ""
    if not isinstance(name, str):
        raise AccountError("The name must be text.")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise AccountError(f"The name can be at most {MAX_NAME} characters.")
    return name


def _clean_role(role: object) -> str:
    if not isinstance(role, str) or role not in ROLES:
        raise AccountError(f"Choose a role: {', '.join(ROLES)}.")
    return role


def _departments(session: Session, codes: object) -> list[Department]:
    if codes is None:
        return []
    if not isinstance(codes, list) or not all(isinstance(c, str) and 0 < len(c) <= 40 for c in codes):
        raise AccountError("Departments must be a list of department codes.")
    wanted = sorted(set(codes))
    found = list(session.scalars(select(Department).where(Department.code.in_(wanted)))) if wanted else []
    missing = set(wanted) - {d.code for d in found}
    if missing:
        raise AccountError(f"Unknown department: {', '.join(sorted(missing))}.")
    return sorted(found, key=lambda d: d.code)


def _clean_email(email: object) -> str:
    if not isinstance(email, str):
        raise AccountError("Enter an email address.")
    email = normalise_email(email)
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise AccountError("Enter a valid email address, like name@example.com.")
    return email


def status_of(user: User, *, sso: bool = False) -> str:
    """``sso``: the user has a single sign-on identity, so no password is no invitation pending."""
    if not user.is_active:
        return "deactivated"
    if user.password_hash is None and not sso:
        return "invited"
    return "active"


def _signs_in():
    """SQL: the user has a password or a linked single sign-on identity."""
    linked = select(OidcIdentity.id).where(OidcIdentity.user_id == User.id).exists()
    return or_(User.password_hash.is_not(None), linked)


def _sso_ids(session: Session, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    return set(session.scalars(select(OidcIdentity.user_id).where(OidcIdentity.user_id.in_(ids))))


def _snapshot(user: User) -> dict:
    return {"email": user.email, "name": user.name, "role": user.role, "active": user.is_active,
            "departments": sorted(d.code for d in user.departments)}


# --- reading -----------------------------------------------------------------------------------

def list_users(session: Session, *, search: object = None, role: object = None, status: object = None) -> list[dict]:
    """Users for the admin table, newest first; filters are validated, not trusted."""
    stmt = select(User).order_by(User.created_at.desc(), User.id.desc()).limit(LIST_LIMIT)
    if isinstance(search, str) and search.strip():
        if "\x00" in search:  # PostgreSQL refuses NUL in a query, and no name or email holds one
            raise AccountError("The search cannot contain a NUL character.")
        term = "%" + search.strip()[:100].lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        stmt = stmt.where(or_(func.lower(User.email).like(term), func.lower(User.name).like(term)))
    if role not in (None, "", "all"):
        stmt = stmt.where(User.role == _clean_role(role))
    if status not in (None, "", "all"):
        if status not in STATUSES:
            raise AccountError(f"Choose a status: {', '.join(STATUSES)}.")
        stmt = stmt.where(User.is_active.is_(status != "deactivated"))
        if status == "invited":
            stmt = stmt.where(~_signs_in())
        elif status == "active":
            stmt = stmt.where(_signs_in())
    return _describe(session, list(session.scalars(stmt)))


def user_summary(session: Session, user_id: object) -> dict:
    return _describe(session, [_user(session, user_id)])[0]


def _describe(session: Session, users: list[User]) -> list[dict]:
    ids = [u.id for u in users]
    enrolled = set(session.scalars(select(UserMfa.user_id).where(UserMfa.user_id.in_(ids)))) if ids else set()
    invites = tokens.pending_invites(session, ids)
    sso = _sso_ids(session, ids)
    return [{
        "id": u.id, "email": u.email, "name": u.name, "role": u.role, "status": status_of(u, sso=u.id in sso),
        "sso": u.id in sso,
        "departments": [{"code": d.code, "name": d.name, "color": d.color} for d in
                        sorted(u.departments, key=lambda d: d.code)],
        "email_verified": u.email_verified_at is not None, "last_login_at": u.last_login_at,
        "created_at": u.created_at, "mfa_enrolled": u.id in enrolled, "invite_expires_at": invites.get(u.id),
    } for u in users]


def profile(session: Session, user_id: int) -> dict:
    user = _user(session, user_id)
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "departments": [d.name for d in sorted(user.departments, key=lambda d: d.code)],
            "all_departments": role_has(user.role, Perm.VIEW_ALL_DEPARTMENTS),
            "email_verified": user.email_verified_at is not None,
            "password_changed_at": user.password_changed_at, "last_login_at": user.last_login_at,
            "sessions": len(sessions.active_sessions(session, user.id)),
            "mfa": mfa.status(session, user.id), "mfa_required": mfa.requires_mfa(user.role)}


# --- the last admin --------------------------------------------------------------------------

def admins_who_can_sign_in_other_than(session: Session, user_id: int, *, sso: bool) -> int:
    """Active admins other than ``user_id`` who can actually sign in: with a password, or,
    while single sign-on is configured, through a linked identity provider account (an SSO
    admin has no password). An invited admin who never accepted can do neither."""
    # Lock every active admin row (not only those counted) so two admins demoting each other
    # at once cannot both see "one other admin left": the second waits for the first to commit
    # and then reads the first's new role.
    linked = select(OidcIdentity.id).where(OidcIdentity.user_id == User.id).exists()
    rows = session.execute(select(User.id, User.password_hash.is_not(None), linked)
                           .where(User.role == "admin", User.is_active.is_(True))
                           .with_for_update(of=User)).all()
    return sum(1 for uid, has_password, has_sso in rows if uid != user_id and (has_password or (sso and has_sso)))


def _keep_an_admin(session: Session, user: User, *, sso: bool) -> None:
    if user.role == "admin" and user.is_active and admins_who_can_sign_in_other_than(session, user.id, sso=sso) == 0:
        raise AccountError("SCOPE needs at least one active admin who can sign in: make someone else admin first.")


# --- admin actions ---------------------------------------------------------------------------

def invite(session: Session, actor, *, email: object, name: object, role: object, departments: object,
           base_url: str) -> tuple[User, list[Mail]]:
    """An account without a password and an emailed, single-use invitation link."""
    email, name, role = _clean_email(email), _clean_name(name), _clean_role(role)
    depts = _departments(session, departments)
    if get_by_email(session, email) is not None:
        raise AccountError(f"There is already an account for {email}.")
    try:
        user = create_user(session, email=email, role=role, password=None, name=name,
                           department_codes=[d.code for d in depts], actor=actor.email, actor_id=_actor_id(actor))
    except UserError as exc:
        raise AccountError(str(exc)) from None
    return user, [_invitation_mail(session, actor, user, base_url)]


def _invitation_mail(session: Session, actor, user: User, base_url: str) -> Mail:
    token = tokens.issue(session, user, tokens.INVITE, created_by_id=_actor_id(actor))
    _record(session, actor, "user.invite", user, after={"email": user.email, "role": user.role})
    inviter = getattr(actor, "name", None) or actor.email
    return account_mail.invitation(user.email, account_mail.link(base_url, "/accept-invite", token), inviter,
                                   ROLE_LABELS.get(user.role, user.role), tokens.LIFETIMES[tokens.INVITE].days)


def resend_invite(session: Session, actor, user_id: object, *, base_url: str) -> tuple[User, list[Mail]]:
    user = _user(session, user_id, lock=True)
    if status_of(user, sso=bool(_sso_ids(session, [user.id]))) != "invited":
        raise AccountError(f"{user.email} has already accepted the invitation.")
    return user, [_invitation_mail(session, actor, user, base_url)]


def create_direct(session: Session, actor, *, email: object, name: object, role: object, departments: object,
                  password: object, email_verified: bool, base_url: str) -> tuple[User, list[Mail]]:
    """An account with a password the admin chose. Unless the admin states that
    they verified the address, a verification link is mailed to it."""
    email, name, role = _clean_email(email), _clean_name(name), _clean_role(role)
    depts = _departments(session, departments)
    if not isinstance(password, str):
        raise AccountError("Enter a password.")
    _policy(password, email)
    if get_by_email(session, email) is not None:
        raise AccountError(f"There is already an account for {email}.")
    try:
        user = create_user(session, email=email, role=role, password=password, name=name,
                           department_codes=[d.code for d in depts], actor=actor.email, actor_id=_actor_id(actor),
                           email_verified=email_verified is True)
    except (UserError, WeakPassword) as exc:
        raise AccountError(str(exc)) from None
    mails = [] if email_verified is True else [_verification_mail(session, user, base_url)]
    return user, mails


def update_access(session: Session, actor, user_id: object, *, role: object, departments: object,
                  sso: bool = False) -> User:
    """``sso``: single sign-on is configured, so admins who sign in only through it count
    as the admins left (without it, they cannot sign in at all)."""
    user = _user(session, user_id, lock=True)
    role, depts = _clean_role(role), _departments(session, departments)
    before = _snapshot(user)
    if user.role == "admin" and role != "admin":
        _keep_an_admin(session, user, sso=sso)
    if role == user.role and before["departments"] == [d.code for d in depts]:
        raise AccountError("Nothing changed.")
    user.role, user.departments = role, depts
    session.flush()
    _record(session, actor, "user.access_change", user, before={"role": before["role"],
                                                                "departments": before["departments"]},
            after={"role": role, "departments": [d.code for d in depts]})
    return user


def set_active(session: Session, actor, user_id: object, active: object, *, sso: bool = False
               ) -> tuple[User, int]:
    """Deactivate (ends every session and outstanding link at once) or reactivate.
    Returns the user and how many sessions ended. ``sso`` as for ``update_access``."""
    if not isinstance(active, bool):
        raise AccountError("Choose activate or deactivate.")
    user = _user(session, user_id, lock=True)
    if user.is_active == active:
        raise AccountError(f"{user.email} is already {'active' if active else 'deactivated'}.")
    ended = 0
    if not active:
        if user.id == _actor_id(actor):
            raise AccountError("You cannot deactivate your own account: ask another admin.")
        _keep_an_admin(session, user, sso=sso)
        user.is_active = False
        ended = sessions.revoke_user_sessions(session, user.id, reason="deactivated")
        tokens.revoke(session, user.id)
    else:
        user.is_active = True
    session.flush()
    _record(session, actor, "user.reactivate" if active else "user.deactivate", user,
            before={"active": not active}, after={"active": active, "sessions_ended": ended})
    return user, ended


def reset_user_mfa(session: Session, actor, user_id: object) -> bool:
    """Remove the user's authenticator and recovery codes (services.mfa audits it);
    their sessions end so the next sign-in asks them to enrol again."""
    user = _user(session, user_id, lock=True)
    had = mfa.reset_mfa(session, user.id, actor)
    if had:
        sessions.revoke_user_sessions(session, user.id, reason="mfa reset")
    return had


# --- links from emails -----------------------------------------------------------------------

def _verification_mail(session: Session, user: User, base_url: str, email: str | None = None) -> Mail:
    to = email or user.email
    token = tokens.issue(session, user, tokens.VERIFY_EMAIL, email=to)
    return account_mail.verification(to, account_mail.link(base_url, "/verify-email", token),
                                     tokens.LIFETIMES[tokens.VERIFY_EMAIL].days)


def _policy(password: str, email: str) -> None:
    try:
        check_policy(password, email=email)
    except WeakPassword as exc:
        raise AccountError(str(exc)) from None


def invitation_for(session: Session, token: object) -> dict:
    row = tokens.peek(session, token, tokens.INVITE)
    user = session.get(User, row.user_id)
    return {"email": user.email, "name": user.name, "role": user.role}


def accept_invite(session: Session, token: object, *, name: object, password: object, ip: str | None = None) -> User:
    """Set name and password, mark the address verified (the link came to it)."""
    row = tokens.peek(session, token, tokens.INVITE)
    user = session.get(User, row.user_id)
    name = _clean_name(name)
    if not name:
        raise AccountError("Enter your name.")
    if not isinstance(password, str):
        raise AccountError("Choose a password.")
    _policy(password, user.email)
    user = tokens.consume(session, token, tokens.INVITE)
    now = _now()
    user.name, user.password_hash = name, hash_password(password, email=user.email)
    user.password_changed_at = now
    user.email_verified_at = user.email_verified_at or now
    session.flush()
    _record(session, user, "account.invite_accepted", user, after={"name": name, "email_verified": True}, ip=ip)
    return user


def verify_email(session: Session, token: object, *, ip: str | None = None) -> User:
    user = tokens.consume(session, token, tokens.VERIFY_EMAIL)
    user.email_verified_at = _now()
    session.flush()
    _record(session, user, "account.email_verified", user, after={"email": user.email}, ip=ip)
    return user


def request_password_reset(session: Session, email: object, *, base_url: str, ip: str | None = None) -> list[Mail]:
    """A reset link for an active account with a password; nothing for anyone
    else. The caller answers the same either way."""
    address = normalise_email(email)[:254] if isinstance(email, str) else ""
    user = get_by_email(session, address) if address else None
    if user is None or not user.is_active or user.password_hash is None:
        audit.record(session, actor=address or "-", action="account.password_reset_requested",
                     target_type="user", after={"known": False}, ip=ip)
        return []
    token = tokens.issue(session, user, tokens.RESET_PASSWORD)
    _record(session, user, "account.password_reset_requested", user, after={"known": True}, ip=ip)
    return [account_mail.password_reset(user.email, account_mail.link(base_url, "/reset-password", token),
                                        int(tokens.LIFETIMES[tokens.RESET_PASSWORD].total_seconds() // 60))]


def reset_password(session: Session, token: object, password: object, *,
                   ip: str | None = None) -> tuple[User, list[Mail]]:
    """New password from an emailed link: every session ends, every other link dies.
    A reset also proves the address, so it counts as verification."""
    row = tokens.peek(session, token, tokens.RESET_PASSWORD)
    user = session.get(User, row.user_id)
    if not isinstance(password, str):
        raise AccountError("Choose a password.")
    _policy(password, user.email)
    user = tokens.consume(session, token, tokens.RESET_PASSWORD)
    ended = _set_password(session, user, password, except_session_id=None)
    # The link proved control of the address: that verifies it and lifts a sign-in lockout.
    user.email_verified_at = user.email_verified_at or _now()
    lockout.register_success(user)
    _record(session, user, "account.password_reset", user, after={"sessions_ended": ended}, ip=ip)
    return user, [account_mail.password_changed(user.email, "reset with an emailed link")]


def _set_password(session: Session, user: User, password: str, *, except_session_id: str | None) -> int:
    user.password_hash = hash_password(password, email=user.email)
    user.password_changed_at = _now()
    tokens.revoke(session, user.id, tokens.RESET_PASSWORD)
    session.flush()
    return sessions.revoke_user_sessions(session, user.id, reason="password changed",
                                         except_session_id=except_session_id)


# --- self-service ----------------------------------------------------------------------------

class ReauthenticationFailed(AccountError):
    """A wrong current password on the profile page. The caller rolls the change
    back and then counts the failure in a transaction of its own
    (``register_reauthentication_failure``): sign-in's lockout applies here too,
    so a stolen session cannot be used to guess the password behind it."""


def _reauthenticate(user: User, current_password: object) -> None:
    if lockout.is_locked(user, _now()):
        raise AccountError("Too many wrong passwords: this account is paused for a few minutes. Try again later.")
    if current_password is None or current_password == "":
        # Left empty: a reminder, not a wrong guess (and not counted towards the lockout).
        raise AccountError("Enter your current password to confirm the change.")
    if not isinstance(current_password, str) or len(current_password) > MAX_LENGTH \
            or not verify_password(user.password_hash, current_password):
        raise ReauthenticationFailed("Your current password is not correct.")
    lockout.register_success(user)


def register_reauthentication_failure(session: Session, user_id: int, *, ip: str | None = None) -> None:
    user = _user(session, user_id, lock=True)
    lockout.register_failure(session, user, _now(), ip=ip)
    _record(session, user, "account.reauth_failed", user, after={"failed_logins": user.failed_logins}, ip=ip)


def change_name(session: Session, user_id: int, name: object) -> User:
    user = _user(session, user_id)
    name = _clean_name(name)
    if not name:
        raise AccountError("Enter your name.")
    if name == user.name:
        raise AccountError("Nothing changed.")
    before = user.name
    user.name = name
    session.flush()
    _record(session, user, "account.name_change", user, before={"name": before}, after={"name": name})
    return user


def change_password(session: Session, user_id: int, *, current_password: object, new_password: object,
                    session_id: str | None, ip: str | None = None) -> tuple[int, list[Mail]]:
    """Re-authenticates with the current password; ends every other session and
    outstanding reset link. Returns how many sessions ended."""
    user = _user(session, user_id, lock=True)
    _reauthenticate(user, current_password)
    if not isinstance(new_password, str):
        raise AccountError("Choose a new password.")
    _policy(new_password, user.email)
    if verify_password(user.password_hash, new_password):
        raise AccountError("The new password is the same as the current one.")
    ended = _set_password(session, user, new_password, except_session_id=session_id)
    _record(session, user, "account.password_change", user, after={"sessions_ended": ended}, ip=ip)
    return ended, [account_mail.password_changed(user.email, "changed on the profile page")]


def change_email(session: Session, user_id: int, *, current_password: object, new_email: object,
                 base_url: str, ip: str | None = None) -> tuple[User, list[Mail]]:
    """Re-authenticates; the new address is unverified until its link is followed,
    and the old address is told."""
    user = _user(session, user_id, lock=True)
    _reauthenticate(user, current_password)
    email = _clean_email(new_email)
    if email == user.email:
        raise AccountError("That is already your email address.")
    if get_by_email(session, email) is not None:
        raise AccountError("Another account uses that email address.")
    old = user.email
    user.email, user.email_verified_at = email, None
    tokens.revoke(session, user.id)
    session.flush()
    _record(session, user, "account.email_change", user, before={"email": old}, after={"email": email}, ip=ip)
    return user, [_verification_mail(session, user, base_url), account_mail.email_changed(old, email)]


def send_verification(session: Session, user_id: int, *, base_url: str) -> list[Mail]:
    user = _user(session, user_id)
    if user.email_verified_at is not None:
        raise AccountError("Your email address is already verified.")
    return [_verification_mail(session, user, base_url)]
