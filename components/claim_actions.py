"""What a person can do on a claim: status buttons, assign-to-me, feedback
on the routing decision and notes. Only the controls the user may use are drawn;
the server checks every action again."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.row_actions import ask_button

NOTE_MAX = 5000
COMMENT_MAX = 2000
BUTTON_COLORS = {"assign_me": "primary", "closed": "success", "in_review": "primary"}
# A pattern-matching id: the card is drawn only for people who may give feedback, and the
# page's refresh callback updates it through an ALL output, which may match nothing.
FEEDBACK_CURRENT_ID = {"type": "claim-feedback-current", "index": 0}


# Closing ends the adjuster's work on the claim and only a manager can undo it: asked first.
CLOSE_CONFIRM = "Close this claim? Only a manager can reopen a closed claim."


# The buttons are redrawn after every change to the claim (callbacks.claim.refresh): they ask
# through the card's "claim-ask" store (components.row_actions), not with Dash ids of their own.
ASK_STORE = "claim-ask"


def _action_button(a):
    look = dict(color=BUTTON_COLORS.get(a.key, "secondary"), outline=a.key not in BUTTON_COLORS,
                className="me-2 mb-2 claim-action-btn")
    if a.key == "closed":
        return ask_button(a.label, ASK_STORE, {"action": a.key}, confirm=CLOSE_CONFIRM, id="claim-close-button",
                          **look)
    return ask_button(a.label, ASK_STORE, {"action": a.key}, **look)


def status_buttons(actions: list, status_label: str, adjuster: str | None,
                   why_none: str = "Nothing you can change on this claim right now.",
                   note: str | None = None) -> html.Div:
    """``why_none``: shown instead of buttons when there are none, saying why; ``note``: what
    the buttons cannot do here and who can (e.g. routing a claim out of Triage)."""
    buttons = [_action_button(a) for a in actions]
    return html.Div([
        html.Div([html.Span("Status ", className="text-muted"), html.Span(status_label, className="fw-semibold"),
                  html.Span(" · ", className="text-muted"),
                  html.Span(adjuster or "Unassigned", className="fw-semibold" if adjuster else "text-muted")],
                 className="mb-2"),
        html.Div(buttons) if buttons else html.P(why_none, className="small text-muted mb-0",
                                                 id="claim-actions-none"),
        html.P(note, className="small text-muted mb-0 mt-1", id="claim-actions-note") if note else None,
    ])


def action_card(body) -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H5("Work on this claim", className="card-title"),
        dcc.Store(id=ASK_STORE),
        html.Div(body, id="claim-actions-body"),
        html.Div(id="claim-action-msg", className="mt-2"),
    ]), className="shadow-sm mb-4")


def verdict_text(verdict: dict | None) -> html.Div:
    if not verdict:
        return html.Div("You have not given feedback on this decision yet.", className="small text-muted")
    if verdict["agrees"]:
        head = "You agreed with this routing"
    else:
        head = f"You disagreed: {verdict['reason']}"
        if verdict.get("suggested"):
            head += f" (suggested {verdict['suggested']})"
    return html.Div([html.Span(head, className="fw-semibold"),
                     html.Span(f" · {verdict['at']}", className="text-muted"),
                     html.Div(verdict["comment"], className="mt-1", style={"whiteSpace": "pre-wrap"})
                     if verdict.get("comment") else None],
                    className="small", id="feedback-verdict")


def feedback_card(reasons: dict[str, str], departments: list[tuple[str, str]], current, can_give: bool) -> dbc.Card:
    """``current``: the user's verdict as rendered by ``verdict_text``."""
    body = [html.H5("Was this routing right?", className="card-title"),
            html.Div(current, id=FEEDBACK_CURRENT_ID, className="mb-3 claim-feedback-current")]
    if can_give:
        body += [
            dbc.RadioItems(id="fb-verdict", options=[{"label": "Agree", "value": "agree"},
                                                     {"label": "Disagree", "value": "disagree"}],
                           value=None, inline=True, className="mb-2"),
            dbc.Label("Reason (needed when you disagree)", html_for="fb-reason", className="small mb-1"),
            dcc.Dropdown(id="fb-reason", options=[{"label": v, "value": k} for k, v in reasons.items()],
                         placeholder="Choose a reason", className="mb-2"),
            dbc.Label("Department it should go to (optional)", html_for="fb-suggested", className="small mb-1"),
            dcc.Dropdown(id="fb-suggested", options=[{"label": n, "value": c} for c, n in departments],
                         placeholder="Suggest a department", className="mb-2"),
            dbc.Textarea(id="fb-comment", placeholder="Comment (optional)", maxLength=COMMENT_MAX, rows=2,
                         className="mb-2"),
            dbc.Button("Send feedback", id="fb-submit", n_clicks=0, color="primary", size="sm"),
            html.Div(id="fb-msg", className="mt-2"),
        ]
    return dbc.Card(dbc.CardBody(body), className="shadow-sm mb-4")


def notes_card() -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H5("Add a note", className="card-title"),
        dbc.Textarea(id="note-text", placeholder="What happened, what you asked for, what you decided…",
                     maxLength=NOTE_MAX, rows=3, className="mb-2"),
        dbc.Button("Add note", id="note-submit", n_clicks=0, color="secondary", size="sm"),
        html.Div(id="note-msg", className="mt-2"),
    ]), className="shadow-sm mb-4")


def flash(text: str, color: str = "success") -> dbc.Alert:
    return dbc.Alert(text, color=color, className="py-2 px-3 mb-0 small", dismissable=True)
