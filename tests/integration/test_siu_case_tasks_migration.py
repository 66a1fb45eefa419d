"""Migration 0027 (siu_case_tasks) goes up, down and up again, and its constraints hold."""
from __future__ import annotations

import psycopg
import pytest

from tests import dbutil


def test_tasks_table_up_down_up_and_its_checks(empty_db):
    dbutil.upgrade(empty_db, "0025")
    assert "siu_case_tasks" not in dbutil.tables(empty_db)
    dbutil.upgrade(empty_db)
    assert "siu_case_tasks" in dbutil.tables(empty_db)
    with psycopg.connect(empty_db.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        uid = conn.execute("INSERT INTO users (email, role) VALUES ('t@x.example', 'adjuster') RETURNING id").fetchone()[0]
        case = conn.execute("INSERT INTO siu_cases (key, title) VALUES ('C-000001', 't') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO siu_case_tasks (case_id, title, assignee_id) VALUES (%s, 'Pull the police report', %s)",
                     (case, uid))
        assert conn.execute("SELECT status, version, done_at FROM siu_case_tasks").fetchone() == ("open", 1, None)
        for sql in ("INSERT INTO siu_case_tasks (case_id, title, assignee_id) VALUES (%s, '   ', %s)",
                    "INSERT INTO siu_case_tasks (case_id, title, assignee_id, status) VALUES (%s, 'x', %s, 'done')",
                    "INSERT INTO siu_case_tasks (case_id, title, assignee_id, status) VALUES (%s, 'x', %s, 'later')"):
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(sql, (case, uid))
        conn.execute("DELETE FROM siu_cases")      # a case's tasks go with it
        assert conn.execute("SELECT count(*) FROM siu_case_tasks").fetchone() == (0,)
    dbutil.downgrade(empty_db, "0026")  # by name: later migrations follow 0027
    assert "siu_case_tasks" not in dbutil.tables(empty_db) and "siu_cases" in dbutil.tables(empty_db)
    dbutil.upgrade(empty_db)
    assert "siu_case_tasks" in dbutil.tables(empty_db)
