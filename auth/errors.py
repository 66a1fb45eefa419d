"""Error responses that reveal nothing: a plain page for browsers, JSON for the
API and Dash callbacks. Details (with the stack trace) go to the log only."""
from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, make_response, redirect, render_template_string, request
from werkzeug.exceptions import HTTPException

from api import request_ids

log = logging.getLogger("scope.errors")

JSON_PREFIXES = ("/api/", "/_dash-")

# Our own messages for statuses a user may meet; werkzeug's descriptions are
# replaced, so no framework text leaks into a page.
MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Sign in needed", "Sign in to continue."),
    403: ("Not allowed", "You are not allowed to do that."),
    404: ("Page not found", "That address does not exist in SCOPE."),
    405: ("Not allowed here", "That action is not available at this address."),
    413: ("Too large", "The request was too large."),
    429: ("Too many requests", "Too many attempts. Wait a minute and try again."),
    500: ("Something went wrong", "The error was logged. Try again, or tell your administrator."),
}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · SCOPE Assistant</title>
<link rel="stylesheet" href="/assets/00-bootstrap.min.css"><link rel="stylesheet" href="/assets/10-scope.css">
</head><body class="scope-login">
<main class="container"><div class="row justify-content-center"><div class="col-sm-9 col-md-6 col-lg-5">
<div class="card shadow border-0"><div class="card-body p-4">
<div class="scope-brand mb-3">SCOPE <span>Assistant</span></div>
<h1 class="h5">{{ title }}</h1>
<p class="text-muted mb-4">{{ message }}</p>
{% if reference %}<p class="small text-muted mb-4">Reference for your administrator:
<code>{{ reference }}</code></p>{% endif %}
<a class="btn btn-primary" href="/">Back to SCOPE</a>
</div></div></div></div></main></body></html>"""


def wants_json() -> bool:
    if request.path.startswith(JSON_PREFIXES) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, message: str | None = None):
    title, default = MESSAGES.get(status, MESSAGES[500] if status >= 500 else MESSAGES[400])
    text = message or default
    # A server error names its request, so support can find the logged stack trace.
    reference = request_ids.current() if status >= 500 else None
    if wants_json():
        response = jsonify(error=text, **({"reference": reference} if reference else {}))
    else:
        response = render_template_string(PAGE, title=title, message=text, reference=reference)
    return response, status


# Our own aborts (e.g. the form-token check) carry a sentence meant for the user.
_OWN_DESCRIPTIONS = {"The form expired. Reload the page and try again."}


_API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _api_not_found(_rest: str = ""):
    # The catch-all below takes every method, so PUT /api/v1/claims/X lands here rather than
    # in werkzeug's 405: answer 405 with Allow when a real endpoint has this path.
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in _API_METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "api_not_found":
            allowed.append(method)
    if allowed:
        response = make_response(*error_response(405, f"method not allowed here; use {', '.join(allowed)}"))
        response.headers["Allow"] = ", ".join(allowed + (["HEAD"] if "GET" in allowed else []) + ["OPTIONS"])
        return response
    return error_response(404, "no such API endpoint")


def known_page(pathname: str, registry) -> bool:
    """Whether a Dash page answers ``pathname`` (a fixed path or a path template)."""
    from dash._pages import _parse_path_variables

    path = "/" + pathname.strip("/") if pathname.strip("/") else "/"
    for page in registry.values():
        if page.get("path") == path and page.get("module", "").rsplit(".", 1)[-1] != "not_found_404":
            return True
        template = page.get("path_template")
        if template and _parse_path_variables(path, template) is not None:
            return True
    return False


def install_page_not_found(server: Flask, registry) -> None:
    """Dash answers every unknown address with its page shell and a 200, so a typo'd
    or stale link looked like a working page to browsers, crawlers and monitors.
    Runs after the sign-in guard: an anonymous visitor learns nothing about paths."""

    # Browsers ask for /favicon.ico on pages Dash does not render (sign-in, error
    # pages); Dash's catch-all used to answer it with the app's HTML.
    server.add_url_rule("/favicon.ico", "favicon", lambda: redirect("/_favicon.ico", code=301))

    @server.before_request
    def _unknown_page():
        rule = request.url_rule
        if request.method != "GET" or rule is None or not rule.rule.endswith("<path:path>"):
            return None
        if known_page(request.path, registry):
            return None
        return error_response(404)


def install(server: Flask) -> None:
    # Without this, Dash's catch-all page route would answer unknown API paths with HTML.
    server.add_url_rule("/api/<path:_rest>", "api_not_found", _api_not_found,
                        methods=["GET", "POST", "PUT", "PATCH", "DELETE"])

    @server.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        message = exc.description if exc.description in _OWN_DESCRIPTIONS else None
        response = make_response(*error_response(status, message))
        if status == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @server.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return make_response(*error_response(500))
