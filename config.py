"""One settings object, read from the environment.

Every process (web, scheduler, CLI, tests) builds its settings here so that
configuration has a single source of truth.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-insecure-secret-change-me"


def _default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("scope-assistant", appauthor=False))


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _bool(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


class ConfigError(RuntimeError):
    """Raised when the environment describes an unusable configuration."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    secret_key: str = DEFAULT_SECRET_KEY
    database_url: str | None = None
    data_dir: Path = field(default_factory=_default_data_dir)
    redis_url: str | None = None
    confidence_threshold: float = 0.5
    host: str = "127.0.0.1"
    port: int = 8050
    log_level: str = "INFO"
    pool_size: int = 5
    # Outgoing mail (services.mail). Without a host, `scope run` in development
    # starts the local mail sink and points these at it.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    mail_from: str = "SCOPE Assistant <no-reply@scope.example>"
    # Absolute address put in emailed links; never taken from the request's Host header.
    public_url: str | None = None
    mail_sink_port: int = 8025
    # Single sign-on (OpenID Connect); off unless issuer, client id and secret are all set.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_group_roles: str = ""  # "idp-group=role,..." e.g. "scope-admins=admin,scope-viewers=viewer"
    oidc_groups_claim: str = "groups"
    oidc_provider_name: str = ""

    session_idle_minutes: float = 30.0
    session_max_hours: float = 12.0
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host to trust
    # (client IP for rate limits, https scheme for the Origin check).
    proxy_hops: int = 0
    api_rate_limit: str = "600 per minute"
    # Bearer token Prometheus presents at /metrics; without it the endpoint refuses everyone.
    metrics_token: str | None = None
    # ISO 4217 code every amount is shown and exported in: one reporting currency per deployment.
    currency: str = "USD"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    @property
    def oidc_group_map(self) -> dict[str, str]:
        """IdP group -> SCOPE role, from SCOPE_OIDC_GROUP_ROLES."""
        mapping = {}
        for item in filter(None, (part.strip() for part in self.oidc_group_roles.split(","))):
            group, sep, role = item.rpartition("=")
            if not sep or not group.strip() or role.strip() not in ("admin", "manager", "adjuster", "viewer"):
                raise ConfigError(f"SCOPE_OIDC_GROUP_ROLES: {item!r} is not group=role "
                                  "(role one of admin, manager, adjuster, viewer)")
            mapping[group.strip()] = role.strip()
        return mapping

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        data_dir = env.get("SCOPE_DATA_DIR")
        values = dict(
            env=env.get("SCOPE_ENV", "development"),
            secret_key=env.get("SECRET_KEY", DEFAULT_SECRET_KEY),
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(data_dir).expanduser() if data_dir else _default_data_dir(),
            redis_url=env.get("REDIS_URL") or None,
            confidence_threshold=_float("SCOPE_CONFIDENCE_THRESHOLD", 0.5),
            host=env.get("SCOPE_HOST", "127.0.0.1"),
            port=int(_float("SCOPE_PORT", 8050)),
            log_level=env.get("SCOPE_LOG_LEVEL", "INFO"),
            pool_size=int(_float("SCOPE_DB_POOL_SIZE", 5)),
            smtp_host=env.get("SCOPE_SMTP_HOST") or None,
            smtp_port=int(_float("SCOPE_SMTP_PORT", 587)),
            smtp_user=env.get("SCOPE_SMTP_USER") or None,
            smtp_password=env.get("SCOPE_SMTP_PASSWORD") or None,
            smtp_starttls=_bool("SCOPE_SMTP_STARTTLS", True),
            mail_from=env.get("SCOPE_SMTP_FROM") or "SCOPE Assistant <no-reply@scope.example>",
            public_url=env.get("SCOPE_PUBLIC_URL") or None,
            mail_sink_port=int(_float("SCOPE_MAIL_SINK_PORT", 8025)),
            oidc_issuer=(env.get("SCOPE_OIDC_ISSUER") or "").rstrip("/") or None,
            oidc_client_id=env.get("SCOPE_OIDC_CLIENT_ID") or None,
            oidc_client_secret=env.get("SCOPE_OIDC_CLIENT_SECRET") or None,
            oidc_group_roles=env.get("SCOPE_OIDC_GROUP_ROLES") or "",
            oidc_groups_claim=env.get("SCOPE_OIDC_GROUPS_CLAIM") or "groups",
            oidc_provider_name=env.get("SCOPE_OIDC_PROVIDER_NAME") or "",
            session_idle_minutes=_float("SCOPE_SESSION_IDLE_MINUTES", 30.0),
            session_max_hours=_float("SCOPE_SESSION_MAX_HOURS", 12.0),
            proxy_hops=int(_float("SCOPE_PROXY_HOPS", 0)),
            api_rate_limit=env.get("SCOPE_API_RATE_LIMIT") or "600 per minute",
            metrics_token=env.get("SCOPE_METRICS_TOKEN") or None,
            currency=(env.get("SCOPE_CURRENCY") or "USD").strip().upper(),
        )
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 0.0 < self.confidence_threshold < 1.0:
            raise ConfigError("SCOPE_CONFIDENCE_THRESHOLD must be between 0 and 1")
        if not 1 <= self.session_idle_minutes <= 24 * 60:
            raise ConfigError("SCOPE_SESSION_IDLE_MINUTES must be between 1 and 1440")
        if not 0.1 <= self.session_max_hours <= 24 * 30:
            raise ConfigError("SCOPE_SESSION_MAX_HOURS must be between 0.1 and 720")
        if not 0 <= self.proxy_hops <= 5:
            raise ConfigError("SCOPE_PROXY_HOPS must be between 0 and 5")
        if self.metrics_token is not None and len(self.metrics_token.strip()) < 16:
            raise ConfigError("SCOPE_METRICS_TOKEN must be at least 16 characters (a random value)")
        from services import currency

        if not currency.valid(self.currency):
            raise ConfigError(f"SCOPE_CURRENCY must be an ISO 4217 currency code such as USD, EUR or JPY, "
                              f"got {self.currency!r}")
        oidc_parts = (self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret)
        if any(oidc_parts) and not all(oidc_parts):
            raise ConfigError("single sign-on needs SCOPE_OIDC_ISSUER, SCOPE_OIDC_CLIENT_ID and "
                              "SCOPE_OIDC_CLIENT_SECRET together")
        if self.oidc_enabled and not self.oidc_group_map:
            raise ConfigError("SCOPE_OIDC_GROUP_ROLES must map at least one group to a role")
        if self.oidc_issuer and self.is_production and not self.oidc_issuer.startswith("https://"):
            raise ConfigError("SCOPE_OIDC_ISSUER must be an https:// address in production")
        if self.is_production:
            if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
                raise ConfigError(
                    "refusing to start in production without SECRET_KEY "
                    "(set a random value of at least 32 characters)"
                )
            if not self.database_url:
                raise ConfigError("refusing to start in production without DATABASE_URL")
            if self.smtp_host and not self.public_url:
                raise ConfigError("set SCOPE_PUBLIC_URL (e.g. https://scope.example.com) so emailed links "
                                  "point at this server")

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)
