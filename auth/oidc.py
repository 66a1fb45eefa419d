"""Single sign-on with OpenID Connect (Authlib): authorization code flow with
state, nonce and PKCE (S256). Configured by SCOPE_OIDC_* (config.Settings);
without them these routes answer 404 and the login page shows no button.

Local MFA for single sign-on users: when the ID token's ``amr`` says the
provider checked a second factor, SCOPE trusts it; otherwise admins and
managers (and anyone who enrolled) take SCOPE's own TOTP step, as after a
password sign-in.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from flask import Blueprint, abort, current_app, render_template_string, request, session
from joserfc.errors import JoseError

from auth import csrf
from auth.current import SessionUser
from db.flask_db import unit_of_work
from services import oidc as oidc_service

log = logging.getLogger(__name__)
bp = Blueprint("oidc", __name__)
CLIENT_NAME = "scope_oidc"
NEXT_KEY = "_oidc_next"
CALLBACK_PATH = "/login/oidc/callback"
_clients: dict[tuple[str, str, str], FlaskOAuth2App] = {}


def _settings():
    return current_app.config["SCOPE_SETTINGS"]


def provider_name(settings=None) -> str | None:
    """The name on the login page's button, or None when single sign-on is off."""
    settings = settings or _settings()
    if not settings.oidc_enabled:
        return None
    return settings.oidc_provider_name or urlsplit(settings.oidc_issuer).hostname or "single sign-on"


def _client(settings) -> FlaskOAuth2App:
    key = (settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)
    client = _clients.get(key)
    if client is None:
        client = FlaskOAuth2App(
            FlaskIntegration(CLIENT_NAME), CLIENT_NAME,
            client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
            server_metadata_url=settings.oidc_issuer + "/.well-known/openid-configuration",
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256", "timeout": 10},
        )
        _clients[key] = client
    return client


def _redirect_uri(settings) -> str:
    # The configured public address when there is one: never trust the Host header blindly.
    public_url = getattr(settings, "public_url", None)
    base = public_url.rstrip("/") if public_url else request.url_root.rstrip("/")
    return base + CALLBACK_PATH


def _start_session(db, user) -> SessionUser:
    """Sign the user in the same way the password form does: a new server-side
    session (auth.sessions) where that layer is installed, else Flask-Login's cookie."""
    try:
        from auth.sessions import establish
    except ImportError:  # before server-side sessions landed
        from flask_login import login_user

        session_user = SessionUser.from_model(user)
        login_user(session_user)
        return session_user
    establish(db, user)
    return SessionUser.from_model(user)


REFUSED = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Single sign-on · SCOPE Assistant</title>
<link rel="stylesheet" href="/assets/00-bootstrap.min.css"><link rel="stylesheet" href="/assets/10-scope.css">
</head><body class="scope-login">
<main class="container"><div class="row justify-content-center"><div class="col-sm-9 col-md-6 col-lg-4">
<div class="card shadow border-0"><div class="card-body p-4">
<div class="scope-brand mb-3">SCOPE <span>Assistant</span></div>
<div class="alert alert-danger small" role="alert">{{ message }}</div>
<a class="btn btn-outline-primary w-100" href="/login">Back to sign in</a>
</div></div></div></div></main></body></html>"""


def _refused(message: str, status: int = 403):
    response = current_app.make_response((render_template_string(REFUSED, message=message), status))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_app_request
def _allow_form_to_provider(response):
    """The SSO button posts a form that redirects to the provider; browsers apply
    the login page's CSP ``form-action`` to that redirect, so name the provider's
    authorization endpoint there (the security headers are set before this runs:
    Flask runs after-request hooks in reverse order of registration)."""
    if request.path != "/login" or request.method != "GET":
        return response
    settings = _settings()
    csp = response.headers.get("Content-Security-Policy", "")
    if not settings.oidc_enabled or "form-action 'self'" not in csp:
        return response
    try:
        endpoint = _client(settings).load_server_metadata().get("authorization_endpoint") or settings.oidc_issuer
    except (OAuthError, requests.RequestException, ValueError):
        endpoint = settings.oidc_issuer
    parts = urlsplit(endpoint)
    if parts.scheme in ("http", "https") and parts.netloc:
        response.headers["Content-Security-Policy"] = csp.replace(
            "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}", 1)
    return response


@bp.post("/login/oidc")
def start():
    csrf.check_form()
    settings = _settings()
    if not settings.oidc_enabled:
        abort(404)
    from auth.login import safe_next

    session[NEXT_KEY] = safe_next(request.form.get("next"))
    try:
        return _client(settings).authorize_redirect(_redirect_uri(settings))
    except (OAuthError, requests.RequestException, ValueError, KeyError):
        log.exception("single sign-on: could not reach the provider's discovery document")
        return _refused(f"{provider_name(settings)} cannot be reached right now. Try again later.", 502)


@bp.get(CALLBACK_PATH)
def callback():
    settings = _settings()
    if not settings.oidc_enabled:
        abort(404)
    name = provider_name(settings)
    client = _client(settings)
    try:
        # Checks state (against this browser's session), exchanges the code with the
        # PKCE verifier, verifies the ID token's signature, issuer, audience, expiry and nonce.
        token = client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise OAuthError(description="no ID token")
        if settings.oidc_groups_claim not in claims or "email" not in claims:
            extra = client.userinfo(token=token)
            if extra.get("sub") == claims.get("sub"):
                claims = {**extra, **claims}
    except OAuthError as exc:
        log.warning("single sign-on refused: %s", exc)
        return _refused(f"Sign-in with {name} did not complete (the request expired or was not ours). "
                        "Start again from the sign-in page.", 400)
    except (JoseError, requests.RequestException, ValueError, KeyError, TypeError) as exc:
        log.warning("single sign-on failed: %s: %s", type(exc).__name__, exc)
        return _refused(f"Sign-in with {name} could not be verified. Start again from the sign-in page.", 400)
    next_url = session.pop(NEXT_KEY, "/")
    issuer = client.load_server_metadata().get("issuer") or settings.oidc_issuer
    with unit_of_work() as db:
        result = oidc_service.sign_in(db, claims, issuer=issuer, group_map=settings.oidc_group_map,
                                      groups_claim=settings.oidc_groups_claim, provider=name,
                                      ip=request.remote_addr)
        if result.user is not None:
            session_user = _start_session(db, result.user)
    if result.user is None:
        return _refused(result.message)
    from auth.mfa import after_login

    return after_login(session_user, next_url, idp_mfa=oidc_service.idp_checked_mfa(claims))
