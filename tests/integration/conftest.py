"""Fixtures the REST API tests share: a manager's token that may read and write claims and
read queues (one per test module), and a plain test client (no session: the token is the caller)."""
from __future__ import annotations

import pytest

from tests.integration.test_api import make_token


@pytest.fixture(scope="module")
def writer(web_app):
    return make_token(web_app, "manager@scope.example", ["claims:read", "claims:write", "queues:read"])


@pytest.fixture()
def client(web_app):
    return web_app.server.test_client()
