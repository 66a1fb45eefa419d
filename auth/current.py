"""The signed-in user as a plain object (no lazy loads after the session closes)."""
from __future__ import annotations

from dataclasses import dataclass

from flask_login import UserMixin, current_user

from auth.permissions import Perm, role_has


@dataclass(frozen=True)
class SessionUser(UserMixin):
    id: int
    email: str
    name: str
    role: str
    department_ids: tuple[int, ...]
    active: bool = True

    @property
    def is_active(self) -> bool:  # flask-login reads this
        return self.active

    def get_id(self) -> str:
        return str(self.id)

    def can(self, perm: Perm) -> bool:
        return role_has(self.role, perm)

    @classmethod
    def from_model(cls, user) -> "SessionUser":
        return cls(id=user.id, email=user.email, name=user.name, role=user.role,
                   department_ids=tuple(d.id for d in user.departments), active=user.is_active)


def user_or_none() -> SessionUser | None:
    return current_user if getattr(current_user, "is_authenticated", False) else None
