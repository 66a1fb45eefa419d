"""Admin users page: thin callbacks over services.accounts (admins only).
The selected user id lives in the browser, so the service re-checks it."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from flask import current_app

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.row_actions import asked
from db.flask_db import WriteConflict, WriteFailed, read_session, unit_of_work
from pages.admin_users import MANAGE_ASK, users_table
from services import accounts, mail
from services.account_tokens import TokenInvalid

SAVE_FAILED = "Nothing was saved: the database refused the change. Try again."


def _settings():
    return current_app.config["SCOPE_SETTINGS"]


def _alert(text: str, color: str):
    return dbc.Alert(text, color=color, className="py-2 px-3 mb-0 small", dismissable=False)


def _mail_outcome(done: str, mails: list[mail.Mail], sent: str = "", tail: str = ""):
    """``done`` and ``tail`` are true whatever the mail does; ``sent`` is said only once it went."""
    errors = mail.send_all(_settings(), mails)
    if errors:
        return _alert(f"{done}{tail} But the email was not sent: {errors[0]}", "warning")
    return _alert(done + (sent if mails else "") + tail, "success")


def _bump(version) -> int:
    return (version if isinstance(version, int) and not isinstance(version, bool) else 0) + 1


@secure_callback(
    Perm.MANAGE_USERS,
    Output("user-new-password-row", "is_open"),
    Output("user-new-submit", "children"),
    Input("user-new-mode", "value"),
)
def choose_mode(mode):
    create = mode == "create"
    return create, "Create user" if create else "Send invitation"


@secure_callback(
    Perm.MANAGE_USERS,
    Output("users-list", "children"),
    Input("users-search", "value"),
    Input("users-role", "value"),
    Input("users-status", "value"),
    Input("users-version", "data"),
    prevent_initial_call=True,
)
def refresh(search, role, status, _version):
    try:
        users = accounts.list_users(read_session(), search=search, role=role, status=status)
    except accounts.AccountError as exc:
        return _alert(str(exc), "danger")
    return users_table(users, user_or_none().id)


@secure_callback(
    Perm.MANAGE_USERS,
    Output("user-new-status", "children"),
    Output("users-version", "data"),
    Output("user-new-email", "value"),
    Output("user-new-name", "value"),
    Output("user-new-password", "value"),
    Input("user-new-submit", "n_clicks"),
    State("user-new-mode", "value"),
    State("user-new-email", "value"),
    State("user-new-name", "value"),
    State("user-new-role", "value"),
    State("user-new-departments", "value"),
    State("user-new-password", "value"),
    State("user-new-verified", "value"),
    State("users-version", "data"),
    prevent_initial_call=True,
)
def add_user(n_clicks, mode, email, name, role, departments, password, verified, version):
    actor = user_or_none()
    if mode not in ("invite", "create"):
        return _alert("Choose to invite or to create the user.", "danger"), no_update, no_update, no_update, ""
    try:
        with unit_of_work() as session:
            if mode == "invite":
                user, mails = accounts.invite(session, actor, email=email, name=name, role=role,
                                              departments=departments, base_url=_settings().base_url)
                done, sent = f"Invited {user.email}; the link works for 7 days.", " The invitation was emailed to them."
            else:
                user, mails = accounts.create_direct(session, actor, email=email, name=name, role=role,
                                                     departments=departments, password=password,
                                                     email_verified=verified is True, base_url=_settings().base_url)
                done = f"Created {user.email}." + ("" if mails else " Their address is marked verified.")
                sent = " A verification link was emailed to them."
    except accounts.AccountError as exc:
        return _alert(str(exc), "danger"), no_update, no_update, no_update, ""
    except (WriteConflict, WriteFailed):
        return _alert(SAVE_FAILED, "danger"), no_update, no_update, no_update, ""
    tail = ""
    if user.role == "adjuster" and not departments:
        # Allowed (departments can come later), but such an adjuster sees no claims at all.
        tail = " They have no departments yet, so they see no queues until you add some with Manage."
    return _mail_outcome(done, mails, sent, tail), _bump(version), "", "", ""


def _sessions_ended(n: int) -> str:
    return "no session was open" if not n else f"{n} session{'s' if n != 1 else ''} ended"


def _access_view(u: dict) -> tuple:
    """The modal's facts line, the deactivate/reactivate button (label, colour) and the
    questions asked before it and before Reset MFA, for the user as they are now."""
    facts = [f"{u['email']} · {u['status']}", " · email verified" if u["email_verified"] else " · email unverified",
             " · MFA on" if u["mfa_enrolled"] else " · MFA off",
             # services/oidc.py: the provider's groups set the role again at every sign-in
             " · signs in by single sign-on: the identity provider's groups set their role at each sign-in"
             if u.get("sso") else ""]
    who = u["email"]
    if u["status"] == "deactivated":
        label, color = "Reactivate", "outline-success"
        question = (f"Reactivate {who}? They can sign in again"
                    + (" through single sign-on." if u.get("sso") else " with their password."))
    else:
        label, color = "Deactivate", "outline-danger"
        question = (f"Deactivate {who}? They are signed out everywhere at once, their API tokens and emailed "
                    "links stop working, and they cannot sign in until an admin reactivates them.")
    mfa_question = (f"Remove {who}'s authenticator and recovery codes? They are signed out and set up two-step "
                    "sign-in again at their next sign-in.")
    return facts, label, color, question, mfa_question


@secure_callback(
    Perm.MANAGE_USERS,
    Output("user-manage-modal", "is_open"),
    Output("user-manage-id", "data"),
    Output("user-manage-title", "children"),
    Output("user-manage-facts", "children"),
    Output("user-manage-role", "value"),
    Output("user-manage-departments", "value"),
    Output("user-manage-active-button", "children"),
    Output("user-manage-resend", "disabled"),
    Output("user-manage-status", "children"),
    Output("user-manage-active-button", "color"),
    Output("user-manage-active", "message"),
    Output("user-manage-mfa", "message"),
    Input(MANAGE_ASK, "data"),   # a row's Manage (assets/62-row-actions.js)
    prevent_initial_call=True,
)
def open_manage(ask):
    user_id = asked(ask, "id", int)
    if user_id is None:
        raise PreventUpdate
    try:
        u = accounts.user_summary(read_session(), user_id)
    except accounts.AccountError as exc:
        return (True, None, "Unknown user", None, None, [], "Deactivate", True, _alert(str(exc), "danger"),
                no_update, no_update, no_update)
    facts, label, color, question, mfa_question = _access_view(u)
    return (True, u["id"], u["name"] or u["email"], facts, u["role"], [d["code"] for d in u["departments"]],
            label, u["status"] != "invited", None, color, question, mfa_question)


@secure_callback(
    Perm.MANAGE_USERS,
    Output("user-manage-status", "children", allow_duplicate=True),
    Output("users-version", "data", allow_duplicate=True),
    Output("user-manage-active-button", "children", allow_duplicate=True),
    Output("user-manage-facts", "children", allow_duplicate=True),
    Output("user-manage-active-button", "color", allow_duplicate=True),
    Output("user-manage-active", "message", allow_duplicate=True),
    Input("user-manage-save", "n_clicks"),
    Input("user-manage-active", "submit_n_clicks"),
    Input("user-manage-mfa", "submit_n_clicks"),
    Input("user-manage-resend", "n_clicks"),
    State("user-manage-id", "data"),
    State("user-manage-role", "value"),
    State("user-manage-departments", "value"),
    State("user-manage-active-button", "children"),
    State("users-version", "data"),
    prevent_initial_call=True,
)
def manage(_save, _active, _mfa, _resend, user_id, role, departments, active_label, version):
    actor = user_or_none()
    action = ctx.triggered_id
    unchanged = (no_update,) * 6
    try:
        with unit_of_work() as session:
            if action == "user-manage-save":
                user = accounts.update_access(session, actor, user_id, role=role, departments=departments,
                                              sso=_settings().oidc_enabled)
                outcome = _alert(f"Saved: {user.email} is now {accounts.ROLE_LABELS[user.role]}.", "success")
            elif action == "user-manage-active":
                activate = active_label == "Reactivate"
                user, ended = accounts.set_active(session, actor, user_id, activate, sso=_settings().oidc_enabled)
                outcome = _alert(f"{user.email} can sign in again." if activate else
                                 f"{user.email} is deactivated; {_sessions_ended(ended)}.", "success")
            elif action == "user-manage-mfa":
                had = accounts.reset_user_mfa(session, actor, user_id)
                outcome = _alert("MFA removed: they set it up again at their next sign-in." if had else
                                 "This user had no MFA set up; nothing to reset.", "success" if had else "info")
            elif action == "user-manage-resend":
                user, mails = accounts.resend_invite(session, actor, user_id, base_url=_settings().base_url)
                outcome = None
            else:
                return unchanged
    except (accounts.AccountError, TokenInvalid) as exc:
        return (_alert(str(exc), "danger"),) + unchanged[1:]
    except (WriteConflict, WriteFailed):
        return (_alert(SAVE_FAILED, "danger"),) + unchanged[1:]
    if action == "user-manage-resend":
        outcome = _mail_outcome(f"A new invitation link for {user.email} replaces the old one, which no longer "
                                "works.", mails, " It was emailed to them.")
    # The modal shows the account as it is now (status, MFA, and what the button does next).
    session = read_session()
    session.expire_all()
    facts, label, color, question, _ = _access_view(accounts.user_summary(session, user_id))
    return outcome, _bump(version), label, facts, color, question
