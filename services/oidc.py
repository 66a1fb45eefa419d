"""Single sign-on: turn an identity provider's verified ID token claims into a SCOPE user.

The provider decides the role: its groups map to roles (highest wins) at every
sign-in, so removing someone from a group at the provider takes effect at their
next sign-in (except that it never demotes the only admin who can sign in: that
is refused and audited until there is another). A first sign-in links to the SCOPE account with the same
*verified* email, or creates one (no password: that account signs in through
the provider only). Issuer + subject is the stable key afterwards, so a changed
email at the provider still reaches the same account.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import OidcIdentity, User
from services import audit
from services.accounts import admins_who_can_sign_in_other_than
from services.users import EMAIL_RE, get_by_email, normalise_email

log = logging.getLogger(__name__)

ROLE_RANK = {"viewer": 0, "adjuster": 1, "manager": 2, "admin": 3}
# RFC 8176 authentication method references that mean a second factor (or a
# phishing-resistant one) was used at the provider.
MFA_AMR = frozenset({"mfa", "otp", "hwk", "swk", "sc", "fpt", "face", "iris", "retina"})


@dataclass(frozen=True)
class SsoResult:
    user: User | None
    message: str = ""  # why the sign-in was refused, for the person


def groups_of(claims: dict[str, Any], groups_claim: str) -> list[str]:
    raw = claims.get(groups_claim) or []
    if isinstance(raw, str):
        raw = [raw]
    return [g for g in raw if isinstance(g, str)] if isinstance(raw, (list, tuple)) else []


def role_for_groups(groups: list[str], group_map: dict[str, str]) -> str | None:
    roles = [group_map[g] for g in groups if g in group_map]
    return max(roles, key=ROLE_RANK.__getitem__) if roles else None


def idp_checked_mfa(claims: dict[str, Any]) -> bool:
    amr = claims.get("amr") or []
    return isinstance(amr, list) and any(isinstance(m, str) and m.lower() in MFA_AMR for m in amr)


def _email_verified(claims: dict[str, Any]) -> bool:
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _only_admin(session: Session, user: User) -> bool:
    return admins_who_can_sign_in_other_than(session, user.id, sso=True) == 0


def sign_in(session: Session, claims: dict[str, Any], *, issuer: str, group_map: dict[str, str],
            groups_claim: str = "groups", provider: str = "the identity provider",
            ip: str | None = None) -> SsoResult:
    """Find, link or create the user for verified claims; refusals are audited and
    come back with a message (the caller commits either way)."""
    subject = str(claims.get("sub") or "")[:255]
    email = normalise_email(str(claims.get("email") or ""))[:254]
    label = email or f"{issuer}#{subject}"

    def refuse(message: str, reason: str, user: User | None = None) -> SsoResult:
        audit.record(session, actor=label, actor_id=user.id if user else None, action="auth.sso_refused",
                     target_type="user", target_id=user.id if user else None, ip=ip,
                     after={"reason": reason, "issuer": issuer, "subject": subject})
        return SsoResult(None, message)

    if not subject:
        return refuse(f"{provider} did not identify the account.", "no subject")
    role = role_for_groups(groups_of(claims, groups_claim), group_map)
    if role is None:
        return refuse(f"Your {provider} account is not in a group that has access to SCOPE. "
                      "Ask your administrator to add you to one.", "no mapped group")
    identity = session.scalar(select(OidcIdentity).where(OidcIdentity.issuer == issuer,
                                                         OidcIdentity.subject == subject))
    user = session.get(User, identity.user_id) if identity else None
    if user is None:
        if not _email_verified(claims) or not EMAIL_RE.match(email):
            return refuse(f"{provider} did not share a verified email address for your account, "
                          "so SCOPE cannot tell who you are.", "no verified email")
        user = get_by_email(session, email)
        if user is None:
            user = User(email=email, role=role, password_hash=None,
                        name=str(claims.get("name") or email.split("@")[0].title())[:120])
            session.add(user)
            session.flush()
            audit.record(session, actor=f"sso:{issuer}", action="user.create", target_type="user",
                         target_id=user.id, ip=ip, after={"email": email, "role": role, "via": "oidc"})
        identity = OidcIdentity(issuer=issuer, subject=subject, user_id=user.id)
        session.add(identity)
        audit.record(session, actor=label, actor_id=user.id, action="auth.sso_linked", target_type="user",
                     target_id=user.id, ip=ip, after={"issuer": issuer, "subject": subject})
    if not user.is_active:
        return refuse("This SCOPE account is deactivated. Ask your administrator.", "deactivated", user)
    if user.role != role and user.role == "admin" and _only_admin(session, user):
        # The provider's groups set the role, but not to SCOPE without an admin who can sign in
        # (a provider's group change is not the place to lock everyone out of Users and Jobs):
        # the admin stays admin until another admin exists, and the refusal is on record.
        log.warning("SSO groups would demote %s, the only admin who can sign in: kept admin", user.email)
        audit.record(session, actor=f"sso:{issuer}", action="user.role_change_refused", target_type="user",
                     target_id=user.id, ip=ip, before={"role": user.role},
                     after={"role": role, "via": "oidc", "reason": "the only admin who can sign in"})
    elif user.role != role:
        audit.record(session, actor=f"sso:{issuer}", action="user.role_change", target_type="user",
                     target_id=user.id, ip=ip, before={"role": user.role}, after={"role": role, "via": "oidc"})
        user.role = role
    now = dt.datetime.now(dt.UTC)
    identity.last_login_at = now
    user.last_login_at = now
    session.flush()
    audit.record(session, actor=user.email, actor_id=user.id, action="auth.login", target_type="user",
                 target_id=user.id, ip=ip, after={"method": "oidc", "issuer": issuer,
                                                  "idp_mfa": idp_checked_mfa(claims)})
    return SsoResult(user)
