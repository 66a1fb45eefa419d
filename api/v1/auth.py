"""Bearer-token authentication and scope checks for API endpoints."""
from __future__ import annotations

import functools
from typing import Callable

from flask import g, request

from api.v1.errors import ApiError
from db.flask_db import read_session
from services import audit
from services.api_tokens import TokenOwner, authenticate, refusal_message

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="scope"'}


def caller() -> TokenOwner:
    return g.api_caller


def require_scope(scope: str) -> Callable:
    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                raise ApiError(401, "authentication required: send Authorization: Bearer <token>",
                               headers=_CHALLENGE)
            session = read_session()
            owner = authenticate(session, token.strip(), ip=request.remote_addr, method=request.method,
                                 path=request.path)
            if owner is None:
                session.rollback()
                raise ApiError(401, refusal_message(session, token.strip()), headers=_CHALLENGE)
            if session.dirty or session.new:  # last_used_at and the hourly use record, in a short transaction
                session.commit()
            if scope not in owner.scopes:
                audit.record_denied(session, owner.user, target=f"api {request.method} {request.path}",
                                    permission=scope, ip=request.remote_addr)
                session.commit()
                raise ApiError(403, f"this token lacks the {scope} scope")
            g.api_caller = owner
            return fn(*args, **kwargs)

        wrapper.api_scope = scope
        return wrapper

    return decorator
