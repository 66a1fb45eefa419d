"""Queue grid: server-side rows for the infinite row model."""
from __future__ import annotations

import logging

from dash import Input, Output, State, no_update

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from db.flask_db import read_session
from services.access import AccessDenied, NotFound
from services.queues import queue_page

log = logging.getLogger(__name__)


@secure_callback(
    Perm.VIEW_QUEUES,
    Output("queue-grid", "getRowsResponse"),
    Output("queue-status", "children"),
    Input("queue-grid", "getRowsRequest"),
    State("queue-department", "data"),
    prevent_initial_call=True,
)
def load_rows(request, department):
    if not isinstance(request, dict) or not isinstance(department, str):
        return no_update, "Bad request."
    try:
        start = int(request.get("startRow", 0))
        end = int(request.get("endRow", start + 100))
    except (TypeError, ValueError):
        return no_update, "Bad request."
    sort_model = request.get("sortModel") if isinstance(request.get("sortModel"), list) else None
    filter_model = request.get("filterModel") if isinstance(request.get("filterModel"), dict) else None
    try:
        rows, total = queue_page(read_session(), user_or_none(), department, start=start, end=end,
                                 sort_model=sort_model, filter_model=filter_model)
    except (AccessDenied, NotFound) as exc:
        return {"rowData": [], "rowCount": 0}, str(exc)
    return {"rowData": rows, "rowCount": total}, f"{total:,} open claims"
