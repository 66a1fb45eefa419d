"""JSON errors for the API: a status, a one-line message, maybe field errors; never a stack trace."""
from __future__ import annotations

import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from api import request_ids
from api.v1 import bp

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.fields, self.headers = status, message, fields, headers or {}

    def body(self) -> dict:
        body = {"error": self.message}
        if self.fields is not None:
            body["fields"] = self.fields
        return body


def error_response(exc: ApiError):
    response = jsonify(exc.body())
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error_response(ApiError(exc.code or 500, (exc.name or "error").lower()))


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("API error on %s %s", request.method, request.path)
    # The reference names this request in the log, where the stack trace is.
    response = jsonify(error="internal error", reference=request_ids.current())
    response.status_code = 500
    return response
