"""Migrations build exactly the models' schema, and the latest one downgrades."""
from __future__ import annotations

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool

from db.models import Base
from db.session import normalise_url
from tests import dbutil


def test_upgrade_builds_models_schema_and_downgrade_removes_it(empty_db):
    dbutil.upgrade(empty_db)
    engine = create_engine(normalise_url(empty_db), poolclass=pool.NullPool)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
        assert {"claims", "parties", "routing_decisions", "model_versions", "audit_log", "claim_events"} <= set(
            inspect(conn).get_table_names())
    dbutil.downgrade(empty_db, "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    dbutil.upgrade(empty_db)
    engine.dispose()


def test_audit_log_is_append_only(empty_db):
    dbutil.upgrade(empty_db)
    with psycopg.connect(empty_db.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("INSERT INTO audit_log (actor, action) VALUES ('t', 'x')")
        for sql in ("UPDATE audit_log SET action = 'y'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
        assert conn.execute("SELECT action FROM audit_log").fetchall() == [("x",)]


def test_0022_fills_in_the_region_of_entered_claims_only(empty_db):
    dbutil.upgrade(empty_db, "0021")
    with psycopg.connect(empty_db.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("INSERT INTO datasets (name) VALUES ('synthetic') ON CONFLICT DO NOTHING")
        for number, key, state, region in (("FNOL-1", "fnol:FNOL-1", "TX", None), ("FNOL-2", "fnol:FNOL-2", "ZZ", None),
                                           ("FNOL-3", "fnol:FNOL-3", "CA", "Pacific"),
                                           ("IMP-1", "lgpif:1", "WA", None)):
            conn.execute("INSERT INTO claims (claim_number, dataset, source_key, state, region, line_of_business) "
                         "VALUES (%s, 'synthetic', %s, %s, %s, 'auto')", (number, key, state, region))
        dbutil.upgrade(empty_db)
        got = dict(conn.execute("SELECT claim_number, region FROM claims").fetchall())
    # Its state's region; an unknown state stays unknown; a region already there and an import are left alone.
    assert got == {"FNOL-1": "South", "FNOL-2": None, "FNOL-3": "Pacific", "IMP-1": None}
