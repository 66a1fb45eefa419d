"""Login and logout (server-rendered forms), and the Flask-Login wiring.

Who is signed in comes only from the server-side session (auth.sessions):
Flask-Login provides ``current_user`` but never loads users itself, so its
remember-me cookie is never honoured."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template_string, request
from flask_login import LoginManager

from auth import csrf, mfa, oidc
from auth import sessions as web_sessions
from auth.current import SessionUser, user_or_none
from auth.limits import failed_login, limiter, login_account_key, login_account_limit, login_limit
from db.flask_db import unit_of_work
from services import audit
from services.sessions import revoke_user_sessions
from services.users import authenticate

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"


@login_manager.request_loader
def _no_loader(_request) -> None:
    # auth.sessions.load_request_user sets the user before anything asks;
    # this only answers if something runs before it (e.g. a rate-limit refusal).
    return None


def safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


LOGIN_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · SCOPE Assistant</title>
<link rel="stylesheet" href="/assets/00-bootstrap.min.css"><link rel="stylesheet" href="/assets/10-scope.css">
</head><body class="scope-login">
<main class="container"><div class="row justify-content-center"><div class="col-sm-9 col-md-6 col-lg-4">
<div class="card shadow border-0"><div class="card-body p-4">
<div class="scope-brand mb-1">SCOPE <span>Assistant</span></div>
<p class="text-muted small mb-4">Claims triage, routed and explained.</p>
{% if error %}<div class="alert alert-danger py-2 small" role="alert">{{ error }}</div>{% endif %}
{% if welcome and not error %}<div class="alert alert-success py-2 small" role="status">
Your account is ready: sign in with your new password.</div>{% endif %}
<form method="post" action="/login" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<input type="hidden" name="next" value="{{ next }}">
<div class="mb-3"><label class="form-label small" for="email">Email</label>
<input class="form-control" id="email" name="email" type="email" autocomplete="username" value="{{ email }}"
 required autofocus></div>
<div class="mb-3"><label class="form-label small" for="password">Password</label>
<input class="form-control" id="password" name="password" type="password" autocomplete="current-password"
 required></div>
<button class="btn btn-primary w-100" type="submit">Sign in</button>
</form>
<p class="small text-center mt-2 mb-0">
<a href="/forgot-password" id="forgot-password-link">Forgot your password?</a></p>
{% if sso_name %}<div class="text-center text-muted small my-3">or</div>
<form method="post" action="/login/oidc"><input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<input type="hidden" name="next" value="{{ next }}">
<button class="btn btn-outline-secondary w-100" type="submit" id="sso-button">Sign in with {{ sso_name }}</button>
</form>{% endif %}
{% if dev %}<p class="text-muted small mt-3 mb-0">
Development mode: the run command printed one demo login per role.</p>{% endif %}
</div></div></div></div></main></body></html>"""


def _render(error: str = "", email: str = "", status: int = 200):
    html = render_template_string(
        LOGIN_TEMPLATE, error=error, email=email, csrf_token=csrf.token(),
        next=safe_next(request.values.get("next")), dev=not current_app.config.get("SCOPE_PRODUCTION"),
        sso_name=oidc.provider_name(), welcome=request.args.get("welcome") == "1",
    )
    return html, status


@bp.errorhandler(429)
def _too_many(_exc):
    if request.path == "/login":
        return _render("Too many sign-in attempts. Wait a minute and try again.",
                       (request.form.get("email") or "").strip()[:254], 429)
    from auth.errors import error_response

    return error_response(429)


@bp.get("/login")
def login():
    if user_or_none():
        return redirect(safe_next(request.args.get("next")))
    return _render()


@bp.post("/login")
@limiter.limit(login_limit)
@limiter.limit(login_account_limit, key_func=login_account_key, deduct_when=failed_login)
def login_post():
    csrf.check_form()
    email = (request.form.get("email") or "").strip()[:254]
    password = request.form.get("password") or ""
    if not email or not password:
        return _render("Enter your email and password.", email, 400)
    with unit_of_work() as session:
        user = authenticate(session, email, password, ip=request.remote_addr, now=web_sessions.clock())
        session_user = None
        if user is not None:
            web_sessions.establish(session, user)
            session_user = SessionUser.from_model(user)
    if session_user is None:
        # Wrong password, unknown email and locked account all read the same.
        return _render("Email or password is not correct.", email, 401)
    return mfa.after_login(session_user, safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    csrf.check_form()
    user = user_or_none()
    user_id = user.id if user else None  # read before end(): current_user turns anonymous
    with unit_of_work() as session:
        if user:
            audit.record(session, actor=user.email, actor_id=user.id, action="auth.logout",
                         target_type="user", target_id=user.id, ip=request.remote_addr)
        web_sessions.end(session, "logout")
        if user_id is not None:
            # Signing out ends every session of the user, on every device (issue 5).
            revoke_user_sessions(session, user_id, reason="logout")
    return redirect("/login")
