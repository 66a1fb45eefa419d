"""Liveness and readiness probes."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from db.flask_db import read_session
from services.models import champions_load

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {"database": False, "champion_model": False}
    session = read_session()
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = True
        checks["champion_model"] = champions_load(session)
    except Exception:  # readiness must answer, not crash; the cause goes to the log
        log.exception("readiness check failed")
    ready = all(checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), (200 if ready else 503)
