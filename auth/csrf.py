"""Synchroniser tokens for the server-rendered forms (login, logout)."""
from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

_KEY = "_csrf"


def token() -> str:
    if _KEY not in session:
        session[_KEY] = secrets.token_urlsafe(32)
    return session[_KEY]


def check_form() -> None:
    sent = request.form.get("csrf_token", "")
    expected = session.get(_KEY, "")
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="The form expired. Reload the page and try again.")
