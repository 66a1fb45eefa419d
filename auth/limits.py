"""Rate limits (Flask-Limiter), shared by every gunicorn worker through Redis.

Storage is ``REDIS_URL`` when set, else process memory (one process only:
with several workers each would count alone). Keys carry a prefix derived
from the database URL so two deployments sharing one Redis never mix counts.

Use from other modules::

    from auth.limits import limiter, reset_limit
    @bp.post("/reset")
    @limiter.limit(reset_limit, methods=["POST"])
    def reset_post(): ...
"""
from __future__ import annotations

import hashlib

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from config import ConfigError, Settings

# Every sign-in POST from one address (spraying many accounts from one place).
login_limit = "30 per minute;300 per hour"
# Failed sign-ins per account, whoever sends them; services.lockout adds the back-off.
login_account_limit = "10 per minute"
# Password-reset requests and submissions per address.
reset_limit = "5 per minute;30 per hour"

limiter = Limiter(
    key_func=get_remote_address,
    headers_enabled=True,
    strategy="moving-window",
    # If Redis goes away, keep limiting per process instead of failing requests.
    in_memory_fallback_enabled=True,
    swallow_errors=True,
)


def login_account_key() -> str:
    email = (request.form.get("email") or "").strip().lower()[:254]
    return "login-account:" + hashlib.sha256(email.encode("utf-8")).hexdigest()


def failed_login(response) -> bool:
    # A successful sign-in redirects (302); everything else counts as a failure.
    return response.status_code != 302


def api_token_key() -> str:
    """Per bearer token (hashed: raw tokens never reach Redis); per address without one."""
    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() == "bearer" and token.strip():
        return "api-token:" + hashlib.sha256(token.strip().encode("utf-8")).hexdigest()
    return "api-ip:" + (get_remote_address() or "unknown")


def api_address_key() -> str:
    return "api-auth-failed:" + (get_remote_address() or "unknown")


def failed_api_auth(response) -> bool:
    return response.status_code == 401


def api_limit() -> str:
    return current_app.config["SCOPE_SETTINGS"].api_rate_limit


def init_app(server: Flask, settings: Settings, api_blueprint) -> None:
    try:
        parse_many(settings.api_rate_limit)
    except ValueError as exc:
        raise ConfigError(f"SCOPE_API_RATE_LIMIT is not a rate limit: {settings.api_rate_limit!r}") from exc
    server.config["RATELIMIT_STORAGE_URI"] = settings.redis_url or "memory://"
    server.config["RATELIMIT_KEY_PREFIX"] = "scope-limits-" + hashlib.sha256(
        (settings.database_url or "embedded").encode("utf-8")).hexdigest()[:12]
    limiter.limit(api_limit, key_func=api_token_key)(api_blueprint)
    # Per token alone, a new made-up token per request was never limited (and each cost a
    # token lookup): refused tokens also count per client address (behind SCOPE_PROXY_HOPS
    # proxies, the address they forward), and once an address has spent the limit on them
    # it waits like any other caller, whatever token it sends next.
    limiter.limit(api_limit, key_func=api_address_key, deduct_when=failed_api_auth)(api_blueprint)
    limiter.init_app(server)
