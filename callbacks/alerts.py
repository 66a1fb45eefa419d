"""Alerts page and the banners on every page. Reading needs VIEW_ALERTS; every
write (rules, acknowledge, check now) needs MANAGE_ALERTS, checked here on the
server whatever the browser shows or sends."""
from __future__ import annotations

import logging

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate
from flask import current_app

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.alerts import (ACK_ASK, DELETE_ASK, EDIT_ASK, TOGGLE_ASK, banners, history_table, open_alerts,
                              rules_table)
from components.row_actions import asked
from db.flask_db import WriteConflict, WriteFailed, read_session, unit_of_work
from services import alerts as svc
from services import currency as money

log = logging.getLogger(__name__)


def _currency() -> str:
    return current_app.config["SCOPE_SETTINGS"].currency


FORM_FIELDS = ("metric", "comparison", "threshold", "period", "department", "severity", "enabled", "name")


def _note(text: str, color: str = "success"):
    return dbc.Alert(text, color=color, dismissable=True, className="py-2", id="alerts-status-msg")


def _bump(version) -> int:
    return (version if isinstance(version, int) and not isinstance(version, bool) and 0 <= version < 10**9
            else 0) + 1


def _write(action):
    """Run ``action(session)`` in one transaction; returns (result, error message)."""
    try:
        with unit_of_work() as session:
            return action(session), None
    except (svc.AlertError, svc.NotFound) as exc:
        return None, str(exc)
    except (WriteConflict, WriteFailed):
        return None, "Someone changed this at the same moment; nothing was saved. Try again."
    except Exception:  # never a stack trace in the browser
        log.exception("alerts write failed")
        return None, "Something went wrong; nothing was saved."


# ---------------------------------------------------------------- banners (every page)

@secure_callback(
    Perm.VIEW_ALERTS,
    Output("alert-banners", "children"),
    Input("alerts-banner-url", "pathname"),
)
def show_banners(pathname):
    if pathname == "/alerts":  # the page lists them itself
        return []
    try:
        return banners(*svc.banner_alerts(read_session()), _currency())
    except Exception:  # a banner must never break the page under it
        log.exception("alert banners failed")
        return []


# ---------------------------------------------------------------- reading

@secure_callback(
    Perm.VIEW_ALERTS,
    Output("alerts-open", "children"),
    Output("alerts-rules", "children"),
    Input("alerts-version", "data"),
)
def render(_version):
    user = user_or_none()
    session = read_session()
    can_edit = user.can(Perm.MANAGE_ALERTS)
    rules = svc.list_rules(session)
    checked = [r.last_checked_at for r in rules if r.enabled and r.last_checked_at]
    return (open_alerts(svc.open_alerts(session), can_edit, _currency(), checked_at=max(checked, default=None),
                        enabled=sum(r.enabled for r in rules)),
            rules_table(rules, can_edit, _currency()))


@secure_callback(
    Perm.VIEW_ALERTS,
    Output("alerts-history", "children"),
    Input("alerts-filter-status", "value"), Input("alerts-filter-severity", "value"),
    Input("alerts-filter-metric", "value"), Input("alerts-version", "data"),
)
def render_history(status, severity, metric, _version):
    try:
        rows = svc.history(read_session(), status=status, severity=severity, metric=metric)
    except svc.AlertError as exc:
        return dbc.Alert(str(exc), color="danger", className="mb-0", id="alerts-history-error")
    return history_table(rows, _currency())


# ---------------------------------------------------------------- rule editor

@secure_callback(
    Perm.MANAGE_ALERTS,
    Output("alert-form-unit", "children"),
    Input("alert-form-metric", "value"),
)
def unit(metric):
    m = svc.METRICS.get(metric) if isinstance(metric, str) else None
    if m is None:
        return ""
    return money.symbol(_currency()) if m.kind == "money" else {"pct": "%", "days": "days", "count": "claims"}[m.kind]


@secure_callback(
    Perm.MANAGE_ALERTS,
    Output("alert-form", "is_open"), Output("alert-form-title", "children"),
    *[Output(f"alert-form-{f}", "value") for f in FORM_FIELDS],
    Output("alert-form-rule", "data"), Output("alert-form-error", "children"),
    Input("alerts-new", "n_clicks"), Input(EDIT_ASK, "data"),   # a rule's Edit (assets/62-row-actions.js)
    Input("alert-form-cancel", "n_clicks"),
    prevent_initial_call=True,
)
def open_editor(_new, edit, _cancel):
    keep = [no_update] * len(FORM_FIELDS)
    if ctx.triggered_id == "alert-form-cancel":
        return (False, no_update, *keep, None, None)
    if ctx.triggered_id == "alerts-new":
        return (True, "New rule", "reassignment_rate", "above", 5, "this_week", None, "warning", True, "", None,
                None)
    rule_id = asked(edit, "id", int) if ctx.triggered_id == EDIT_ASK else None
    if rule_id is None:
        raise PreventUpdate
    try:
        values = svc.rule_form_values(read_session(), rule_id, currency=_currency())
    except svc.NotFound as exc:
        return (True, "Edit rule", *keep, None, dbc.Alert(str(exc), color="danger", className="mb-0"))
    return (True, "Edit rule", *[values[f] for f in FORM_FIELDS], values["id"], None)


@secure_callback(
    Perm.MANAGE_ALERTS,
    Output("alert-form", "is_open", allow_duplicate=True),
    Output("alert-form-error", "children", allow_duplicate=True),
    Output("alerts-status", "children"), Output("alerts-version", "data"),
    Input("alert-form-save", "n_clicks"),
    *[State(f"alert-form-{f}", "value") for f in FORM_FIELDS],
    State("alert-form-rule", "data"), State("alerts-version", "data"),
    prevent_initial_call=True,
)
def save(n_clicks, *values):
    if not n_clicks:
        raise PreventUpdate
    *fields, editing, version = values
    raw = dict(zip(FORM_FIELDS, fields))
    user = user_or_none()
    who = {"actor": user.email, "actor_id": user.id, "currency": _currency()}
    if editing is None:
        rule, error = _write(lambda s: svc.create_rule(s, raw, **who))
    else:
        rule, error = _write(lambda s: svc.update_rule(s, editing, raw, **who))
    if error:
        return (no_update, dbc.Alert(error, color="danger", className="mb-0", id="alert-form-error-msg"),
                no_update, no_update)
    verb = "created" if editing is None else "saved"
    return False, None, _note(f"Rule “{rule.name}” {verb}."), _bump(version)


# ---------------------------------------------------------------- enable, acknowledge, check now

@secure_callback(
    Perm.MANAGE_ALERTS,
    Output("alerts-status", "children", allow_duplicate=True),
    Output("alerts-version", "data", allow_duplicate=True),
    Input(TOGGLE_ASK, "data"), Input(ACK_ASK, "data"),   # a rule's Enable/Disable, an alert's Acknowledge
    Input("alerts-check", "n_clicks"),
    State("alerts-version", "data"),
    prevent_initial_call=True,
)
def act(toggle, ack, check, version):
    user = user_or_none()
    who = {"actor": user.email, "actor_id": user.id}
    if ctx.triggered_id == "alerts-check":
        if not check:
            raise PreventUpdate
        counts, error = _write(lambda s: svc.evaluate(s))
        if error:
            return _note(error, "danger"), no_update
        return (_note(f"Checked {counts['rules']} rules: {counts['opened']} opened, {counts['kept']} still "
                      f"breaching, {counts['resolved']} resolved."), _bump(version))
    rule_id = asked(toggle, "id", int) if ctx.triggered_id == TOGGLE_ASK else None
    event_id = asked(ack, "id", int) if ctx.triggered_id == ACK_ASK else None
    if rule_id is not None:
        # The button says what it does: a page drawn before another manager's change is not flipped back.
        enable = asked(toggle, "enable", bool)
        rule, error = _write(lambda s: svc.set_enabled(s, rule_id, enable, **who))
        if error:
            return _note(error, "danger"), _bump(version)
        return _note(f"Rule “{rule.name}” {'enabled' if rule.enabled else 'disabled'}."), _bump(version)
    if event_id is not None:
        event, error = _write(lambda s: svc.acknowledge(s, event_id, **who))
        if error:
            return _note(error, "danger"), _bump(version)
        return _note(f"Alert “{event.rule_name}” acknowledged."), _bump(version)
    raise PreventUpdate


# ---------------------------------------------------------------- delete (with a confirmation)

@secure_callback(
    Perm.MANAGE_ALERTS,
    Output("alert-delete", "is_open"), Output("alert-delete-text", "children"), Output("alert-delete-rule", "data"),
    Input(DELETE_ASK, "data"),   # a rule's Delete (assets/62-row-actions.js); confirm_delete deletes
    prevent_initial_call=True,
)
def ask_delete(ask):
    rule_id = asked(ask, "id", int)
    if rule_id is None:
        raise PreventUpdate
    try:
        # The name as listed: the editor's values leave a name written from the terms empty ("“” stops ...").
        name = svc.rule_name(read_session(), rule_id)
    except svc.NotFound as exc:
        return True, dbc.Alert(str(exc), color="danger", className="mb-0"), None
    return (True, [html.P(["“", html.Strong(name), "” stops being checked."]),
                   html.P("Its past alerts stay in the history.", className="text-muted mb-0")], rule_id)


@secure_callback(
    Perm.MANAGE_ALERTS,
    Output("alert-delete", "is_open", allow_duplicate=True),
    Output("alerts-status", "children", allow_duplicate=True),
    Output("alerts-version", "data", allow_duplicate=True),
    Input("alert-delete-confirm", "n_clicks"), Input("alert-delete-cancel", "n_clicks"),
    State("alert-delete-rule", "data"), State("alerts-version", "data"),
    prevent_initial_call=True,
)
def confirm_delete(confirm, _cancel, rule, version):
    if ctx.triggered_id != "alert-delete-confirm" or not confirm:
        return False, no_update, no_update
    if rule is None:
        return False, _note("That rule no longer exists.", "danger"), _bump(version)
    user = user_or_none()
    _, error = _write(lambda s: svc.delete_rule(s, rule, actor=user.email, actor_id=user.id))
    if error:
        return False, _note(error, "danger"), _bump(version)
    return False, _note("Rule deleted; its past alerts stay in the history."), _bump(version)
