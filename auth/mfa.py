"""The second sign-in step (/mfa), TOTP enrolment (/mfa/setup), and the gate
that keeps a half-signed-in user on those pages.

After the password (or single sign-on) check the user is signed in, but the
session carries an MFA state: ``pending`` (enrolled: enter a code first) or
``setup`` (role requires MFA, not enrolled yet). The guard refuses every
other route and callback while a state is set. Admins and managers are
re-checked against the database on every request, so an MFA reset or a role
raised mid-session sends them back to set-up at once.
"""
from __future__ import annotations

import datetime as dt
import io
import re

import qrcode
import qrcode.image.svg
from flask import Blueprint, current_app, jsonify, redirect, render_template_string, request, session
from flask_login import logout_user
from markupsafe import Markup

from auth import csrf
from auth.current import SessionUser, user_or_none
from db.flask_db import read_session, unit_of_work
from db.models import User
from services import mfa as mfa_service

bp = Blueprint("mfa", __name__)

STATE_KEY = "_mfa_state"
USER_KEY = "_mfa_uid"
NEXT_KEY = "_mfa_next"
SETUP_SECRET_KEY = "_mfa_setup_secret"
PENDING, SETUP, DONE, DONE_IDP = "pending", "setup", "done", "done-idp"
OPEN_PATHS = ("/mfa", "/mfa/setup", "/logout")


# --- session state -----------------------------------------------------------------------------

def _set_state(user_id: int, state: str) -> None:
    session[STATE_KEY] = state
    session[USER_KEY] = user_id


def _state(user: SessionUser) -> str | None:
    return session.get(STATE_KEY) if session.get(USER_KEY) == user.id else None


def after_login(user: SessionUser, next_url: str, *, idp_mfa: bool = False):
    """Called once the first factor passed and the user is signed in; returns where to go next.
    ``idp_mfa``: the identity provider says it checked a second factor (OIDC ``amr``)."""
    session[NEXT_KEY] = next_url
    if idp_mfa:
        _set_state(user.id, DONE_IDP)
        return redirect(next_url)
    enrolled = mfa_service.is_enrolled(read_session(), user.id)
    if enrolled:
        _set_state(user.id, PENDING)
        return redirect("/mfa")
    if mfa_service.requires_mfa(user.role):
        _set_state(user.id, SETUP)
        return redirect("/mfa/setup")
    _set_state(user.id, DONE)
    return redirect(next_url)


def confine(user: SessionUser, path: str):
    """The guard's check: None to let the request through, else the refusal."""
    if path in OPEN_PATHS:
        return None
    state = _state(user)
    if state not in (PENDING, SETUP) and mfa_service.requires_mfa(user.role) and state != DONE_IDP:
        enrolled = mfa_service.is_enrolled(read_session(), user.id)
        if state != DONE or not enrolled:
            # No second factor in this session (MFA reset, role raised, or a session from before).
            state = PENDING if enrolled else SETUP
            _set_state(user.id, state)
    if state not in (PENDING, SETUP):
        return None
    target = "/mfa" if state == PENDING else "/mfa/setup"
    if request.method == "GET" and not path.startswith("/_dash-"):
        return redirect(target)
    return jsonify(error="finish two-step sign-in first", next=target), 403


def _next_url() -> str:
    from auth.login import safe_next

    return safe_next(session.get(NEXT_KEY))


# --- pages -------------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · SCOPE Assistant</title>
<link rel="stylesheet" href="/assets/00-bootstrap.min.css"><link rel="stylesheet" href="/assets/10-scope.css">
</head><body class="scope-login">
<main class="container"><div class="row justify-content-center"><div class="{{ width }}">
<div class="card shadow border-0"><div class="card-body p-4">
<div class="scope-brand mb-1">SCOPE <span>Assistant</span></div>
<h1 class="h5 mt-3 mb-2">{{ title }}</h1>
{% if error %}<div class="alert alert-danger py-2 small" role="alert">{{ error }}</div>{% endif %}
{% if notice %}<div class="alert alert-info py-2 small" role="status">{{ notice }}</div>{% endif %}
{{ body }}
{% if signed_in %}<form method="post" action="/logout" class="mt-3 mb-0 text-center">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button class="btn btn-link btn-sm text-muted" type="submit">Sign out</button></form>{% endif %}
</div></div></div></div></main></body></html>"""

SETUP_BODY = """<p class="text-muted small">{{ why }}</p>
<ol class="small ps-3 mb-3">
<li>Open an authenticator app (for example Google Authenticator, Microsoft Authenticator, 1Password)
and scan this code.</li>
<li>Enter the 6-digit code the app shows.</li></ol>
<div class="d-flex flex-column flex-md-row align-items-center gap-4 mb-3">
<div class="scope-qr border rounded p-2 bg-white" style="width:196px;height:196px"
 aria-label="QR code for your authenticator app">{{ qr }}</div>
<div class="small"><div class="text-muted mb-1">Cannot scan? Type this key:</div>
<code class="fs-6 d-block text-break" id="mfa-secret">{{ secret_groups }}</code>
<div class="text-muted mt-2">Account: {{ email }}<br>Time-based, 6 digits, 30 seconds.</div></div></div>
<form method="post" action="/mfa/setup" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<label class="form-label small" for="code">Code from the app</label>
<div class="d-flex gap-2"><input class="form-control" id="code" name="code" inputmode="numeric"
 autocomplete="one-time-code"
 pattern="[0-9 ]*" maxlength="7" required autofocus>
<button class="btn btn-primary text-nowrap" type="submit">Turn on</button></div>
</form>"""

CODES_BODY = """<p class="small">Two-step sign-in is on. These recovery codes each work <strong>once</strong>
if you lose your phone. Save them somewhere safe now: they are not shown again.</p>
<ul class="list-unstyled row row-cols-2 g-1 font-monospace mb-3" id="recovery-codes">
{% for c in codes %}<li class="col">{{ c }}</li>{% endfor %}</ul>
<a class="btn btn-primary w-100" href="{{ next }}">I have saved them · continue</a>"""

ENROLLED_BODY = """<p class="small">Two-step sign-in has been on since {{ since }}.
{{ left }} of 10 recovery codes are unused.</p>
<p class="small text-muted">Lost your phone or codes? An administrator can reset it; you then set it up again.</p>
<a class="btn btn-primary w-100" href="{{ next }}">Continue</a>"""

CHECK_BODY = """<p class="text-muted small">Enter the 6-digit code from your authenticator app,
or one of your recovery codes.</p>
<form method="post" action="/mfa" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<div class="mb-3"><label class="form-label small" for="code">Code</label>
<input class="form-control" id="code" name="code" autocomplete="one-time-code" maxlength="24" required autofocus></div>
<button class="btn btn-primary w-100" type="submit">Verify</button>
</form>"""


def _page(title: str, body: str, *, error: str = "", notice: str = "", status: int = 200,
          signed_in: bool = True, width: str = "col-sm-10 col-md-8 col-lg-5", **ctx):
    # ``inner`` is one of this module's templates rendered with autoescaping: safe to nest.
    inner = Markup(render_template_string(body, csrf_token=csrf.token(), **ctx))  # nosec B704
    html = render_template_string(PAGE, title=title, body=inner, error=error, notice=notice,
                                  csrf_token=csrf.token(), signed_in=signed_in, width=width)
    response = current_app.make_response((html, status))
    response.headers["Cache-Control"] = "no-store"
    return response


def qr_svg(data: str) -> Markup:
    """The QR code as an inline <svg> element: no image library, no script, fine under a strict CSP."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    svg = svg.split("?>", 1)[-1].strip()  # drop the XML declaration, invalid inside HTML
    svg = re.sub(r'^<svg width="[^"]*" height="[^"]*"', '<svg role="img" width="180" height="180"', svg)
    # The SVG is generated by qrcode from our own provisioning URI, not user HTML.
    return Markup(svg)  # nosec B704


def _secret_key() -> str:
    return current_app.config["SECRET_KEY"]


def _setup_secret() -> str:
    """The secret being enrolled lives (encrypted) in the session until confirmed,
    so viewing the set-up page writes nothing to the database."""
    stored = session.get(SETUP_SECRET_KEY)
    secret = mfa_service.decrypt_secret(stored, _secret_key()) if stored else None
    if not secret:
        secret = mfa_service.new_secret()
        session[SETUP_SECRET_KEY] = mfa_service.encrypt_secret(secret, _secret_key())
    return secret


def _setup_page(user: SessionUser, error: str = "", status: int = 200):
    secret = _setup_secret()
    why = ("Your role needs a second sign-in step before you can use SCOPE."
           if mfa_service.requires_mfa(user.role)
           else "Protect your account with a code from your phone at each sign-in (optional for your role).")
    return _page("Set up two-step sign-in", SETUP_BODY, error=error, status=status, why=why,
                 qr=qr_svg(mfa_service.provisioning_uri(secret, user.email)), email=user.email,
                 secret_groups=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                 width="col-sm-11 col-md-9 col-lg-6")


@bp.get("/mfa/setup")
def setup():
    user = user_or_none()
    state = _state(user)
    if state == PENDING:
        return redirect("/mfa")
    info = mfa_service.status(read_session(), user.id)
    if info["enrolled"]:
        since = info["enrolled_at"].astimezone(dt.UTC).strftime("%d %b %Y")
        return _page("Two-step sign-in", ENROLLED_BODY, since=since, left=info["recovery_codes_left"],
                     next=_next_url())
    return _setup_page(user)


@bp.post("/mfa/setup")
def setup_post():
    csrf.check_form()
    user = user_or_none()
    if _state(user) == PENDING:
        return redirect("/mfa")
    stored = session.get(SETUP_SECRET_KEY)
    secret = mfa_service.decrypt_secret(stored, _secret_key()) if stored else None
    if not secret:
        return _setup_page(user, "The set-up expired. Scan the new code and try again.", 400)
    try:
        with unit_of_work() as db:
            codes = mfa_service.enrol(db, db.get(User, user.id), secret, request.form.get("code", "")[:20],
                                      secret_key=_secret_key(), ip=request.remote_addr)
    except mfa_service.MfaError as exc:
        return _setup_page(user, str(exc), 400)
    session.pop(SETUP_SECRET_KEY, None)
    _set_state(user.id, DONE)
    return _page("Save your recovery codes", CODES_BODY, codes=codes, next=_next_url())


@bp.get("/mfa")
def check():
    user = user_or_none()
    if _state(user) != PENDING:
        return redirect(_next_url() if _state(user) in (DONE, DONE_IDP) else "/mfa/setup")
    return _page("Two-step sign-in", CHECK_BODY, width="col-sm-9 col-md-6 col-lg-4")


@bp.post("/mfa")
def check_post():
    csrf.check_form()
    user = user_or_none()
    if _state(user) != PENDING:
        return redirect("/")
    with unit_of_work() as db:
        result = mfa_service.check(db, db.get(User, user.id), request.form.get("code", "")[:40],
                                   secret_key=_secret_key(), ip=request.remote_addr)
    if result.ok:
        _set_state(user.id, DONE)
        return redirect(_next_url())
    if result.locked:
        # Locked out: end the half-signed-in session on the server too, so a copied
        # cookie cannot come back; the password is asked again later.
        from auth import sessions as browser_sessions

        with unit_of_work() as db:
            browser_sessions.end(db, "mfa locked")
        logout_user()
        return _locked_page(result.message)
    return _page("Two-step sign-in", CHECK_BODY, error=result.message, status=401,
                 width="col-sm-9 col-md-6 col-lg-4")


def _locked_page(message: str):
    return _page("Two-step sign-in", '<a class="btn btn-outline-primary w-100" href="/login">Back to sign in</a>',
                 error=message, status=429, signed_in=False, width="col-sm-9 col-md-6 col-lg-4")
