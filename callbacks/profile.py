"""Profile page: the signed-in user changes their own account. The user id
always comes from the server-side session, never from the browser."""
from __future__ import annotations

import logging

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, no_update
from flask import current_app, request

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from auth.sessions import current_session_id
from db.flask_db import WriteConflict, WriteFailed, unit_of_work
from services import accounts, mail, notifications
from services.access import AccessDenied
from services.notification_mail import SEVERITY_WORDS

SAVE_FAILED = "Nothing was saved: the database refused the change. Try again."

log = logging.getLogger(__name__)


def _settings():
    return current_app.config["SCOPE_SETTINGS"]


def _alert(text: str, color: str):
    return dbc.Alert(text, color=color, className="py-2 px-3 mb-0 small")


def _sent(done: str, mails: list[mail.Mail]):
    errors = mail.send_all(_settings(), mails)
    return _alert(f"{done} But the email was not sent: {errors[0]}", "warning") if errors else _alert(done, "success")


@secure_callback(
    Perm.MANAGE_OWN_ACCOUNT,
    Output("profile-name-status", "children"),
    Input("profile-name-save", "n_clicks"),
    State("profile-name", "value"),
    prevent_initial_call=True,
)
def save_name(_n, name):
    try:
        with unit_of_work() as session:
            user = accounts.change_name(session, user_or_none().id, name)
            saved = user.name
    except accounts.AccountError as exc:
        return _alert(str(exc), "danger")
    except (WriteConflict, WriteFailed):
        return _alert(SAVE_FAILED, "danger")
    return _alert(f"Saved. Colleagues now see “{saved}”.", "success")


def _count_failure() -> None:
    """The wrong password counts toward the lockout after the change itself rolled back."""
    try:
        with unit_of_work() as session:
            accounts.register_reauthentication_failure(session, user_or_none().id, ip=request.remote_addr)
    except (WriteConflict, WriteFailed):
        log.warning("a wrong current password on the profile page was not counted", exc_info=True)


@secure_callback(
    Perm.MANAGE_OWN_ACCOUNT,
    Output("profile-password-status", "children"),
    Output("profile-current-password", "value"),
    Output("profile-new-password", "value"),
    Output("profile-confirm-password", "value"),
    Input("profile-password-save", "n_clicks"),
    State("profile-current-password", "value"),
    State("profile-new-password", "value"),
    State("profile-confirm-password", "value"),
    prevent_initial_call=True,
)
def change_password(_n, current, new, confirm):
    if not isinstance(new, str) or new != confirm:
        return _alert("The two new passwords are not the same.", "danger"), no_update, "", ""
    try:
        with unit_of_work() as session:
            ended, mails = accounts.change_password(session, user_or_none().id, current_password=current,
                                                    new_password=new, session_id=current_session_id(),
                                                    ip=request.remote_addr)
    except accounts.ReauthenticationFailed as exc:
        _count_failure()
        return _alert(str(exc), "danger"), "", "", ""
    except accounts.AccountError as exc:
        return _alert(str(exc), "danger"), "", "", ""
    except (WriteConflict, WriteFailed):
        return _alert(SAVE_FAILED, "danger"), "", "", ""
    others = f"{ended} other session{'s' if ended != 1 else ''} signed out." if ended else "No other session was open."
    return _sent(f"Password changed. {others}", mails), "", "", ""


@secure_callback(
    Perm.MANAGE_OWN_ACCOUNT,
    Output("profile-email-status", "children"),
    Output("profile-email-password", "value"),
    Input("profile-email-save", "n_clicks"),
    State("profile-new-email", "value"),
    State("profile-email-password", "value"),
    prevent_initial_call=True,
)
def change_email(_n, new_email, current):
    try:
        with unit_of_work() as session:
            user, mails = accounts.change_email(session, user_or_none().id, current_password=current,
                                                new_email=new_email, base_url=_settings().base_url,
                                                ip=request.remote_addr)
            email = user.email
    except accounts.ReauthenticationFailed as exc:
        _count_failure()
        return _alert(str(exc), "danger"), ""
    except accounts.AccountError as exc:
        return _alert(str(exc), "danger"), ""
    except (WriteConflict, WriteFailed):
        return _alert(SAVE_FAILED, "danger"), ""
    return _sent(f"Your address is now {email}. Follow the link we sent there to verify it.", mails), ""


@secure_callback(
    Perm.MANAGE_OWN_ACCOUNT,
    Output("profile-verify-status", "children"),
    Input("profile-verify-send", "n_clicks"),
    prevent_initial_call=True,
)
def send_verification(n):
    if not isinstance(n, int) or n < 1:
        return no_update
    try:
        with unit_of_work() as session:
            mails = accounts.send_verification(session, user_or_none().id, base_url=_settings().base_url)
    except accounts.AccountError as exc:
        return _alert(str(exc), "info")
    except (WriteConflict, WriteFailed):
        return _alert(SAVE_FAILED, "danger")
    return _sent("A new verification link is on its way.", mails)


def _notify_choices() -> dict | None:
    """{field: value} of the notification controls the page holds; None when the payload is not
    what the page sends (a field twice, an id that is not one of ours)."""
    groups = ctx.states_list or []
    group = groups[0] if groups and isinstance(groups[0], list) else []
    choices = {}
    for item in group:
        ident = item.get("id") if isinstance(item, dict) else None
        field = ident.get("field") if isinstance(ident, dict) else None
        if not isinstance(field, str) or field not in notifications.FIELDS or field in choices:
            return None
        choices[field] = item.get("value")
    return choices


def _notify_summary(prefs: notifications.Preferences, chosen: dict) -> str:
    parts = []
    if "alert_emails" in chosen:
        if prefs.alert_emails:
            which = SEVERITY_WORDS[prefs.alert_min_severity]
            parts.append(f"emails about {which} when they open{' and resolve' if prefs.alert_resolved else ''}")
        else:
            parts.append("no alert emails")
    if "siu_digest" in chosen:
        parts.append("the SIU task digest on mornings when tasks are due" if prefs.siu_digest
                     else "no SIU task digest")
    if "claims_assigned" in chosen:
        parts.append("emails about claims assigned to you" if prefs.claims_assigned
                     else "no emails about claims assigned to you")
    if "overdue_digest" in chosen:
        parts.append("the digest of your claims past their service level" if prefs.overdue_digest
                     else "no digest of late claims")
    if "kpi_weekly" in chosen:
        parts.append("the weekly summary on Monday mornings" if prefs.kpi_weekly else "no weekly summary")
    return "Saved: you get " + "; ".join(parts) + "."


@secure_callback(
    Perm.MANAGE_OWN_ACCOUNT,
    Output("profile-notify-status", "children"),
    Input("profile-notify-save", "n_clicks"),
    State({"type": "notify-pref", "field": ALL}, "value"),
    prevent_initial_call=True,
)
def save_notifications(n, _values):
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        return no_update
    choices = _notify_choices()
    if choices is None:
        return _alert(notifications.OUT_OF_DATE, "danger")
    try:
        with unit_of_work() as session:
            # The kinds allowed come from the role in the server-side session, never from the page.
            prefs = notifications.save(session, user_or_none(), choices)
    except notifications.NothingChanged as exc:
        return _alert(str(exc), "info")
    except (notifications.NotificationError, AccessDenied) as exc:
        return _alert(str(exc), "danger")
    except (WriteConflict, WriteFailed):
        return _alert(SAVE_FAILED, "danger")
    return _alert(_notify_summary(prefs, choices), "success")
