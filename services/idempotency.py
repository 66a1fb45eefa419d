"""Idempotency-Key handling for API POSTs.

``claim`` takes the key with ``INSERT ... ON CONFLICT DO NOTHING`` in its own
short transaction (the caller commits it at once), so a concurrent duplicate
sees the ``in_flight`` row. ``complete`` runs inside the request's own
transaction: the stored response commits together with the claims it
describes, so a key can never say "done" for work that was rolled back.
``release`` deletes the key after a failure nobody should replay (5xx)."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import IdempotencyKey

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces


@dataclass(frozen=True)
class Claimed:
    """Outcome of claiming a key: ``new`` (go ahead), ``replay`` (send the stored
    response), ``mismatch`` (same key, another request: ``reason`` says how) or ``in_flight``."""
    outcome: str
    status: int | None = None
    body: dict | None = None
    reason: str | None = None


def valid_key(key: str | None) -> bool:
    return isinstance(key, str) and bool(KEY_PATTERN.match(key))


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


def claim(session: Session, user_id: int, key: str, *, method: str, path: str, body_hash: str) -> Claimed:
    inserted = session.execute(
        insert(IdempotencyKey).values(user_id=user_id, key=key, method=method, path=path,
                                      request_hash=body_hash, status="in_flight")
        .on_conflict_do_nothing(constraint="uq_idempotency_keys_user_key")
        .returning(IdempotencyKey.id)).scalar()
    if inserted is not None:
        return Claimed("new")
    row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                      IdempotencyKey.key == key))
    if row is None:  # released between our insert and select: the caller may retry
        return Claimed("in_flight")
    if row.request_hash != body_hash:
        if (row.method, row.path) != (method, path):
            return Claimed("mismatch", reason=f"for {row.method} {row.path}")
        return Claimed("mismatch", reason="with a different request body")
    if row.status != "completed":
        return Claimed("in_flight")
    return Claimed("replay", row.response_status, row.response_body)


def complete(session: Session, user_id: int, key: str, *, status: int, body: dict) -> None:
    session.execute(update(IdempotencyKey)
                    .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
                    .values(status="completed", response_status=status, response_body=body,
                            completed_at=dt.datetime.now(dt.timezone.utc)))


def release(session: Session, user_id: int, key: str) -> None:
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key,
                                                 IdempotencyKey.status == "in_flight"))
