"""The pages behind emailed links and the forgotten-password form. They are
public (the person is not signed in), server-rendered, CSRF-protected and
rate-limited; GET only shows a form, every change is a POST. Emailed tokens
are never logged, and these pages send a Referer only to this site (the
origin check needs it), so a token in the address never leaves it."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, redirect, render_template_string, request

from auth import csrf
from auth import sessions as web_sessions
from auth.current import user_or_none
from auth.limits import limiter, reset_limit
from auth.passwords import MAX_LENGTH, MIN_LENGTH
from db.flask_db import WriteFailed, read_session, unit_of_work
from services import accounts, mail
from services.account_tokens import TokenInvalid

bp = Blueprint("account_forms", __name__)
log = logging.getLogger(__name__)
PATHS = ("/forgot-password", "/reset-password", "/accept-invite", "/verify-email")
RESET_SENT = ("If an account exists for that address, we have sent it a link to choose a new password. "
              "The link works once, for 30 minutes. Check your spam folder if nothing arrives.")

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{{ title }} · SCOPE Assistant</title>
<link rel="stylesheet" href="/assets/00-bootstrap.min.css"><link rel="stylesheet" href="/assets/10-scope.css">
</head><body class="scope-login">
<main class="container"><div class="row justify-content-center"><div class="col-sm-10 col-md-7 col-lg-5">
<div class="card shadow border-0"><div class="card-body p-4">
<div class="scope-brand mb-1">SCOPE <span>Assistant</span></div>
<h1 class="h5 mt-3 mb-3">{{ title }}</h1>
{% if error %}<div class="alert alert-danger py-2 small" role="alert" id="form-error">{{ error }}</div>{% endif %}
{% if notice %}<div class="alert alert-success py-2 small" role="status" id="form-notice">{{ notice }}</div>{% endif %}
__CONTENT__
<p class="small mt-3 mb-0"><a href="/login">Back to sign in</a></p>
</div></div></div></div></main></body></html>"""

_PASSWORD_FIELDS = """
<div class="mb-3"><label class="form-label small" for="password">{{ password_label or "New password" }}</label>
<input class="form-control" id="password" name="password" type="password" autocomplete="new-password"
 minlength="{{ min_length }}" maxlength="{{ max_length }}" required aria-describedby="password-help">
<div id="password-help" class="form-text">{{ min_length }} to {{ max_length }} characters. Any characters;
a few unrelated words make a strong, memorable password. Common passwords are refused.</div></div>
<div class="mb-3"><label class="form-label small" for="confirm">Repeat the password</label>
<input class="form-control" id="confirm" name="confirm" type="password" autocomplete="new-password"
 maxlength="{{ max_length }}" required></div>"""

FORGOT = _BASE.replace("__CONTENT__", """
{% if not notice %}
<p class="small text-muted">Enter the email address of your account.
We will send it a link to choose a new password.</p>
<form method="post" action="/forgot-password" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<div class="mb-3"><label class="form-label small" for="email">Email</label>
<input class="form-control" id="email" name="email" type="email" autocomplete="username" maxlength="254"
 required autofocus></div>
<button class="btn btn-primary w-100" type="submit">Send the link</button>
</form>{% endif %}""")

RESET = _BASE.replace("__CONTENT__", """
{% if token %}
<form method="post" action="/reset-password" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf_token }}"><input type="hidden" name="token" value="{{ token }}">
""" + _PASSWORD_FIELDS + """
<button class="btn btn-primary w-100" type="submit">Set the new password</button>
</form>{% endif %}
{% if invalid %}<p class="small"><a href="/forgot-password">Ask for a new link</a></p>{% endif %}""")

ACCEPT = _BASE.replace("__CONTENT__", """
{% if token %}
<p class="small text-muted">You were invited as <strong>{{ role }}</strong>
with the address <strong>{{ email }}</strong>.
Choose the name your colleagues will see and your password.</p>
<form method="post" action="/accept-invite" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf_token }}"><input type="hidden" name="token" value="{{ token }}">
<div class="mb-3"><label class="form-label small" for="name">Your name</label>
<input class="form-control" id="name" name="name" autocomplete="name" maxlength="120" value="{{ name }}" required></div>
""" + _PASSWORD_FIELDS + """
<button class="btn btn-primary w-100" type="submit">Create my account</button>
</form>{% endif %}
{% if invalid %}<p class="small text-muted">Ask your administrator to send a new invitation.</p>{% endif %}""")

VERIFY = _BASE.replace("__CONTENT__", """
{% if token %}
<form method="post" action="/verify-email" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf_token }}"><input type="hidden" name="token" value="{{ token }}">
<p class="small text-muted">Confirm that <strong>{{ email }}</strong> is your address.</p>
<button class="btn btn-primary w-100" type="submit">Confirm my email address</button>
</form>{% endif %}""")


def _render(template: str, title: str, status: int = 200, **values):
    html = render_template_string(template, title=title, csrf_token=csrf.token(), min_length=MIN_LENGTH,
                                  max_length=MAX_LENGTH, **{"error": "", "notice": "", "token": "", **values})
    # auth.headers adds no-store and the security headers; the page's own
    # <meta name="referrer"> keeps the token out of Referers to other sites.
    return html, status


def _settings():
    return current_app.config["SCOPE_SETTINGS"]


def _token_arg() -> str:
    token = request.values.get("token", "")
    return token if isinstance(token, str) and len(token) <= 100 else ""


def _passwords_match() -> str | None:
    password, confirm = request.form.get("password", ""), request.form.get("confirm", "")
    if password != confirm:
        return "The two passwords are not the same."
    return None


def _send(mails: list[mail.Mail]) -> None:
    for error in mail.send_all(_settings(), mails):
        log.warning("account mail not sent: %s", error)


@bp.get("/forgot-password")
def forgot_password():
    return _render(FORGOT, "Forgot your password?")


@bp.post("/forgot-password")
@limiter.limit(reset_limit, methods=["POST"])
def forgot_password_post():
    csrf.check_form()
    email = (request.form.get("email") or "").strip()[:254]
    if not email:
        return _render(FORGOT, "Forgot your password?", 400, error="Enter your email address.")
    try:
        with unit_of_work() as session:
            mails = accounts.request_password_reset(session, email, base_url=_settings().base_url,
                                                    ip=request.remote_addr)
    except WriteFailed:
        log.exception("password reset request not stored")
        mails = []
    # Same page, and no wait for the mail server, whether or not the account exists.
    if mails:
        mail.send_in_background(_settings(), mails)
    return _render(FORGOT, "Check your email", notice=RESET_SENT)


@bp.get("/reset-password")
def reset_password():
    token = _token_arg()
    try:
        accounts.tokens.peek(read_session(), token, accounts.tokens.RESET_PASSWORD)
    except TokenInvalid as exc:
        return _render(RESET, "Choose a new password", 400, error=str(exc), invalid=True)
    return _render(RESET, "Choose a new password", token=token)


@bp.post("/reset-password")
@limiter.limit(reset_limit, methods=["POST"])
def reset_password_post():
    csrf.check_form()
    token = _token_arg()
    title = "Choose a new password"
    mismatch = _passwords_match()
    if mismatch:
        return _render(RESET, title, 400, error=mismatch, token=token)
    try:
        with unit_of_work() as session:
            _, mails = accounts.reset_password(session, token, request.form.get("password", ""),
                                               ip=request.remote_addr)
            if user_or_none() is not None:
                web_sessions.end(session, "password reset")
    except TokenInvalid as exc:
        return _render(RESET, title, 400, error=str(exc), invalid=True)
    except accounts.AccountError as exc:
        return _render(RESET, title, 400, error=str(exc), token=token)
    _send(mails)
    return _render(RESET, "Password changed",
                   notice="Your password is changed and every session was signed out. Sign in with the new password.")


@bp.get("/accept-invite")
def accept_invite():
    token = _token_arg()
    try:
        invite = accounts.invitation_for(read_session(), token)
    except TokenInvalid as exc:
        return _render(ACCEPT, "Accept the invitation", 400, error=str(exc), invalid=True)
    return _render(ACCEPT, "Welcome to SCOPE Assistant", token=token, email=invite["email"],
                   role=accounts.ROLE_LABELS.get(invite["role"], invite["role"]), name=invite["name"])


@bp.post("/accept-invite")
@limiter.limit(reset_limit, methods=["POST"])
def accept_invite_post():
    csrf.check_form()
    token = _token_arg()
    name = (request.form.get("name") or "")[:200]
    try:
        invite = accounts.invitation_for(read_session(), token)
    except TokenInvalid as exc:
        return _render(ACCEPT, "Accept the invitation", 400, error=str(exc), invalid=True)
    shown = {"token": token, "email": invite["email"], "name": name,
             "role": accounts.ROLE_LABELS.get(invite["role"], invite["role"])}
    mismatch = _passwords_match()
    if mismatch:
        return _render(ACCEPT, "Welcome to SCOPE Assistant", 400, error=mismatch, **shown)
    try:
        with unit_of_work() as session:
            accounts.accept_invite(session, token, name=name, password=request.form.get("password", ""),
                                   ip=request.remote_addr)
    except TokenInvalid as exc:
        return _render(ACCEPT, "Accept the invitation", 400, error=str(exc), invalid=True)
    except accounts.AccountError as exc:
        return _render(ACCEPT, "Welcome to SCOPE Assistant", 400, error=str(exc), **shown)
    return redirect("/login?welcome=1")


@bp.get("/verify-email")
def verify_email():
    token = _token_arg()
    try:
        row = accounts.tokens.peek(read_session(), token, accounts.tokens.VERIFY_EMAIL)
    except TokenInvalid as exc:
        return _render(VERIFY, "Confirm your email address", 400, error=str(exc))
    return _render(VERIFY, "Confirm your email address", token=token, email=row.email)


@bp.post("/verify-email")
@limiter.limit(reset_limit, methods=["POST"])
def verify_email_post():
    csrf.check_form()
    try:
        with unit_of_work() as session:
            user = accounts.verify_email(session, _token_arg(), ip=request.remote_addr)
            email = user.email
    except TokenInvalid as exc:
        return _render(VERIFY, "Confirm your email address", 400, error=str(exc))
    return _render(VERIFY, "Email address confirmed", notice=f"Thank you: {email} is confirmed.")
