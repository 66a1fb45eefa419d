"""The shared path of every API POST: size limit, strict JSON, Idempotency-Key,
one transaction. A handler gets (session, payload) and returns (status, body)
or raises ApiError; 4xx answers are remembered for the key, 5xx are not."""
from __future__ import annotations

import json
from typing import Callable

from flask import jsonify, request

from api.v1.auth import caller
from api.v1.errors import ApiError, error_response
from db.flask_db import read_session
from services import idempotency

Handler = Callable[..., tuple[int, dict]]


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def read_json(limit: int):
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError(413, f"request body too large (limit {limit // 1_000_000} MB)")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise ApiError(413, f"request body too large (limit {limit // 1_000_000} MB)")
    try:
        return body, json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "malformed JSON body") from None


def _respond(status: int, body: dict, replayed: bool = False):
    response = jsonify(body)
    response.status_code = status
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent_post(handler: Handler, *, limit: int):
    raw, payload = read_json(limit)
    user_id = caller().id
    key = request.headers.get("Idempotency-Key")
    session = read_session()
    if key is not None:
        if not idempotency.valid_key(key):
            raise ApiError(400, "Idempotency-Key must be 1-200 printable ASCII characters")
        claimed = idempotency.claim(session, user_id, key, method=request.method, path=request.path,
                                    body_hash=idempotency.request_hash(request.method, request.path, raw))
        session.commit()
        if claimed.outcome == "mismatch":
            raise ApiError(422, f"this Idempotency-Key was already used {claimed.reason}; "
                                "send a new key with a new request")
        if claimed.outcome == "in_flight":
            raise ApiError(409, "a request with this Idempotency-Key is still being processed; retry later")
        if claimed.outcome == "replay":
            return _respond(claimed.status, claimed.body, replayed=True)
    try:
        try:
            status, body = handler(session, payload)
        except ApiError as exc:
            if exc.status >= 500:
                raise
            session.rollback()  # a refused request writes nothing but its remembered answer
            status, body = exc.status, exc.body()
        if key is not None:
            idempotency.complete(session, user_id, key, status=status, body=body)
        session.commit()
    except BaseException:
        session.rollback()
        if key is not None:
            idempotency.release(session, user_id, key)
            session.commit()
        raise
    if status < 400:
        return _respond(status, body)
    return error_response(ApiError(status, body["error"], body.get("fields")))
