"""Server-side enforcement: every route needs a signed-in user (except the
login page, health checks and static bundles), and every Dash callback must
declare the permission it needs. A callback that declares nothing is refused."""
from __future__ import annotations

import functools
import json
import logging
from typing import Any, Callable

import dash
from dash.exceptions import CallbackException, PreventUpdate
from flask import g, jsonify, redirect, request
from urllib.parse import quote

from auth.current import user_or_none
from auth.mfa import confine as mfa_confine
from auth.permissions import Perm

log = logging.getLogger(__name__)
PUBLIC_PREFIXES = ("/login", "/healthz", "/readyz", "/assets/", "/_dash-component-suites/",
                   "/favicon.ico", "/_favicon.ico",
                   # Emailed links and the forgotten-password form (auth.account_forms).
                   "/forgot-password", "/reset-password", "/accept-invite", "/verify-email")
# The REST API and the metrics endpoint authenticate every request with a bearer token
# themselves (api/v1, api/metrics).
TOKEN_PREFIXES = ("/api/v1/",)
TOKEN_PATHS = ("/metrics",)
SIGNED_IN = "signed-in"  # a callback any signed-in user may call (it checks records itself)
_PERM_ATTR = "_scope_permission"
# Dash's own page-routing callback renders page layouts, which check permission themselves.
DASH_INTERNAL_OUTPUTS = ("_pages_content.children", "_pages_dummy.children")
ROUTER_OUTPUT = "_pages_content.children"


def secure_callback(permission: Perm | str, *args: Any, **kwargs: Any) -> Callable:
    """``dash.callback`` that also records and enforces the permission."""

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any):
            user = user_or_none()
            if user is None or (permission != SIGNED_IN and not user.can(permission)):
                raise PreventUpdate
            return fn(*a, **k)

        setattr(wrapper, _PERM_ATTR, permission)
        return dash.callback(*args, **kwargs)(wrapper)

    return decorator


def callback_permission(dash_app: dash.Dash, output_key: str) -> Perm | str | None:
    entry = dash_app.callback_map.get(output_key)
    if entry is None:
        return None
    perm = getattr(entry.get("callback"), _PERM_ATTR, None)
    if perm is None and any(o in output_key for o in DASH_INTERNAL_OUTPUTS):
        return SIGNED_IN
    return perm


def install(server, dash_app: dash.Dash) -> None:
    @server.errorhandler(CallbackException)
    def _malformed_callback(_exc):
        # Dash raises this for a request whose outputs do not match the callback: the client's fault.
        return jsonify(error="malformed callback request"), 400

    @server.before_request
    def _guard():
        path = request.path
        if path.startswith(PUBLIC_PREFIXES) or path.startswith(TOKEN_PREFIXES) or path in TOKEN_PATHS:
            return None
        user = user_or_none()
        is_dash_api = path.startswith("/_dash-")
        if user is None:
            if is_dash_api or request.method != "GET":
                return jsonify(error="authentication required"), 401
            return redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/?=&"))
        confined = mfa_confine(user, path)  # signed in, second factor still owed
        if confined is not None:
            return confined
        if path.endswith("/_dash-update-component"):
            body = request.get_json(silent=True) or {}
            output = body.get("output") if isinstance(body, dict) else None
            g.scope_callback_output = output  # api.metrics labels the callback's time with it
            perm = callback_permission(dash_app, output) if isinstance(output, str) else None
            if perm is None or (perm != SIGNED_IN and not user.can(perm)):
                record_denied(user, f"callback {output}" if isinstance(output, str) else "callback ?",
                              None if perm is None else str(getattr(perm, "value", perm)))
                return jsonify(error="not allowed"), 403
            if not _well_formed(body, dash_app.callback_map.get(output)):
                return jsonify(error="malformed callback request"), 400
        return None


def _well_formed(body: dict, entry: dict | None) -> bool:
    """The request names as many inputs, states and outputs as the callback has, each
    as Dash names it (Dash itself fails with a server error on a short list, an item
    without an id, or a changed property that is not "id.property")."""
    if entry is None or "callback" not in entry:  # a clientside callback has nothing to run here
        return False
    outputs = entry.get("output")
    n_out = len(outputs) if isinstance(outputs, (list, tuple)) else 1
    sent_out = body.get("outputs")
    if n_out > 1 or isinstance(outputs, (list, tuple)):
        if not isinstance(sent_out, list) or len(sent_out) != n_out:
            return False
    elif not isinstance(sent_out, (dict, list)):
        return False
    inputs, state, changed = body.get("inputs"), body.get("state", []), body.get("changedPropIds", [])
    if not (isinstance(inputs, list) and len(inputs) == len(entry.get("inputs", []))
            and isinstance(state, list) and len(state) == len(entry.get("state", []))
            and all(_item(i) or isinstance(i, list) and all(_item(ii) for ii in i) for i in inputs + state)
            and isinstance(changed, list) and all(_prop_id(c) for c in changed)):
        return False
    if ROUTER_OUTPUT in body.get("output", ""):
        # Dash's router reads them as text: a browser's location always has both.
        values = {(i["id"], i["property"]): i.get("value") for i in inputs
                  if isinstance(i, dict) and isinstance(i["id"], str)}
        return (isinstance(values.get(("_pages_location", "pathname")), str)
                and isinstance(values.get(("_pages_location", "search"), ""), (str, type(None))))
    return True


def _item(value) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("id"), (str, dict))
            and isinstance(value.get("property"), str))


def _prop_id(value) -> bool:
    if not isinstance(value, str) or "." not in value:
        return False
    ident = value.rpartition(".")[0]
    if not ident.startswith("{"):
        return True
    try:
        return isinstance(json.loads(ident), dict)
    except ValueError:
        return False


def page_user(permission, page: str):
    """The signed-in user when their role has ``permission``, else None; a signed-in
    user refused a page is audited like a refused callback (throttled)."""
    from auth.current import user_or_none

    user = user_or_none()
    if user is None:
        return None
    if not user.can(permission):
        record_denied(user, f"page {page.removeprefix('pages.')}", getattr(permission, "value", str(permission)))
        return None
    return user


def record_denied(user, target: str, permission: str | None = None) -> None:
    """Put a refused request in the audit log (throttled there); never fails the response."""
    from db.flask_db import unit_of_work
    from services import audit

    try:
        with unit_of_work() as session:
            audit.record_denied(session, user, target=target, permission=permission, ip=request.remote_addr)
    except Exception:  # the refusal stands even if the audit write fails
        log.exception("could not record a denied request")
