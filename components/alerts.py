"""Threshold alert pieces: banners, the rules table, open alerts and history,
from plain rows (``services.alerts`` views), never a session."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.common import dept_badge
from components.row_actions import ask_button
from components.kpis import fmt
from services.alerts import MIN_RATE_SAMPLE, RATE_DENOMINATORS

# The rules and alerts are redrawn after every change and filter: their buttons ask through the
# page's stores (components.row_actions); buttons with ids of their own were posted, every one,
# at each redraw (and Enable/Disable, whose id lacked the "enable" its callback matched, did nothing).
EDIT_ASK, TOGGLE_ASK, DELETE_ASK, ACK_ASK = "alert-edit-ask", "alert-toggle-ask", "alert-delete-ask", "alert-ack-ask"
# One of them at a time: an Edit pressed while a Delete was asked opened the editor and the delete
# dialog together, and Enable/Disable and Acknowledge share one callback (and redraw both lists).
ASK_GROUP = "alerts"
SEVERITY_COLORS = {"critical": "danger", "warning": "warning", "info": "info"}
PERIOD_WORDS = {"today": "today", "this_week": "this week", "last_7_days": "last 7 days",
                "this_month": "this month"}


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def severity_badge(severity: str) -> dbc.Badge:
    color = SEVERITY_COLORS.get(severity, "secondary")
    return dbc.Badge(severity.capitalize(), color=color, text_color="dark" if color == "warning" else None,
                     className="alert-severity")


def scope_cell(name: str | None, color: str | None):
    return dept_badge(name, color or "#6c757d") if name else html.Span("All departments", className="text-muted")


# ``currency``: the deployment's code, needed only by money metrics (kpis.fmt refuses money without it).
def threshold_text(value: float, kind: str, currency: str | None = None) -> str:
    """Thresholds as people type them: 5%, 7.5%, 5,000 (no trailing .0)."""
    if kind == "pct":
        return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"
    if kind == "days":
        return f"{value:,.1f}".rstrip("0").rstrip(".") + " d"
    return fmt(value, kind, currency)


NOW = " (now)"  # the label of a metric of the open claims as they are now (services.alerts.NOW_METRICS)


def _label_and_when(metric_label: str, period: str) -> tuple[str, str]:
    if metric_label.endswith(NOW):
        return metric_label.removesuffix(NOW), "now"
    return metric_label, PERIOD_WORDS.get(period, period)


def condition(metric_label: str, comparison: str, threshold: float, kind: str, period: str,
              currency: str | None = None) -> str:
    label, when = _label_and_when(metric_label, period)
    return f"{label} {comparison} {threshold_text(threshold, kind, currency)} · {when}"


def _sentence(e, currency: str | None) -> str:
    where = f" in {e.department_name}" if e.department_name else ""
    label, when = _label_and_when(e.metric_label, e.period)
    return (f"{label} is {fmt(e.last_value, e.kind, currency)} {when}{where} "
            f"({e.comparison} the {threshold_text(e.threshold, e.kind, currency)} threshold)")


def banners(events, total: int, currency: str | None = None) -> list:
    """One dismissible banner per unacknowledged open alert (worst first)."""
    out = []
    for e in events:
        out.append(dbc.Alert([
            html.Span(severity_badge(e.severity), className="me-2"),
            html.Strong(e.rule_name, className="me-2"),
            html.Span(_sentence(e, currency), className="me-2"),
            html.Span(f"since {_when(e.opened_at)} UTC", className="small text-body-secondary me-3"),
            dcc.Link("Review alerts →", href="/alerts", className="alert-link"),
        ], color=SEVERITY_COLORS.get(e.severity, "secondary"), dismissable=True,
            className=f"alert-banner alert-banner-{e.severity} py-2 mb-2 d-flex align-items-center flex-wrap"))
    if total > len(events):
        out.append(html.Div(dcc.Link(f"and {total - len(events)} more open alerts →", href="/alerts"),
                            className="small mb-2 alert-banner-more"))
    return out


def rules_table(rules, can_edit: bool, currency: str | None = None):
    if not rules:
        return html.P("No rules yet." + (" Create one with “New rule”." if can_edit else ""),
                      className="text-muted mb-0")
    head = ["Rule", "Scope", "Severity", "Now", "State"] + ([""] if can_edit else [])
    rows = []
    for r in rules:
        if not r.enabled:
            state = dbc.Badge("Off", color="light", text_color="secondary")
        elif r.breaching:
            state = dbc.Badge("Breaching", color=SEVERITY_COLORS.get(r.severity, "danger"),
                              text_color="dark" if r.severity == "warning" else None)
        elif r.last_checked_at is None:
            state = html.Span("not checked yet", className="small text-muted")
        elif r.last_value is None:
            # Say when: "this week" on a Monday morning has no claims yet, which read as a fault.
            when = _label_and_when(r.metric_label, r.period)[1]
            when = {"last 7 days": "in the last 7 days", "now": "now"}.get(when, f"{when} yet")
            if r.metric in RATE_DENOMINATORS:
                state = html.Span(f"too little to measure {when}", className="small text-muted",
                                  title=f"Fewer than {MIN_RATE_SAMPLE} claims (for agreement, feedback) behind this "
                                        "rate in its period: the rule cannot breach until there are more.")
            else:
                state = html.Span(f"nothing to measure {when}", className="small text-muted",
                                  title="No claims behind this figure in its period (for cycle times: none "
                                        "closed); the rule cannot breach until there are.")
        else:
            state = dbc.Badge("OK", color="success")
        cells = [
            (html.Div([html.Div(r.name, className="fw-semibold"),
                       html.Div(condition(r.metric_label, r.comparison, r.threshold, r.kind, r.period, currency),
                                className="small text-muted")]), None),
            (scope_cell(r.department_name, r.department_color), "text-nowrap"),
            (severity_badge(r.severity), None),
            (fmt(r.last_value, r.kind, currency) if r.last_checked_at else "—", "text-end text-nowrap"),
            (state, None),
        ]
        if can_edit:
            cells.append((html.Div([
                ask_button("Edit", EDIT_ASK, {"id": r.id}, outline=True, group=ASK_GROUP, className="me-1"),
                ask_button("Disable" if r.enabled else "Enable", TOGGLE_ASK, {"id": r.id, "enable": not r.enabled},
                           color="secondary", outline=True, group=ASK_GROUP, className="me-1"),
                ask_button("Delete", DELETE_ASK, {"id": r.id}, color="danger", outline=True, group=ASK_GROUP),
            ], className="d-flex justify-content-end"), "text-nowrap"))
        # data-label: on a phone each rule is a block of labelled lines (assets/10-scope.css .stack-on-phone)
        cells = [html.Td(v, className=c, **{"data-label": label}) for (v, c), label in zip(cells, ["", *head[1:]])]
        rows.append(html.Tr(cells, className="alert-rule-row" + ("" if r.enabled else " text-muted"),
                            **{"data-rule": str(r.id)}))
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], hover=True,
                     responsive=True, className="mb-0 align-middle stack-on-phone", id="alerts-rules-table")


def open_alerts(events, can_ack: bool, currency: str | None = None, *, checked_at=None, enabled: int = 1):
    """The open alerts; with none, when the rules were last checked (``checked_at``: the
    latest check of an enabled rule), since "nothing breached" means nothing before one."""
    if not events:
        if not enabled:
            text, mark = "No rule is enabled, so nothing is watched.", None
        elif checked_at is None:
            text, mark = "Not checked yet: the rules are checked every 5 minutes by the evaluate_alerts job.", None
        else:
            text, mark = f"No rule is breached (checked {_when(checked_at)} UTC).", "✓"
        return html.Div([html.Span(mark, className="text-success fw-bold me-2") if mark else None, text],
                        className="text-muted", id="alerts-none-open")
    items = []
    for e in events:
        if e.acknowledged_at:
            ack = html.Span(f"Acknowledged by {e.acknowledged_by} at {_when(e.acknowledged_at)}",
                            className="small text-muted")
        elif can_ack:
            ack = ask_button("Acknowledge", ACK_ASK, {"id": e.id}, color="dark", outline=True, group=ASK_GROUP)
        else:
            ack = html.Span("Not acknowledged", className="small text-muted")
        items.append(dbc.ListGroupItem(html.Div([
            html.Div([
                html.Div([severity_badge(e.severity), html.Strong(e.rule_name, className="ms-2")]),
                html.Div(_sentence(e, currency), className="small mt-1"),
                html.Div(f"Open since {_when(e.opened_at)} UTC · value then {fmt(e.opened_value, e.kind, currency)} · "
                         f"{'highest' if e.comparison == 'above' else 'lowest'} "
                         f"{fmt(e.worst_value, e.kind, currency)} · "
                         f"period {e.period_start} – {e.period_end}", className="small text-muted"),
            ]),
            html.Div(ack, className="ms-3 text-end"),
        ], className="d-flex justify-content-between align-items-center", **{"data-event": str(e.id)}),
            className="alert-open-item"))
    return dbc.ListGroup(items, flush=True, id="alerts-open-list")


def history_table(events, currency: str | None = None):
    if not events:
        return html.P("No alerts match these filters.", className="text-muted mb-0")
    head = ("Opened (UTC)", "Resolved (UTC)", "Rule", "Severity", "Value at open", "Last value", "Threshold",
            "Scope", "Acknowledged")
    rows = [html.Tr([
        html.Td(_when(e.opened_at), className="small text-nowrap"),
        html.Td(html.Span(_when(e.resolved_at), title=e.resolution or "") if e.resolved_at
                else dbc.Badge("open", color="danger"), className="small text-nowrap"),
        html.Td([html.Div(e.rule_name), html.Div(e.resolution or "", className="small text-muted")]),
        html.Td(severity_badge(e.severity)),
        html.Td(fmt(e.opened_value, e.kind, currency), className="text-end"),
        html.Td(fmt(e.last_value, e.kind, currency), className="text-end"),
        html.Td(f"{e.comparison} {threshold_text(e.threshold, e.kind, currency)}", className="text-nowrap"),
        html.Td(scope_cell(e.department_name, e.department_color), className="text-nowrap"),
        html.Td(f"{e.acknowledged_by} · {_when(e.acknowledged_at)}" if e.acknowledged_at else "—",
                className="small"),
    ], className="alert-history-row", **{"data-severity": e.severity}) for e in events]
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], hover=True,
                     responsive=True, size="sm", className="mb-0 align-middle", id="alerts-history-table")
