"""Verification of the audit log's hash chain.

The database computes each row's hash in a trigger (migration 0011); this
module recomputes it independently in Python from the stored values, so a row
edited, inserted or removed behind the triggers' back is found. JSON columns
are hashed in PostgreSQL's canonical ``jsonb::text`` form, read back as text.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

GENESIS = "0" * 64
VERSION_TAG = "scope-audit-v1"
BATCH = 5_000


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    broken_id: int | None = None
    broken_seq: int | None = None
    broken_at: dt.datetime | None = None
    reason: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"OK: {self.count:,} audit rows, chain intact"
        where = f"row id {self.broken_id}" if self.broken_id is not None else "the chain head"
        when = f" at {self.broken_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S UTC}" if self.broken_at else ""
        return f"BROKEN at {where}{when} (seq {self.broken_seq}): {self.reason}"

    def to_json(self) -> dict:
        return {"ok": self.ok, "count": self.count, "broken_id": self.broken_id, "broken_seq": self.broken_seq,
                "broken_at": self.broken_at.isoformat() if self.broken_at else None, "reason": self.reason}


def _field(value: str | None) -> str:
    return "-" if value is None else f"{len(value)}:{value}"


def row_hash(*, seq: int, at: dt.datetime, actor_id: int | None, actor: str | None, action: str | None,
             target_type: str | None, target_id: str | None, before_text: str | None, after_text: str | None,
             ip: str | None, prev_hash: str) -> str:
    """SHA-256 of the canonical serialisation (the same one the trigger hashes)."""
    stamp = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = [str(seq), stamp, None if actor_id is None else str(actor_id), actor, action, target_type, target_id,
              before_text, after_text, ip, prev_hash]
    payload = VERSION_TAG + "|" + "|".join(_field(f) for f in fields)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_ROWS = text("""
    SELECT id, seq, at, actor_id, actor, action, target_type, target_id, before::text AS before_text,
           after::text AS after_text, ip, prev_hash, row_hash
    FROM audit_log WHERE seq > :after AND seq <= :upto ORDER BY seq LIMIT :n
""")


def verify(session: Session, progress: Callable[[int, int], None] | None = None) -> ChainReport:
    """Walk the chain in sequence order; stop at the first row that does not hold.
    ``progress(rows checked, rows to check)`` is called after each batch.

    The head is read first: rows written while we walk are beyond it and are
    left for the next check (the head and its rows commit together)."""
    head = session.execute(text("SELECT seq, last_hash FROM audit_chain_head WHERE id = 1")).first()
    if head is None:
        return ChainReport(False, 0, reason="the chain head is missing")
    expected_prev, expected_seq, count, last_seq = GENESIS, 1, 0, 0
    while True:
        if progress is not None:
            progress(count, head.seq)
        rows = session.execute(_ROWS, {"after": last_seq, "upto": head.seq, "n": BATCH}).mappings().all()
        if not rows:
            break
        for r in rows:
            def broken(reason: str, r=r, count=count) -> ChainReport:
                return ChainReport(False, count, r["id"], r["seq"], r["at"], reason)

            if r["seq"] != expected_seq:
                return broken(f"sequence jumps from {expected_seq - 1} to {r['seq']} (rows missing)")
            if r["prev_hash"] != expected_prev:
                return broken("prev_hash does not match the previous row's hash")
            computed = row_hash(seq=r["seq"], at=r["at"], actor_id=r["actor_id"], actor=r["actor"],
                                action=r["action"], target_type=r["target_type"], target_id=r["target_id"],
                                before_text=r["before_text"], after_text=r["after_text"], ip=r["ip"],
                                prev_hash=r["prev_hash"])
            if computed != r["row_hash"]:
                return broken("the row's content does not match its hash (changed after it was written)")
            expected_prev, expected_seq, count = r["row_hash"], expected_seq + 1, count + 1
        last_seq = rows[-1]["seq"]
    if head.seq != count or head.last_hash != expected_prev:
        return ChainReport(False, count, broken_seq=head.seq,
                           reason=f"the chain head expects {head.seq:,} rows but {count:,} were found "
                                  "(rows at the end were removed)")
    return ChainReport(True, count)


def verify_and_record(session: Session, *, actor: str,
                      progress: Callable[[int, int], None] | None = None) -> ChainReport:
    """Verify, and keep the result in the audit log ("audit.verify", which the audit page
    shows as the last verification), attributed to ``actor``: the person who asked, or
    the process that ran it. Written after the walk, so the chain head is not held
    while millions of rows are read."""
    from db.models import User
    from services import audit

    report = verify(session, progress)
    actor_id = session.scalar(select(User.id).where(User.email == actor)) if "@" in actor else None
    audit.record(session, actor=actor[:254], actor_id=actor_id, action="audit.verify", target_type="audit_log",
                 after=report.to_json())
    return report
