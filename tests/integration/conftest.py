"""Fixtures integration tests share: for the REST API, a manager's token that may read and write
claims and read queues (one per test module) and a plain test client (no session: the token is
the caller); for the audit chain, a migrated database of its own; for migration tests, an empty one."""
from __future__ import annotations

import pytest

from tests import dbutil
from tests.integration.test_api import make_token


@pytest.fixture(scope="module")
def writer(web_app):
    return make_token(web_app, "manager@scope.example", ["claims:read", "claims:write", "queues:read"])


@pytest.fixture()
def client(web_app):
    return web_app.server.test_client()


@pytest.fixture()
def chain_db():
    """A migrated database of the test's own: audit chain tests write and tamper with its log."""
    url, admin = dbutil.create_database("scope_chain")
    dbutil.upgrade(url)
    yield url
    dbutil.drop_database(url, admin)


@pytest.fixture()
def empty_db():
    """An empty database of the test's own, for migrations to go up and down in."""
    url, admin = dbutil.create_database("scope_mig")
    yield url
    dbutil.drop_database(url, admin)
