"""Many audit rows in one transaction (migration 0026 moves the chain head once, at
COMMIT; services.audit.record_many writes a batch): the chain stays one unbroken
order under concurrent writers, savepoints and early constraint checks, and the
head no longer piles up a version per row."""
from __future__ import annotations

import threading

import psycopg
import pytest
from sqlalchemy import create_engine, pool
from sqlalchemy.orm import Session

from db.session import normalise_url
from services import audit
from services.audit_chain import verify
from tests import dbutil


@pytest.fixture()
def engine(chain_db):
    engine = create_engine(normalise_url(chain_db), poolclass=pool.NullPool)
    yield engine
    engine.dispose()


def _verify(engine):
    with Session(engine) as session:
        return verify(session)


def _seqs(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(dbutil.libpq(url)) as conn:
        return conn.execute("SELECT seq, actor FROM audit_log ORDER BY seq").fetchall()


def test_record_many_chains_its_rows_like_record(engine, chain_db):
    with Session(engine) as session:
        audit.record(session, actor="one", action="t.single", before=None, after={"k": 1})
        n = audit.record_many(session, [
            {"actor": "bulk", "action": "t.bulk", "actor_id": None, "target_type": "claim", "target_id": i,
             "before": None, "after": {"i": i, "é": "ü"}} for i in range(3)])
        session.commit()
    assert n == 3
    with psycopg.connect(dbutil.libpq(chain_db)) as conn:
        rows = conn.execute("SELECT seq, actor, target_id, before::text FROM audit_log ORDER BY seq").fetchall()
    assert [r[:3] for r in rows] == [(1, "one", None), (2, "bulk", "0"), (3, "bulk", "1"), (4, "bulk", "2")]
    # An absent "before" is stored the same way by both paths.
    assert len({r[3] for r in rows}) == 1
    report = _verify(engine)
    assert report.ok and report.count == 4


def test_record_many_takes_the_request_address_and_refuses_unknown_keys(engine, chain_db):
    token = audit.bind_request_ip("203.0.113.9")
    try:
        with Session(engine) as session:
            audit.record_many(session, [{"actor": "a", "action": "t.ip"}, {"actor": "a", "action": "t.ip",
                                                                           "ip": "198.51.100.1"}])
            with pytest.raises(TypeError):
                audit.record_many(session, [{"actor": "a", "action": "t", "seq": 1}])
            with pytest.raises(TypeError):
                audit.record_many(session, [{"actor": "a"}])
            session.commit()
    finally:
        audit.unbind_request_ip(token)
    with psycopg.connect(dbutil.libpq(chain_db)) as conn:
        assert [r[0] for r in conn.execute("SELECT ip FROM audit_log ORDER BY seq")] == ["203.0.113.9", "198.51.100.1"]
    assert audit.record_many(Session(engine), []) == 0


def test_a_big_transaction_moves_the_head_once(chain_db, engine):
    """The cause of the slowdown: 0011 updated the head per row, leaving a dead version
    per row for every later row to walk (3,000 rows: ~40 pages for a one-row table)."""
    with Session(engine) as session:
        audit.record_many(session, [{"actor": "b", "action": "t.big", "target_id": i} for i in range(3000)])
        session.commit()
    with psycopg.connect(dbutil.libpq(chain_db)) as conn:
        seq, = conn.execute("SELECT seq FROM audit_chain_head").fetchone()
        pages = conn.execute("SELECT pg_relation_size('audit_chain_head') / current_setting('block_size')::int"
                             ).fetchone()[0]
    assert seq == 3000
    assert pages <= 1
    assert _verify(engine).ok


def test_rows_of_a_rolled_back_savepoint_leave_no_gap(chain_db, engine):
    with psycopg.connect(dbutil.libpq(chain_db)) as conn:
        conn.execute("INSERT INTO audit_log (actor, action) SELECT 'kept', 'a' FROM generate_series(1, 3)")
        with pytest.raises(psycopg.errors.DivisionByZero):
            with conn.transaction():  # a savepoint
                conn.execute("INSERT INTO audit_log (actor, action) SELECT 'gone', 'a' FROM generate_series(1, 2)")
                conn.execute("SELECT 1 / 0")
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the head moves now, mid-transaction...
        conn.execute("INSERT INTO audit_log (actor, action) VALUES ('kept', 'b')")  # ...and rows still follow
        conn.execute("SET CONSTRAINTS ALL DEFERRED")
        conn.execute("INSERT INTO audit_log (actor, action) VALUES ('kept', 'c')")
        conn.commit()
    assert _seqs(chain_db) == [(i, "kept") for i in range(1, 6)]
    report = _verify(engine)
    assert report.ok and report.count == 5


def test_a_rolled_back_transaction_leaves_the_head_where_it_was(chain_db, engine):
    with psycopg.connect(dbutil.libpq(chain_db)) as conn:
        conn.execute("INSERT INTO audit_log (actor, action) VALUES ('kept', 'a')")
        conn.commit()
        conn.execute("INSERT INTO audit_log (actor, action) SELECT 'gone', 'a' FROM generate_series(1, 50)")
        conn.rollback()
        conn.execute("INSERT INTO audit_log (actor, action) VALUES ('kept', 'b')")
        conn.commit()
    assert _seqs(chain_db) == [(1, "kept"), (2, "kept")]
    assert _verify(engine).ok


def test_concurrent_bulk_writers_queue_on_the_head(chain_db, engine):
    """Each transaction's rows form one run in the chain: the head lock is held from a
    transaction's first row to its COMMIT, where the head moves."""
    barrier = threading.Barrier(4)

    def writer(name: str):
        with Session(engine) as session:
            barrier.wait()
            for _ in range(3):  # several statements in one transaction
                audit.record_many(session, [{"actor": name, "action": "t.c"} for _ in range(100)])
                session.flush()
            audit.record(session, actor=name, action="t.c")
            session.commit()

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = _seqs(chain_db)
    assert [seq for seq, _ in rows] == list(range(1, 1205))
    runs = [actor for i, (_, actor) in enumerate(rows) if i == 0 or rows[i - 1][1] != actor]
    assert sorted(runs) == ["w0", "w1", "w2", "w3"]  # four unbroken runs, one per transaction
    report = _verify(engine)
    assert report.ok and report.count == 1204


def test_a_repeatable_read_writer_behind_a_commit_is_refused(chain_db):
    """As with 0011: a REPEATABLE READ transaction whose snapshot predates another
    writer's commit cannot chain after a head it cannot see."""
    with psycopg.connect(dbutil.libpq(chain_db)) as old, psycopg.connect(dbutil.libpq(chain_db), autocommit=True) as other:
        old.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        old.execute("SELECT count(*) FROM audit_log")  # takes the snapshot
        other.execute("INSERT INTO audit_log (actor, action) VALUES ('other', 'a')")
        with pytest.raises(psycopg.errors.SerializationFailure):
            old.execute("INSERT INTO audit_log (actor, action) VALUES ('old', 'a')")
    assert _seqs(chain_db) == [(1, "other")]


def test_0026_goes_down_and_up_and_the_chain_holds_across(chain_db, engine):
    with psycopg.connect(dbutil.libpq(chain_db), autocommit=True) as conn:
        conn.execute("INSERT INTO audit_log (actor, action) SELECT 'new', 'a' FROM generate_series(1, 3)")
    dbutil.downgrade(chain_db, "0025")
    with psycopg.connect(dbutil.libpq(chain_db), autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('job_requests')").fetchone()[0] is None
        conn.execute("INSERT INTO audit_log (actor, action) SELECT 'old', 'a' FROM generate_series(1, 3)")
        assert conn.execute("SELECT seq FROM audit_chain_head").fetchone()[0] == 6  # 0011's trigger again
    dbutil.upgrade(chain_db)
    with psycopg.connect(dbutil.libpq(chain_db), autocommit=True) as conn:
        conn.execute("INSERT INTO audit_log (actor, action) SELECT 'new', 'b' FROM generate_series(1, 3)")
    report = _verify(engine)
    assert report.ok and report.count == 9
