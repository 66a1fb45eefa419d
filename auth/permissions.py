"""The one role → permission map. Every route, page and callback asks here."""
from __future__ import annotations

from enum import Enum


class Perm(str, Enum):
    VIEW_QUEUES = "queues:view"
    VIEW_CLAIMS = "claims:view"
    VIEW_ALL_DEPARTMENTS = "claims:view_all_departments"
    GIVE_FEEDBACK = "claims:feedback"
    REASSIGN = "claims:reassign"
    VIEW_MODELS = "models:view"
    MANAGE_MODELS = "models:manage"
    MANAGE_USERS = "users:manage"
    VIEW_AUDIT = "audit:view"


ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    "viewer": frozenset({Perm.VIEW_QUEUES, Perm.VIEW_CLAIMS, Perm.VIEW_ALL_DEPARTMENTS}),
    "adjuster": frozenset({Perm.VIEW_QUEUES, Perm.VIEW_CLAIMS, Perm.GIVE_FEEDBACK}),
    "manager": frozenset({
        Perm.VIEW_QUEUES, Perm.VIEW_CLAIMS, Perm.VIEW_ALL_DEPARTMENTS, Perm.GIVE_FEEDBACK,
        Perm.REASSIGN, Perm.VIEW_MODELS,
    }),
    "admin": frozenset(Perm),
}

ROLES = tuple(ROLE_PERMISSIONS)


def role_has(role: str | None, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(role or "", frozenset())
