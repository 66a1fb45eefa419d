"""Login and logout (server-rendered forms), and the Flask-Login wiring."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template_string, request
from flask_login import LoginManager, login_user, logout_user

from auth import csrf
from auth.current import SessionUser, user_or_none
from db.flask_db import read_session, unit_of_work
from db.models import User
from services import audit
from services.users import authenticate

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    if not user_id.isdigit():
        return None
    user = read_session().get(User, int(user_id))
    if user is None or not user.is_active:
        return None
    return SessionUser.from_model(user)


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
<form method="post" action="/login" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<input type="hidden" name="next" value="{{ next }}">
<div class="mb-3"><label class="form-label small" for="email">Email</label>
<input class="form-control" id="email" name="email" type="email" autocomplete="username" value="{{ email }}" required autofocus></div>
<div class="mb-3"><label class="form-label small" for="password">Password</label>
<input class="form-control" id="password" name="password" type="password" autocomplete="current-password" required></div>
<button class="btn btn-primary w-100" type="submit">Sign in</button>
</form>
{% if dev %}<p class="text-muted small mt-3 mb-0">Development mode: the run command printed one demo login per role.</p>{% endif %}
</div></div></div></div></main></body></html>"""


def _render(error: str = "", email: str = "", status: int = 200):
    html = render_template_string(
        LOGIN_TEMPLATE, error=error, email=email, csrf_token=csrf.token(),
        next=safe_next(request.values.get("next")), dev=not current_app.config.get("SCOPE_PRODUCTION"),
    )
    return html, status


@bp.get("/login")
def login():
    if user_or_none():
        return redirect(safe_next(request.args.get("next")))
    return _render()


@bp.post("/login")
def login_post():
    csrf.check_form()
    email = (request.form.get("email") or "").strip()[:254]
    password = request.form.get("password") or ""
    if not email or not password:
        return _render("Enter your email and password.", email, 400)
    with unit_of_work() as session:
        user = authenticate(session, email, password, ip=request.remote_addr)
        session_user = SessionUser.from_model(user) if user else None
    if session_user is None:
        return _render("Email or password is not correct.", email, 401)
    login_user(session_user)
    return redirect(safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    csrf.check_form()
    user = user_or_none()
    if user:
        with unit_of_work() as session:
            audit.record(session, actor=user.email, actor_id=user.id, action="auth.logout",
                         target_type="user", target_id=user.id, ip=request.remote_addr)
    logout_user()
    return redirect("/login")
