"""The audit log's hash chain (computed by a trigger, checked in Python) and the
application role's grants: tampering is found, concurrent writers never fork
the chain, and scope_app cannot change or empty the append-only tables."""
from __future__ import annotations

import threading

import psycopg
import pytest
from sqlalchemy import create_engine, pool
from sqlalchemy.orm import Session

from db.session import normalise_url
from services import audit
from services.audit_chain import GENESIS, row_hash, verify
from tests import dbutil
from tests.integration.test_cli import scope


def _insert(url: str, n: int, actor: str = "t") -> None:
    with psycopg.connect(dbutil.libpq(url), autocommit=True) as conn:
        for i in range(n):
            conn.execute("INSERT INTO audit_log (actor, action, target_type, target_id, after) "
                         "VALUES (%s, 'test.event', 'claim', %s, %s::jsonb)", (actor, str(i), f'{{"i": {i}}}'))


def _verify(url: str):
    engine = create_engine(normalise_url(url), poolclass=pool.NullPool)
    try:
        with Session(engine) as session:
            return verify(session)
    finally:
        engine.dispose()


def _tamper(url: str, sql: str) -> None:
    """What only the database owner could do: switch the append-only trigger off."""
    with psycopg.connect(dbutil.libpq(url), autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_immutable")
        conn.execute(sql)
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_immutable")


def test_trigger_chains_every_row_and_python_agrees(chain_db):
    _insert(chain_db, 5)
    engine = create_engine(normalise_url(chain_db), poolclass=pool.NullPool)
    with Session(engine) as session:  # through the application's own path too
        audit.record(session, actor="app", action="test.orm", before={"b": [1, 2.5]}, after={"é": "ü"}, ip="::1")
        session.commit()
    engine.dispose()
    with psycopg.connect(dbutil.libpq(chain_db)) as conn:
        rows = conn.execute("SELECT seq, at, actor_id, actor, action, target_type, target_id, before::text, "
                            "after::text, ip, prev_hash, row_hash FROM audit_log ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0][10] == GENESIS
    for prev, row in zip(rows, rows[1:]):
        assert row[10] == prev[11]
    for r in rows:
        assert r[11] == row_hash(seq=r[0], at=r[1], actor_id=r[2], actor=r[3], action=r[4], target_type=r[5],
                                 target_id=r[6], before_text=r[7], after_text=r[8], ip=r[9], prev_hash=r[10])
    report = _verify(chain_db)
    assert report.ok and report.count == 6


def test_writer_cannot_choose_its_own_hash(chain_db):
    with psycopg.connect(dbutil.libpq(chain_db), autocommit=True) as conn:
        conn.execute("INSERT INTO audit_log (actor, action, seq, prev_hash, row_hash) "
                     "VALUES ('x', 'y', 999, 'forged', 'forged')")
        seq, prev, own = conn.execute("SELECT seq, prev_hash, row_hash FROM audit_log").fetchone()
    assert (seq, prev) == (1, GENESIS) and own != "forged"
    assert _verify(chain_db).ok


def test_edited_row_is_named(chain_db):
    _insert(chain_db, 4)
    with psycopg.connect(dbutil.libpq(chain_db)) as conn:
        victim_id = conn.execute("SELECT id FROM audit_log WHERE seq = 3").fetchone()[0]
    _tamper(chain_db, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
    report = _verify(chain_db)
    assert not report.ok and report.broken_id == victim_id and report.broken_seq == 3 and report.count == 2
    assert "changed after it was written" in report.reason


def test_deleted_middle_and_tail_rows_are_found(chain_db):
    _insert(chain_db, 5)
    _tamper(chain_db, "DELETE FROM audit_log WHERE seq = 5")
    tail = _verify(chain_db)
    assert not tail.ok and tail.count == 4 and "removed" in tail.reason
    _tamper(chain_db, "DELETE FROM audit_log WHERE seq = 2")
    middle = _verify(chain_db)
    assert not middle.ok and middle.broken_seq == 3 and "rows missing" in middle.reason


def test_rows_from_before_the_migration_are_chained():
    url, admin = dbutil.create_database("scope_chain_old")
    try:
        dbutil.upgrade(url, "0010")
        with psycopg.connect(dbutil.libpq(url), autocommit=True) as conn:
            conn.execute("INSERT INTO audit_log (actor, action, before) VALUES ('old', 'a', '{\"k\": 1}'), "
                         "('old', 'b', NULL)")
        dbutil.upgrade(url)
        _insert(url, 2, actor="new")
        with psycopg.connect(dbutil.libpq(url)) as conn:
            rows = conn.execute("SELECT actor, seq FROM audit_log ORDER BY id").fetchall()
        assert rows == [("old", 1), ("old", 2), ("new", 3), ("new", 4)]
        report = _verify(url)
        assert report.ok and report.count == 4
    finally:
        dbutil.drop_database(url, admin)


def test_concurrent_writers_never_fork_the_chain(chain_db):
    threads = [threading.Thread(target=_insert, args=(chain_db, 40, f"w{i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(dbutil.libpq(chain_db)) as conn:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM audit_log ORDER BY seq")]
        distinct_prev = conn.execute("SELECT count(DISTINCT prev_hash) FROM audit_log").fetchone()[0]
    assert seqs == list(range(1, 161))
    assert distinct_prev == 160  # no two rows claim the same predecessor
    assert _verify(chain_db).ok


def test_cli_verify_prints_ok_then_names_the_broken_row(chain_db):
    _insert(chain_db, 3)
    ok = scope("audit", "verify", database_url=chain_db)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK: 3 audit rows")
    with psycopg.connect(dbutil.libpq(chain_db)) as conn:
        victim_id = conn.execute("SELECT id FROM audit_log WHERE seq = 2").fetchone()[0]
    _tamper(chain_db, "UPDATE audit_log SET after = '{\"i\": 99}' WHERE seq = 2")
    bad = scope("audit", "verify", database_url=chain_db)
    assert bad.returncode != 0
    assert f"row id {victim_id}" in bad.stderr and "seq 2" in bad.stderr and "Traceback" not in bad.stderr


def test_app_role_cannot_change_or_empty_the_append_only_tables(chain_db):
    with psycopg.connect(dbutil.libpq(chain_db), autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'scope_app'").fetchone(), \
            "the migration did not create scope_app"
        conn.execute("SET ROLE scope_app")
        # What the application needs still works...
        conn.execute("INSERT INTO audit_log (actor, action) VALUES ('app', 'allowed')")
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
        conn.execute("UPDATE departments SET name = name")
        conn.execute("SELECT count(*) FROM routing_decisions")
        # ...and this does not, whatever the triggers do.
        for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log",
                    "UPDATE routing_decisions SET confidence = 1", "DELETE FROM routing_decisions",
                    "TRUNCATE routing_decisions", "UPDATE audit_chain_head SET seq = 0",
                    "SELECT * FROM audit_chain_head", "ALTER TABLE audit_log DISABLE TRIGGER audit_log_immutable"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
        conn.execute("RESET ROLE")
    assert _verify(chain_db).ok


def test_app_role_serves_the_app_end_to_end(chain_db):
    """A login role that is a member of scope_app (as in deploy/) can run the app's writes."""
    with psycopg.connect(dbutil.libpq(chain_db), autocommit=True) as conn:
        conn.execute("SET ROLE scope_app")
        dept = conn.execute("INSERT INTO departments (code, name, color) VALUES ('T_APP', 'App role', '#123456') "
                            "RETURNING id").fetchone()[0]
        conn.execute("DELETE FROM departments WHERE id = %s", (dept,))
        conn.execute("CREATE TEMP TABLE scratch (x int)")  # the bulk loader's staging tables
        conn.execute("RESET ROLE")
