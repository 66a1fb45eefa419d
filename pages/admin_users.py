"""Admin: users. List and search, invite or create, change role and departments,
deactivate or reactivate, reset MFA, resend an invitation."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.passwords import MAX_LENGTH, MIN_LENGTH
from auth.guard import page_user
from auth.permissions import ROLES, Perm, role_has
from components.common import dept_badge, not_allowed, page_header
from components.row_actions import ask_button
from db.flask_db import read_session
from services.accounts import LIST_LIMIT, ROLE_LABELS, STATUSES, list_users
from services.departments import all_departments

dash.register_page(__name__, path="/admin/users", title="Users · SCOPE Assistant", name="Users")

STATUS_COLORS = {"active": "success", "invited": "info", "deactivated": "secondary"}
MFA_ROLES = ("admin", "manager")
# The list is redrawn at each search and change: "Manage" asks through this store
# (components.row_actions), the rows' own ids were posted, every one, at each redraw.
MANAGE_ASK = "user-manage-ask"


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


def role_options():
    return [{"label": ROLE_LABELS[r], "value": r} for r in ROLES]


def department_options(session) -> list[dict]:
    return [{"label": d.name, "value": d.code} for d in all_departments(session)]


def _mfa_cell(user: dict):
    if user["mfa_enrolled"]:
        return dbc.Badge("on", color="success", className="mfa-on")
    if user["role"] in MFA_ROLES:
        return dbc.Badge("not set up · required", color="warning", text_color="dark")
    return html.Span("off", className="text-muted small")


def _status_cell(user: dict):
    badges = [dbc.Badge(user["status"], color=STATUS_COLORS[user["status"]], className="me-1 user-status")]
    if user.get("sso"):  # no password of their own: they sign in through the identity provider
        badges.append(dbc.Badge("single sign-on", color="light", text_color="dark", className="me-1 user-sso"))
    if user["status"] == "invited" and user["invite_expires_at"] is None:
        badges.append(dbc.Badge("invitation expired", color="danger", className="me-1"))
    if user["status"] != "invited" and not user["email_verified"]:
        badges.append(dbc.Badge("email unverified", color="warning", text_color="dark"))
    return badges


def users_table(users: list[dict], me_id: int | None = None):
    if not users:
        return html.P("No user matches these filters.", className="text-muted mb-0", id="users-empty")
    head = html.Thead(html.Tr([html.Th(h) for h in ("User", "Role", "Departments", "Status", "MFA", "Last sign-in",
                                                    "")]))
    rows = []
    for u in users:
        you = dbc.Badge("you", color="light", text_color="dark", className="ms-1") if u["id"] == me_id else None
        rows.append(html.Tr([
            html.Td([html.Div([html.Strong(u["name"] or "—"), you]),
                     html.Div(u["email"], className="small text-muted user-email")]),
            html.Td(ROLE_LABELS.get(u["role"], u["role"])),
            html.Td([html.Span(dept_badge(d["name"], d["color"]), className="me-1 d-inline-block mb-1")
                     for d in u["departments"]] or
                    html.Span("all" if role_has(u["role"], Perm.VIEW_ALL_DEPARTMENTS) else "none",
                              className="text-muted small"), className="dept-cell"),
            html.Td(_status_cell(u)),
            html.Td(_mfa_cell(u)),
            html.Td(_when(u["last_login_at"]), className="small"),
            html.Td(ask_button("Manage", MANAGE_ASK, {"id": u["id"]}, outline=True), className="text-end"),
        ], className="user-row text-muted" if u["status"] == "deactivated" else "user-row",
            **{"data-email": u["email"]}))
    table = dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, className="mb-0 align-middle",
                      id="users-table")
    return html.Div([table, count_note(len(users))])


def count_note(shown: int):
    """How many are listed, and that the list stops at LIST_LIMIT (the newest first), so an
    admin looking for an older account searches instead of concluding it does not exist."""
    if shown >= LIST_LIMIT:
        return html.P(f"Showing the {LIST_LIMIT:,} newest accounts only: search by name or email, or filter, "
                      "to find the others.", className="small text-warning-emphasis mt-2 mb-0", id="users-count")
    return html.P(f"{shown:,} account{'' if shown == 1 else 's'}.", className="small text-muted mt-2 mb-0",
                  id="users-count")


def _field(label: str, control, html_for: str | None = None, width: int = 6, hint: str | None = None):
    return dbc.Col([dbc.Label(label, html_for=html_for, className="small fw-semibold mb-1"), control,
                    dbc.FormText(hint) if hint else None], md=width, className="mb-3")


def invite_card(dept_options: list[dict]):
    return dbc.Card(dbc.CardBody([
        html.H5("Add a user", className="card-title"),
        dbc.RadioItems(id="user-new-mode", inline=True, value="invite", className="mb-3", options=[
            {"label": "Invite by email (they choose their password)", "value": "invite"},
            {"label": "Create with a password", "value": "create"}]),
        dbc.Row([
            _field("Email", dbc.Input(id="user-new-email", type="email", maxLength=254,
                                      placeholder="name@company.com"), "user-new-email", 4),
            _field("Name", dbc.Input(id="user-new-name", maxLength=120, placeholder="optional for invitations"),
                   "user-new-name", 3),
            _field("Role", dcc.Dropdown(id="user-new-role", options=role_options(), value="adjuster",
                                        clearable=False), "user-new-role", 2),
            _field("Departments", dcc.Dropdown(id="user-new-departments", options=dept_options, multi=True,
                                               placeholder="adjusters see these queues"), "user-new-departments", 3),
        ]),
        dbc.Collapse(dbc.Row([
            _field("Password", dbc.Input(id="user-new-password", type="password", maxLength=MAX_LENGTH,
                                         autocomplete="new-password"), "user-new-password", 4,
                   f"{MIN_LENGTH}-{MAX_LENGTH} characters, not a common password."),
            dbc.Col(dbc.Checkbox(id="user-new-verified", value=False,
                                 label="I have checked that this address is theirs (no verification email)"),
                    md=8, className="d-flex align-items-center mb-3"),
        ]), id="user-new-password-row", is_open=False),
        html.Div([dbc.Button("Send invitation", id="user-new-submit", color="primary", n_clicks=0),
                  html.Div(id="user-new-status", className="ms-3 small flex-grow-1")],
                 className="d-flex align-items-center"),
    ]), className="shadow-sm mb-4", id="user-new-card")


def manage_modal(dept_options: list[dict]):
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle(id="user-manage-title")),
        dbc.ModalBody([
            html.Div(id="user-manage-facts", className="small text-muted mb-3"),
            dbc.Row([
                _field("Role", dcc.Dropdown(id="user-manage-role", options=role_options(), clearable=False),
                       "user-manage-role", 5),
                _field("Departments", dcc.Dropdown(id="user-manage-departments", options=dept_options, multi=True),
                       "user-manage-departments", 7),
            ]),
            dbc.Button("Save role and departments", id="user-manage-save", color="primary", size="sm", n_clicks=0),
            html.Hr(),
            html.Div([
                dcc.ConfirmDialogProvider(
                    dbc.Button(id="user-manage-active-button", color="outline-danger", size="sm"),
                    id="user-manage-active", message="Change this account's access now? Deactivation signs them out "
                                                     "everywhere at once."),
                dcc.ConfirmDialogProvider(
                    dbc.Button("Reset MFA", id="user-manage-mfa-button", color="outline-secondary", size="sm"),
                    id="user-manage-mfa", message="Remove this user's authenticator and recovery codes? They set "
                                                  "up two-step sign-in again at their next sign-in."),
                dbc.Button("Resend invitation", id="user-manage-resend", color="outline-secondary", size="sm",
                           n_clicks=0),
            ], className="d-flex gap-2 flex-wrap"),
            html.Div(id="user-manage-status", className="small mt-3"),
        ]),
    ], id="user-manage-modal", is_open=False, size="lg")


def layout(**_query):
    user = page_user(Perm.MANAGE_USERS, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    depts = department_options(session)
    filters = dbc.Row([
        dbc.Col(dbc.Input(id="users-search", type="search", placeholder="Search name or email", debounce=True,
                          maxLength=100), md=5),
        dbc.Col(dcc.Dropdown(id="users-role", placeholder="Any role", options=role_options()), md=3),
        dbc.Col(dcc.Dropdown(id="users-status", placeholder="Any status",
                             options=[{"label": s.capitalize(), "value": s} for s in STATUSES]), md=3),
    ], className="g-2 mb-3")
    listing = dbc.Card(dbc.CardBody([
        filters,
        html.Div(users_table(list_users(session), user.id), id="users-list"),
    ]), className="shadow-sm mb-4")
    return html.Div([
        page_header("Users", "Who can sign in, with which role and departments."),
        invite_card(depts), listing, manage_modal(depts),
        dcc.Store(id="users-version", data=0), dcc.Store(id="user-manage-id"), dcc.Store(id=MANAGE_ASK),
    ])
