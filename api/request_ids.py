"""A reference for every request: sent back in the ``X-Request-ID`` header, written on
every log line made while serving it, and shown on the error page (and in the JSON
body) of a server error. A user who quotes "reference 3f2a…" leads support straight
to the stack trace in the log, which the user never sees."""
from __future__ import annotations

import logging
import re
import secrets

from flask import current_app, g, has_request_context, request

HEADER = "X-Request-ID"
# What a proxy may hand us: no spaces, quotes or line breaks that could forge log lines.
_VALID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def current() -> str | None:
    return g.get("request_id") if has_request_context() else None


def install(server) -> None:
    def _assign():
        incoming = request.headers.get(HEADER, "")
        # Only a proxy we trust may name the request (its log and ours then share the id).
        trusted = current_app.config["SCOPE_SETTINGS"].proxy_hops > 0 and _VALID.fullmatch(incoming)
        g.request_id = incoming if trusted else secrets.token_hex(8)

    # First of the before-request hooks, so refusals and their log lines carry it too.
    server.before_request_funcs.setdefault(None, []).insert(0, _assign)

    @server.after_request
    def _echo(response):
        rid = current()
        if rid:
            response.headers[HEADER] = rid
        return response


def install_logging() -> None:
    """Give every log record a ``request_id`` ("-" outside a request), once per process."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "scope_request_id", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = current() or "-"
        return record

    factory.scope_request_id = True
    logging.setLogRecordFactory(factory)
