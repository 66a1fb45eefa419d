"""Migration 0031 (the weekly KPI summary) goes up, down and up again: the choice is a
column with no value (the role's default), the sends' CHECK takes the new kind and refuses
it again after the downgrade, which drops the rows of that kind and keeps the others."""
from __future__ import annotations

import psycopg
import pytest

from tests import dbutil


def test_kpi_weekly_up_down_up(empty_db):
    dbutil.upgrade(empty_db, "0030")
    assert "kpi_weekly" not in dbutil.columns(empty_db, "notification_preferences")
    plain = empty_db.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        uid = conn.execute("INSERT INTO users (email, role) VALUES ('m@x.example', 'manager') RETURNING id").fetchone()[0]
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO notification_sends (user_id, kind, ref) VALUES (%s, 'kpi_weekly', '1')", (uid,))
    dbutil.upgrade(empty_db, "0031")
    assert "kpi_weekly" in dbutil.columns(empty_db, "notification_preferences")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("INSERT INTO notification_preferences (user_id) VALUES (%s)", (uid,))
        assert conn.execute("SELECT kpi_weekly FROM notification_preferences").fetchone() == (None,)
        for kind in ("kpi_weekly", "overdue_digest"):
            conn.execute("INSERT INTO notification_sends (user_id, kind, ref) VALUES (%s, %s, '2026-11-30')",
                         (uid, kind))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO notification_sends (user_id, kind, ref) VALUES (%s, 'sms', '1')", (uid,))
    dbutil.downgrade(empty_db, "0030")
    assert "kpi_weekly" not in dbutil.columns(empty_db, "notification_preferences")
    with psycopg.connect(plain, autocommit=True) as conn:
        assert conn.execute("SELECT kind FROM notification_sends").fetchall() == [("overdue_digest",)]
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO notification_sends (user_id, kind, ref) VALUES (%s, 'kpi_weekly', '2')", (uid,))
    dbutil.upgrade(empty_db)
    assert "kpi_weekly" in dbutil.columns(empty_db, "notification_preferences")
