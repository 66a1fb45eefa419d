"""Application factory: Flask server + Dash pages, for gunicorn (``app:server``)."""
from __future__ import annotations

import gc
import logging
from pathlib import Path

import dash
from flask import Flask

from config import Settings

ROOT = Path(__file__).resolve().parent
# Past this a request is refused (413) before it is read: the largest legitimate bodies are the
# API's 20 MB batches and a claim's 20 MB of documents (base64, ~27 MB) in a Dash callback.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> dash.Dash:
    settings = settings or Settings.from_env()
    settings.validate()
    from api import request_ids

    request_ids.install_logging()
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")

    from db.flask_db import db
    from db.session import resolve_database_url

    server = Flask(__name__)
    server.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=resolve_database_url(settings),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": settings.pool_size, "pool_pre_ping": True,
                                   "max_overflow": settings.pool_size * 2},
        # Cookie settings: auth.sessions.install.
        SCOPE_PRODUCTION=settings.is_production,
        SCOPE_SETTINGS=settings,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    db.init_app(server)
    request_ids.install(server)

    from api.health import bp as health_bp
    from api.v1 import bp as api_v1_bp
    from auth.login import bp as auth_bp
    from auth.login import login_manager

    login_manager.init_app(server)
    from auth import hardening

    hardening.install_request_checks(server, settings, api_v1_bp)
    server.register_blueprint(auth_bp)
    from auth import mfa as mfa_web
    from auth import oidc as oidc_web

    server.register_blueprint(mfa_web.bp)
    server.register_blueprint(oidc_web.bp)
    from auth.account_forms import bp as account_forms_bp

    server.register_blueprint(account_forms_bp)
    server.register_blueprint(health_bp)
    server.register_blueprint(api_v1_bp)
    from api import usage as usage_web

    server.register_blueprint(usage_web.bp)
    from api import claim_documents as claim_documents_web

    server.register_blueprint(claim_documents_web.bp)
    usage_web.install(server)

    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        serve_locally=True,
        suppress_callback_exceptions=True,
        title="SCOPE Assistant",
        update_title=None,
        external_stylesheets=[],
    )

    from components.shell import shell

    app.layout = shell
    import callbacks  # noqa: F401  (registers every callback)
    from auth import errors, guard

    guard.install(server, app)
    from api import metrics as metrics_web

    metrics_web.install(server, app)
    errors.install_page_not_found(server, dash.page_registry)
    hardening.install_responses(server, app, settings)
    finish_dash_setup(app)
    return app


def finish_dash_setup(dash_app: dash.Dash) -> None:
    """Dash finishes setting itself up in before_request hooks on the first request,
    and marks each done *before* doing it: in a fresh gthread worker a second request
    arriving meanwhile was served half set up (HTTP 500 "dash is not a registered
    library" on the scripts for the first seconds after every start or reload). Run
    them once here, before the server takes any request."""
    server = dash_app.server
    hooks = [fn for fn in server.before_request_funcs.get(None, [])
             if getattr(fn, "__name__", "") in ("_setup_server", "router_sync")]
    with server.test_request_context("/"):
        for fn in hooks:
            fn()


_default_app: dash.Dash | None = None


def settle_heap() -> None:
    """Move everything built so far (Dash, plotly, SQLAlchemy metadata: hundreds of
    thousands of long-lived objects) out of the garbage collector's generations.
    Without this, an occasional full collection during a request walks them all
    and costs 100+ ms (seen as the p95 tail of large exports in bench/)."""
    gc.collect()
    gc.freeze()


def warm_up(dash_app: dash.Dash):
    """Build what the first claim page would otherwise wait for (the similar-claims
    index: seconds of feature work) in the background of each web process."""
    from db.flask_db import independent_sessions
    from services.similar_claims import warm_up as warm_neighbours

    with dash_app.server.app_context():
        return warm_neighbours(independent_sessions())


def __getattr__(name: str):
    # gunicorn reads ``app:server``; build it on first access, not at import,
    # so importing this module never touches the database.
    global _default_app
    if name == "server":
        if _default_app is None:
            _default_app = create_app()
            settle_heap()
            warm_up(_default_app)
        return _default_app.server
    raise AttributeError(name)
