"""The one role → permission map. Every route, page, callback and API endpoint asks here."""
from __future__ import annotations

from enum import Enum


class Perm(str, Enum):
    VIEW_QUEUES = "queues:view"
    VIEW_CLAIMS = "claims:view"
    VIEW_ALL_DEPARTMENTS = "claims:view_all_departments"
    GIVE_FEEDBACK = "claims:feedback"
    WRITE_NOTES = "claims:note"
    CHANGE_STATUS = "claims:status"
    CREATE_CLAIMS = "claims:create"
    REASSIGN = "claims:reassign"
    VIEW_WORKLOAD = "workload:view"
    MANAGE_OWN_TOKENS = "tokens:own"
    VIEW_MODELS = "models:view"
    MANAGE_MODELS = "models:manage"
    MANAGE_USERS = "users:manage"
    VIEW_AUDIT = "audit:view"
    VIEW_DASHBOARDS = "dashboards:view"
    MANAGE_JOBS = "jobs:manage"
    MANAGE_DEPARTMENTS = "departments:manage"
    VIEW_OPERATIONS = "operations:view"
    VIEW_ALERTS = "alerts:view"
    MANAGE_ALERTS = "alerts:manage"
    VIEW_ANALYTICS = "analytics:view"
    MANAGE_OWN_ACCOUNT = "account:own"
    VIEW_PERSONAL_DATA = "claims:personal_data"
    FLAG_FRAUD = "fraud:flag"          # ask for an SIU review of a claim one works on
    DECIDE_FRAUD = "fraud:decide"      # refer a fraud alert's claim to SIU, or dismiss the alert
    # Work SIU cases: managers and admins, and adjusters who belong to Special Investigations
    # (services.siu_cases checks the department; the role alone is not enough).
    WORK_SIU_CASES = "siu:cases"


_ADJUSTER = frozenset({
    Perm.VIEW_QUEUES, Perm.VIEW_CLAIMS, Perm.GIVE_FEEDBACK, Perm.WRITE_NOTES, Perm.CHANGE_STATUS,
    Perm.CREATE_CLAIMS, Perm.MANAGE_OWN_TOKENS, Perm.MANAGE_OWN_ACCOUNT, Perm.VIEW_PERSONAL_DATA, Perm.FLAG_FRAUD,
    Perm.WORK_SIU_CASES,
})

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    # Viewers read everything except personal data, which they see masked.
    "viewer": frozenset({Perm.VIEW_QUEUES, Perm.VIEW_CLAIMS, Perm.VIEW_ALL_DEPARTMENTS, Perm.VIEW_DASHBOARDS,
                         Perm.VIEW_ALERTS, Perm.MANAGE_OWN_ACCOUNT}),
    "adjuster": _ADJUSTER,
    "manager": _ADJUSTER | {Perm.VIEW_ALL_DEPARTMENTS, Perm.REASSIGN, Perm.VIEW_WORKLOAD, Perm.VIEW_MODELS,
                              Perm.VIEW_DASHBOARDS, Perm.VIEW_OPERATIONS, Perm.VIEW_ALERTS, Perm.MANAGE_ALERTS,
                              Perm.VIEW_ANALYTICS, Perm.DECIDE_FRAUD},
    "admin": frozenset(Perm),
}

ROLES = tuple(ROLE_PERMISSIONS)

# What an API token may be granted; a token never holds more than its owner's role.
API_SCOPES: dict[str, Perm] = {
    "claims:read": Perm.VIEW_CLAIMS,
    "claims:write": Perm.CREATE_CLAIMS,
    "queues:read": Perm.VIEW_QUEUES,
}


def role_has(role: str | None, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(role or "", frozenset())
