"""Migration 0028 (notification_preferences, notification_sends) goes up, down and up again,
and the unique key that keeps an email from going out twice holds."""
from __future__ import annotations

import psycopg
import pytest

from tests import dbutil

TABLES = {"notification_preferences", "notification_sends"}


def test_notification_tables_up_down_up_and_their_keys(empty_db):
    dbutil.upgrade(empty_db, "0027")
    assert not TABLES & dbutil.tables(empty_db)
    dbutil.upgrade(empty_db, "0028")
    assert TABLES <= dbutil.tables(empty_db)
    with psycopg.connect(empty_db.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        uid = conn.execute("INSERT INTO users (email, role) VALUES ('t@x.example', 'manager') RETURNING id").fetchone()[0]
        claim = ("INSERT INTO notification_sends (user_id, kind, ref) VALUES (%s, 'alert_opened', '7') "
                 "ON CONFLICT DO NOTHING RETURNING id")
        assert conn.execute(claim, (uid,)).fetchone() is not None
        assert conn.execute(claim, (uid,)).fetchone() is None  # the second claim finds it taken
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO notification_sends (user_id, kind, ref) VALUES (%s, 'sms', '1')", (uid,))
        conn.execute("INSERT INTO notification_preferences (user_id) VALUES (%s)", (uid,))
        assert conn.execute("SELECT alert_emails, alert_min_severity, siu_digest FROM notification_preferences"
                            ).fetchone() == (None, None, None)  # no choice: the role's defaults
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE notification_preferences SET alert_min_severity = 'loud'")
        conn.execute("DELETE FROM users")  # a person's choices and sends go with them
        assert conn.execute("SELECT count(*) FROM notification_sends").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM notification_preferences").fetchone() == (0,)
    dbutil.downgrade(empty_db, "0027")
    assert not TABLES & dbutil.tables(empty_db) and "siu_case_tasks" in dbutil.tables(empty_db)
    dbutil.upgrade(empty_db)
    assert TABLES <= dbutil.tables(empty_db)
