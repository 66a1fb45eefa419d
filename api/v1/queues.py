"""Department queues: a page of open claims."""
from __future__ import annotations

from flask import jsonify, request

from api.v1 import bp
from api.v1.auth import caller, require_scope
from api.v1.errors import ApiError
from db.flask_db import read_session
from services import audit
from services.access import AccessDenied, NotFound
from services.queues import MAX_PAGE, queue_page

DEFAULT_LIMIT = 50


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(422, "invalid query parameter", {name: f"must be a whole number from {low} to {high:,}"})
    return int(raw)


@bp.get("/queues/<department_code>")
@require_scope("queues:read")
def get_queue(department_code: str):
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, MAX_PAGE)
    offset = _int_arg("offset", 0, 0, 10_000_000)
    if len(department_code) > 40:
        raise ApiError(404, "no such department")
    session = read_session()
    try:
        rows, total = queue_page(session, caller().user, department_code, start=offset, end=offset + limit)
    except NotFound:
        raise ApiError(404, "no such department") from None
    except AccessDenied:
        session.rollback()
        audit.record_denied(session, caller().user, target=f"api queue {department_code}", ip=request.remote_addr)
        session.commit()
        raise ApiError(403, "this queue is outside your departments") from None
    return jsonify(department=department_code, total=total, limit=limit, offset=offset, claims=rows)
