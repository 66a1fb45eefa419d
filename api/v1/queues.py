"""Department queues: a page of open claims, and a cursor to the next one."""
from __future__ import annotations

import re

from flask import jsonify, request

from api.v1 import bp
from api.v1.auth import caller, require_scope
from api.v1.errors import ApiError
from db.flask_db import read_session
from services import audit
from services.access import AccessDenied, NotFound
from services.queues import MAX_OFFSET, MAX_PAGE, InvalidCursor, seek_queue

DEFAULT_LIMIT = 50
# ASCII digits only: str.isdigit() also takes "²" and "①" (int() then fails) and "١٢" (int() takes it).
_DIGITS = re.compile(r"[0-9]{1,9}", re.ASCII)


def _int_arg(name: str, default: int, low: int, high: int, hint: str = "") -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise ApiError(422, "invalid query parameter",
                       {name: f"must be a whole number from {low} to {high:,} in ASCII digits{hint}"})
    return int(raw)


@bp.get("/queues/<department_code>")
@require_scope("queues:read")
def get_queue(department_code: str):
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, MAX_PAGE)
    offset = _int_arg("offset", 0, 0, MAX_OFFSET, "; to page further, follow the next cursor (after=)")
    after = request.args.get("after")
    if after is not None and offset:
        raise ApiError(422, "invalid query parameter", {"offset": "cannot be combined with after"})
    if len(department_code) > 40:
        raise ApiError(404, "no such department")
    session = read_session()
    try:
        page = seek_queue(session, caller().user, department_code, limit=limit, offset=offset, after=after)
    except InvalidCursor as exc:
        raise ApiError(422, "invalid query parameter", {"after": str(exc)}) from None
    except NotFound:
        raise ApiError(404, "no such department") from None
    except AccessDenied:
        session.rollback()
        audit.record_denied(session, caller().user, target=f"api queue {department_code}", ip=request.remote_addr)
        session.commit()
        # Unlike a claim, a department's existence is no secret (every queue page names them), so the
        # caller learns why: the documented 403, as for a missing scope.
        raise ApiError(403, "this queue is outside your departments") from None
    return jsonify(department=department_code, total=page.total, total_estimated=page.estimated, limit=limit,
                   offset=offset, after=after, next=page.next, claims=page.rows)
