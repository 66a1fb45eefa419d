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


WEB_SECRET_KEY = "test-secret-key-" + "x" * 32
WEB_DEMO_CLAIMS = int(os.environ.get("SCOPE_TEST_WEB_CLAIMS", "1500"))


@pytest.fixture(scope="session")
def web_database_url():
    """A database of its own for the web tests, set up exactly as the run
    command does (demo users, synthetic claims, first model, routed claims)."""
    url, admin = dbutil.create_database("scope_web")
    dbutil.upgrade(url)
    from config import Settings
    from db.session import make_engine, make_session_factory, normalise_url
    from jobs import bootstrap

    engine = make_engine(normalise_url(url))
    bootstrap.run(make_session_factory(engine), Settings(database_url=url), demo_claims=WEB_DEMO_CLAIMS,
                  say=lambda *_: None)
    # The demo admin and manager must use MFA: enrol them with a secret the tests know.
    from tests import mfautil

    with make_session_factory(engine).begin() as session:
        for email in mfautil.DEMO_MFA_EMAILS:
            mfautil.enrol_known(session, email, mfautil.DEMO_TOTP_SECRET, WEB_SECRET_KEY)
    mfautil.use_web_database(url)
    engine.dispose()
    yield url
    dbutil.drop_database(url, admin)


@pytest.fixture(scope="session")
def web_app(web_database_url):
    """The one Dash app of the test session (Dash registers page callbacks
    globally, so a process serves one app)."""
    from app import create_app
    from config import Settings

    app = create_app(Settings(database_url=web_database_url, secret_key=WEB_SECRET_KEY))
    # Dash moves the globally registered callbacks into callback_map on its first request.
    app.server.test_client().get("/healthz")
    return app


_client_addresses = iter(range(1, 2**24))


def as_browser(client):
    """Make a test client send what a browser sends: the Origin of this site on
    every request (the CSRF Origin check), from an address of its own (so the
    per-address sign-in rate limit counts each test client separately)."""
    client.environ_base.setdefault("HTTP_ORIGIN", "http://localhost")
    # Werkzeug's test client starts every client at 127.0.0.1.
    if client.environ_base.get("REMOTE_ADDR", "127.0.0.1") == "127.0.0.1":
        n = next(_client_addresses)
        client.environ_base["REMOTE_ADDR"] = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    return client


def login(client, email: str, password: str):
    import re

    as_browser(client)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"})
    from tests import mfautil

    return mfautil.answer(client, response, email)  # the second step, when the user has or needs MFA


@pytest.fixture()
def client_for(web_app):
    """A logged-in test client for a demo role: client_for('adjuster')."""
    from jobs.bootstrap import DEMO_LOGINS

    def make(role: str):
        creds = next(d for d in DEMO_LOGINS if d.role == role)
        client = web_app.server.test_client()
        response = login(client, creds.email, creds.password)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        return client

    return make


@pytest.fixture()
def app_session(web_app):
    """Run ``fn(session)`` in one unit of work of the web app (committed), as a callback would."""
    from db.flask_db import unit_of_work

    def run(fn):
        with web_app.server.app_context(), unit_of_work() as session:
            return fn(session)
    return run
