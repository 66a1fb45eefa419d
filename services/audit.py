"""Append-only audit trail of who did what to which record."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.models import AuditLog


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    actor_id: int | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    session.add(
        AuditLog(
            actor=actor,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            before=before,
            after=after,
            ip=ip,
        )
    )
