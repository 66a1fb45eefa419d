"""The signed-in user's own account: name, email, password, sessions, MFA, email notifications."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.passwords import MAX_LENGTH, MIN_LENGTH
from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed, page_header, stat
from db.flask_db import read_session
from services.accounts import ROLE_LABELS, profile
from services.notifications import SEVERITY_CHOICES, settings_for

dash.register_page(__name__, path="/profile", title="Your profile · SCOPE Assistant", name="Profile")


def _when(value, never: str = "never") -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else never


def _password_input(id_: str, label: str, autocomplete: str, hint: str | None = None):
    return html.Div([
        dbc.Label(label, html_for=id_, className="small fw-semibold mb-1"),
        dbc.Input(id=id_, type="password", maxLength=MAX_LENGTH, autocomplete=autocomplete),
        dbc.FormText(hint) if hint else None,
    ], className="mb-3")


def email_block(info: dict):
    verified = (dbc.Badge("verified", color="success", className="ms-2", id="profile-email-verified")
                if info["email_verified"] else
                dbc.Badge("not verified", color="warning", text_color="dark", className="ms-2",
                          id="profile-email-verified"))
    resend = None if info["email_verified"] else dbc.Button(
        "Send the verification link again", id="profile-verify-send", color="link", size="sm",
        className="p-0 ms-2", n_clicks=0)
    return html.Div([html.Span(info["email"], id="profile-email"), verified, resend])


def mfa_block(info: dict):
    status = info["mfa"]
    if status["enrolled"]:
        text = [dbc.Badge("on", color="success", className="me-2"),
                f"since {_when(status['enrolled_at'])} · {status['recovery_codes_left']} recovery codes left"]
    else:
        text = [dbc.Badge("off", color="secondary", className="me-2"),
                "required for your role" if info["mfa_required"] else "optional for your role"]
    return html.Div([html.Span(text, id="profile-mfa-status"),
                     html.A("Manage two-step sign-in", href="/mfa/setup", className="ms-3 small",
                            id="profile-mfa-link")])


def departments_text(info: dict) -> str:
    own = ", ".join(info["departments"])
    if info.get("all_departments"):
        # Managers and viewers see every queue whatever their own department list says.
        return f"All departments (your role sees every queue){'; own: ' + own if own else ''}"
    return own or "None yet: ask an administrator to add you to a department"


def summary_card(info: dict, tokens: bool = False):
    """``tokens``: the user may keep API tokens (the only other link to them is on New claim)."""
    return dbc.Card(dbc.CardBody([
        dbc.Row([
            dbc.Col(stat("Role", ROLE_LABELS.get(info["role"], info["role"])), md=3),
            dbc.Col(stat("Signed-in sessions", info["sessions"], "this one included"), md=3),
            dbc.Col(stat("Last sign-in", _when(info["last_login_at"])), md=3),
            dbc.Col(stat("Password changed", _when(info["password_changed_at"], "not recorded")), md=3),
        ], className="mb-3"),
        html.Dl([
            html.Dt("Email", className="col-sm-3"), html.Dd(email_block(info), className="col-sm-9"),
            html.Dt("Departments", className="col-sm-3"),
            html.Dd(departments_text(info), className="col-sm-9", id="profile-departments"),
            html.Dt("Two-step sign-in", className="col-sm-3"), html.Dd(mfa_block(info), className="col-sm-9"),
            *([html.Dt("API tokens", className="col-sm-3"),
               html.Dd(["For other systems that call SCOPE as you. ",
                        dcc.Link("Manage API tokens", href="/tokens", className="small", id="profile-tokens-link")],
                       className="col-sm-9")] if tokens else []),
        ], className="row facts mb-0"),
        html.Div(id="profile-verify-status", className="small mt-2"),
    ]), className="shadow-sm mb-4", id="profile-summary")


def _pref_id(field: str) -> dict:
    # Pattern-matching ids: a role sees only its kinds, and a State naming a missing component
    # would break the save button, so the callback reads whichever of these the page holds.
    return {"type": "notify-pref", "field": field}


def notifications_card(info: dict, settings: dict):
    """The kinds the role may get (the server checks again), each on or off."""
    prefs, sections = settings["prefs"], []
    if settings["alerts"]:
        sections.append(html.Div([
            html.H6("Alerts", className="mb-2"),
            dbc.Switch(id=_pref_id("alert_emails"), value=prefs["alert_emails"],
                       label="Email me when an alert opens", className="mb-2"),
            dbc.Label("Which alerts", className="small fw-semibold mb-1"),
            dbc.RadioItems(id=_pref_id("alert_min_severity"), value=prefs["alert_min_severity"],
                           options=[{"label": label, "value": value} for value, label in SEVERITY_CHOICES],
                           className="mb-2 notify-severity"),
            dbc.Switch(id=_pref_id("alert_resolved"), value=prefs["alert_resolved"],
                       label="Also when it resolves", className="mb-1"),
            dbc.FormText("Rules are checked every 5 minutes; one email per alert, with its value, threshold "
                         "and a link to Alerts."),
        ], className="mb-3", id="profile-notify-alerts"))
    if settings["siu"]:
        sections.append(html.Div([
            html.H6("SIU tasks", className="mb-2"),
            dbc.Switch(id=_pref_id("siu_digest"), value=prefs["siu_digest"],
                       label="Morning digest of my tasks due today or overdue", className="mb-1"),
            dbc.FormText("At 07:00 UTC, only on days when a task of yours is due, with a link to each case."),
        ], className="mb-3", id="profile-notify-siu"))
    if settings["claims"]:
        sections.append(html.Div([
            html.H6("Your claims", className="mb-2"),
            dbc.Switch(id=_pref_id("claims_assigned"), value=prefs["claims_assigned"],
                       label="Email me claims someone else assigns to me", className="mb-1"),
            dbc.FormText("Checked every 10 minutes: one email per batch, listing each claim with who assigned it "
                         "and why. Not for claims you take yourself.", className="d-block mb-2"),
            dbc.Switch(id=_pref_id("overdue_digest"), value=prefs["overdue_digest"],
                       label="Morning digest of my claims past their service level", className="mb-1"),
            dbc.FormText("At 07:05 UTC, only on days when claims of yours are past it (the red report dates on "
                         "My work), oldest first.", className="d-block"),
        ], className="mb-3", id="profile-notify-claims"))
    if settings["kpi"]:
        sections.append(html.Div([
            html.H6("Dashboard", className="mb-2"),
            dbc.Switch(id=_pref_id("kpi_weekly"), value=prefs["kpi_weekly"], label="Weekly summary",
                       className="mb-1"),
            dbc.FormText("Mondays at 07:10 UTC: last week's dashboard figures against the week before, with what "
                         "moved most and links to the dashboard and the printable report.", className="d-block"),
        ], className="mb-3", id="profile-notify-kpi"))
    if not sections:
        body = [html.P("Your role gets no email notifications: alert emails go to those who read Alerts, the "
                       "SIU task digest to those who work SIU cases, emails about claims to those who hold "
                       "them, and the weekly summary to those who read the dashboard.",
                       className="small text-muted mb-0", id="profile-notify-none")]
    else:
        unverified = None if settings["verified"] else dbc.Alert(
            "Your address is not verified, so nothing is emailed until you follow the verification link "
            "(you can send it again above).", color="warning", className="py-2 px-3 small",
            id="profile-notify-unverified")
        body = [html.P(f"Sent to {info['email']}.", className="small text-muted"), unverified,
                dbc.Row([dbc.Col(section, md=6) for section in sections]),
                dbc.Button("Save notification settings", id="profile-notify-save", color="primary", n_clicks=0),
                html.Div(id="profile-notify-status", className="small mt-3")]
    return dbc.Card(dbc.CardBody([html.H5("Email notifications", className="card-title"), *body]),
                    className="shadow-sm mb-4", id="profile-notify")


def layout(**_query):
    user = page_user(Perm.MANAGE_OWN_ACCOUNT, __name__)
    if user is None:
        return not_allowed()
    info = profile(read_session(), user.id)
    notify = notifications_card(info, settings_for(read_session(), user))
    name_card = dbc.Card(dbc.CardBody([
        html.H5("Your name", className="card-title"),
        dbc.Label("Name colleagues see", html_for="profile-name", className="small fw-semibold mb-1"),
        dbc.InputGroup([dbc.Input(id="profile-name", value=info["name"], maxLength=120),
                        dbc.Button("Save", id="profile-name-save", color="primary", n_clicks=0)]),
        html.Div(id="profile-name-status", className="small mt-2"),
    ]), className="shadow-sm mb-4")
    password_card = dbc.Card(dbc.CardBody([
        html.H5("Change your password", className="card-title"),
        html.P("Every other signed-in session ends, and outstanding reset links stop working.",
               className="small text-muted"),
        _password_input("profile-current-password", "Current password", "current-password"),
        _password_input("profile-new-password", "New password", "new-password",
                        f"{MIN_LENGTH} to {MAX_LENGTH} characters, not a common password. A few unrelated words "
                        "work well."),
        _password_input("profile-confirm-password", "Repeat the new password", "new-password"),
        dbc.Button("Change password", id="profile-password-save", color="primary", n_clicks=0),
        html.Div(id="profile-password-status", className="small mt-3"),
    ]), className="shadow-sm h-100")
    email_card = dbc.Card(dbc.CardBody([
        html.H5("Change your email address", className="card-title"),
        html.P("We send a verification link to the new address and tell the old one.", className="small text-muted"),
        html.Div([dbc.Label("New email address", html_for="profile-new-email", className="small fw-semibold mb-1"),
                  dbc.Input(id="profile-new-email", type="email", maxLength=254, autocomplete="email")],
                 className="mb-3"),
        _password_input("profile-email-password", "Current password", "current-password",
                        "Changing your address needs your password."),
        dbc.Button("Change email", id="profile-email-save", color="primary", n_clicks=0),
        html.Div(id="profile-email-status", className="small mt-3"),
    ]), className="shadow-sm")
    return html.Div([
        page_header("Your profile", info["email"]),
        summary_card(info, tokens=user.can(Perm.MANAGE_OWN_TOKENS)),
        dbc.Row([dbc.Col([name_card, email_card], lg=6, className="mb-4"),
                 dbc.Col(password_card, lg=6, className="mb-4")]),
        notify,
    ])
