from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import dbutil  # noqa: E402

SHARED_DATA = Path(os.environ.get("SCOPE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_csv(relative: str) -> Path:
    """A file from ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real dataset {relative} not found under {SHARED_DATA} (set SCOPE_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def database_url():
    """A fresh, migrated database for the whole test session."""
    url, admin = dbutil.create_database()
    dbutil.upgrade(url)
    from db.session import make_engine, make_session_factory
    from services.departments import ensure_standard_departments

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        ensure_standard_departments(session)
        session.commit()
    engine.dispose()
    yield url
    dbutil.drop_database(url, admin)


@pytest.fixture(scope="session")
def engine(database_url):
    from db.session import make_engine

    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture()
def db_session(engine):
    """A session whose work is rolled back after the test. Services may use
    savepoints; nothing a test does leaks into the next one."""
    from sqlalchemy.orm import Session

    conn = engine.connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()
    trans.rollback()
    conn.close()


@pytest.fixture()
def session_factory(engine):
    from db.session import make_session_factory

    return make_session_factory(engine)
