"""Migration 0030 (the claims' email kinds) goes up, down and up again: the two choices
are columns with no value (the role's default), the sends' CHECK takes the two new kinds
and refuses them again after the downgrade, which drops the rows of those kinds."""
from __future__ import annotations

import psycopg
import pytest

from tests import dbutil


def _shape(url: str) -> tuple[set[str], set[str]]:
    return dbutil.inspected(url, lambda found: ({c["name"] for c in found.get_columns("notification_preferences")},
                                                {i["name"] for i in found.get_indexes("claim_events")}))


def test_claims_kinds_up_down_up(empty_db):
    dbutil.upgrade(empty_db, "0029")
    columns, indexes = _shape(empty_db)
    assert not {"claims_assigned", "overdue_digest"} & columns and "ix_claim_events_assignments" not in indexes
    dbutil.upgrade(empty_db, "0030")
    columns, indexes = _shape(empty_db)
    assert {"claims_assigned", "overdue_digest"} <= columns and "ix_claim_events_assignments" in indexes
    plain = empty_db.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        uid = conn.execute("INSERT INTO users (email, role) VALUES ('a@x.example', 'adjuster') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO notification_preferences (user_id) VALUES (%s)", (uid,))
        assert conn.execute("SELECT claims_assigned, overdue_digest FROM notification_preferences").fetchone() == (
            None, None)
        for kind in ("claims_assigned", "overdue_digest", "siu_digest"):
            conn.execute("INSERT INTO notification_sends (user_id, kind, ref) VALUES (%s, %s, '1')", (uid, kind))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO notification_sends (user_id, kind, ref) VALUES (%s, 'sms', '1')", (uid,))
    dbutil.downgrade(empty_db, "0029")
    columns, indexes = _shape(empty_db)
    assert not {"claims_assigned", "overdue_digest"} & columns and "ix_claim_events_assignments" not in indexes
    with psycopg.connect(plain, autocommit=True) as conn:
        assert conn.execute("SELECT kind FROM notification_sends").fetchall() == [("siu_digest",)]
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO notification_sends (user_id, kind, ref) VALUES (%s, 'claims_assigned', '2')",
                         (uid,))
    dbutil.upgrade(empty_db)
    assert {"claims_assigned", "overdue_digest"} <= _shape(empty_db)[0]
