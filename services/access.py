"""Record-level access: which departments' claims a user may see."""
from __future__ import annotations

from auth.permissions import Perm


class AccessDenied(PermissionError):
    pass


class NotFound(LookupError):
    pass


class OutsideDepartments(AccessDenied):
    """A record the user may not see. Pages and the API answer "not found" so
    that its existence is not revealed."""


def can_see_department(user, department_id: int | None) -> bool:
    if user.can(Perm.VIEW_ALL_DEPARTMENTS):
        return True
    return department_id is not None and department_id in user.department_ids


def visible_department_ids(user, all_ids: list[int]) -> list[int]:
    return [d for d in all_ids if can_see_department(user, d)]
