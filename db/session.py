"""Engines and sessions. One transaction per request, callback or job:
callers use ``session_scope`` (commit on success, roll back on error) and
services only ever receive the session."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from config import Settings


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver whatever spelling of the URL we were given."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith("postgresql+psycopg://"):
        return url
    raise ValueError("DATABASE_URL must be a PostgreSQL URL (postgresql://...)")


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return normalise_url(settings.database_url)
    from db.embedded import start_embedded

    return normalise_url(start_embedded(settings.pgdata_dir))


def make_engine(url: str, pool_size: int = 5) -> Engine:
    engine = create_engine(
        normalise_url(url),
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
        pool_recycle=1800,
    )
    event.listen(engine, "connect", _jit_off)
    return engine


def _jit_off(dbapi_connection, _record) -> None:
    """No JIT compiling on SCOPE's connections. PostgreSQL compiles any query planned
    above cost 100,000, which here meant 100-560 ms of compiling for a 40-80 ms count
    (Workload at a million claims; the first in a connection paid ~250 ms more to load
    LLVM). Page queries are short; JIT pays off only on long analytical scans.
    A SET rather than a startup option, which connection poolers such as PgBouncer
    refuse; in autocommit, so a rolled-back first transaction cannot undo it."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.execute("SET jit = off")
    finally:
        dbapi_connection.autocommit = autocommit


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
