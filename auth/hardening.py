"""Wires the request-hardening layer into the Flask server, in order:

before a request: trusted proxy headers -> Origin check (CSRF) -> server-side
session -> rate limits -> (the guard, installed later by app.py);
after it: security headers; on any error: a response without internals."""
from __future__ import annotations

from flask import Flask, g, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix

from auth import csrf, errors, headers, limits, sessions
from services import audit


def install_request_checks(server: Flask, settings, api_blueprint) -> None:
    if settings.proxy_hops:
        hops = settings.proxy_hops
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @server.before_request
    def _bind_audit_ip():
        g.scope_audit_ip_token = audit.bind_request_ip(request.remote_addr)

    @server.teardown_request
    def _unbind_audit_ip(_exc):
        token = g.pop("scope_audit_ip_token", None)
        if token is not None:
            audit.unbind_request_ip(token)

    @server.before_request
    def _same_origin_only():
        problem = csrf.origin_problem()
        if problem is None:
            return None
        message = f"Refused: {problem}."
        if errors.wants_json():
            return jsonify(error=message), 403
        return errors.error_response(403, message + " Reload the page and try again.")

    sessions.install(server, settings)
    limits.init_app(server, settings, api_blueprint)


def install_responses(server: Flask, dash_app, settings) -> None:
    headers.install(server, dash_app, production=settings.is_production)
    errors.install(server)
