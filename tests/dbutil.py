"""Real PostgreSQL for tests: the server at TEST_DATABASE_URL (default the
local one on 127.0.0.1:5432), or an embedded one when none answers."""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_ADMIN_URL)
    try:
        with psycopg.connect(url, connect_timeout=3):
            return url
    except psycopg.OperationalError:
        if "TEST_DATABASE_URL" in os.environ:
            raise
    from db.embedded import start_embedded

    pgdata = Path(os.environ.get("SCOPE_TEST_PGDATA", Path(tempfile.gettempdir()) / "scope-test-pgdata"))
    return start_embedded(pgdata)


def libpq(url: str) -> str:
    """The URL as psycopg and libpq read it (no SQLAlchemy driver name)."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def create_database(prefix: str = "scope_test") -> tuple[str, str]:
    """Create an empty database; return (its URL, the admin URL)."""
    admin = admin_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    return url, admin


def drop_database(url: str, admin: str) -> None:
    name = make_url(url).database
    with psycopg.connect(libpq(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def upgrade(url: str, revision: str = "head") -> None:
    from db.migrate import upgrade as _upgrade
    from db.session import normalise_url

    _upgrade(normalise_url(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from db.migrate import downgrade as _downgrade
    from db.session import normalise_url

    _downgrade(normalise_url(url), revision)


def inspected(url: str, read):
    """``read(inspector)`` on the database at ``url`` (what a migration test looks at)."""
    from sqlalchemy import create_engine, inspect, pool

    from db.session import normalise_url

    engine = create_engine(normalise_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return read(inspect(conn))
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    return inspected(url, lambda found: set(found.get_table_names()))


def columns(url: str, table: str) -> set[str]:
    return inspected(url, lambda found: {c["name"] for c in found.get_columns(table)})
