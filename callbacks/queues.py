"""Queue grid and its filter panel (department queues and "My work").

Every value here comes from the browser: the services validate it and these
callbacks turn refusals into a message."""
from __future__ import annotations

import json
import logging

from dash import ClientsideFunction, Input, Output, State, clientside_callback, ctx, html, no_update
from dash.exceptions import PreventUpdate
from flask import current_app

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.queue_filters import (
    FORM_KEYS, PANEL_COLUMN, describe_filters, form_values, panel_filter_model, saved_options,
)
from db.flask_db import read_session, unit_of_work
from services.access import AccessDenied, NotFound
from services.queues import BAND_LABELS, MY_WORK_SCOPE, InvalidFilter, department_queue, my_work, parse_filters
from services.saved_filters import delete_filter, list_saved, load_filter, save_filter

log = logging.getLogger(__name__)
EMPTY = {"rowData": [], "rowCount": 0}
FORM = [State("qf-search", "value"), State("qf-statuses", "value"), State("qf-lines", "value"),
        State("qf-confidence", "value"), State("qf-amount-min", "value"), State("qf-amount-max", "value"),
        State("qf-date-field", "value"), State("qf-date-from", "value"), State("qf-date-to", "value"),
        State("qf-overdue", "value")]
FORM_OUT = [Output("qf-search", "value"), Output("qf-statuses", "value"), Output("qf-lines", "value"),
            Output("qf-confidence", "value"), Output("qf-amount-min", "value"), Output("qf-amount-max", "value"),
            Output("qf-date-field", "value"), Output("qf-date-from", "value"), Output("qf-date-to", "value"),
            Output("qf-overdue", "value")]
_form_values = form_values

# The applied filters go into the address (?f=…) without reloading the page, so Back from
# a claim, the claim page's back link and a bookmark open the queue filtered as it was.
clientside_callback(ClientsideFunction("scope", "queueUrl"), Output("queue-url-sink", "data"),
                    Input("queue-filters", "data"))


@secure_callback(
    Perm.VIEW_QUEUES,
    Output("queue-grid", "getRowsResponse"),
    Output("queue-status", "children"),
    Input("queue-grid", "getRowsRequest"),
    State("queue-department", "data"),
    prevent_initial_call=True,
)
def load_rows(request=None, department=None):
    if not isinstance(request, dict) or not isinstance(department, str):
        return no_update, "Bad request."
    try:
        start = int(request.get("startRow", 0))
        end = int(request.get("endRow", start + 100))
    except (TypeError, ValueError, OverflowError):
        return no_update, "Bad request."
    sort_model = request.get("sortModel") if isinstance(request.get("sortModel"), list) else None
    filter_model = request.get("filterModel") if isinstance(request.get("filterModel"), dict) else None
    user, session = user_or_none(), read_session()
    try:
        parsed = parse_filters(_panel_filters(filter_model))
        if department == MY_WORK_SCOPE:
            if not user.can(Perm.GIVE_FEEDBACK):
                raise AccessDenied("My work is for adjusters and managers.")
            page = my_work(session, user, start=start, end=end, sort_model=sort_model, filters=parsed)
            noun = "open claims assigned to you"
        else:
            page = department_queue(session, user, department, start=start, end=end, sort_model=sort_model,
                                    filter_model=filter_model, filters=parsed)
            noun = "claims" if parsed.statuses else "open claims"
    except (AccessDenied, NotFound, InvalidFilter) as exc:
        return EMPTY, str(exc)
    summary = describe_filters(parsed.to_json(), BAND_LABELS,
                               currency=current_app.config["SCOPE_SETTINGS"].currency)
    if page.count == 1 and not page.estimated:
        noun = noun.replace("claims", "claim", 1)  # "1 open claim assigned to you"
    return {"rowData": page.rows, "rowCount": page.total}, page.describe(noun) + (f" · {summary}" if summary else "")


def _panel_filters(filter_model: dict | None):
    """The panel filters a row request carries (see components.queue_filters)."""
    spec = (filter_model or {}).get(PANEL_COLUMN)
    if spec is None:
        return None
    payload = spec.get("filter") if isinstance(spec, dict) else None
    if not isinstance(payload, str) or len(payload) > 5000:
        raise InvalidFilter("The filters could not be read; clear them and try again.")
    try:
        data = json.loads(payload)
    except ValueError:
        raise InvalidFilter("The filters could not be read; clear them and try again.") from None
    if not isinstance(data, dict):
        raise InvalidFilter("The filters could not be read; clear them and try again.")
    return data.get("filters")


@secure_callback(
    Perm.VIEW_QUEUES,
    Output("queue-filters", "data"),
    Output("queue-revision", "data"),
    Output("queue-grid", "filterModel"),
    Output("qf-message", "children"),
    # "Saved “Big claims”." from an earlier save would read as if it were about what is applied now.
    Output("qf-saved-message", "children", allow_duplicate=True),
    *FORM_OUT,
    Input("qf-apply", "n_clicks"),
    Input("qf-search", "n_submit"),
    Input("qf-clear", "n_clicks"),
    Input("qf-saved", "value"),
    State("queue-revision", "data"),
    State("queue-page-key", "data"),
    *FORM,
    prevent_initial_call=True,
)
def apply_filters(_apply=None, _submit=None, _clear=None, saved_id=None, revision=None, page_key=None, *form):
    """Validate the panel (or a saved filter), store it and make the grid reload."""
    keep_form = (no_update,) * len(FORM_KEYS)
    revision = revision + 1 if isinstance(revision, int) and 0 <= revision < 10**9 else 1
    trigger = ctx.triggered_id
    try:
        if trigger == "qf-clear":
            parsed, form_out, note = parse_filters({}), _form_values({}), ""
        elif trigger == "qf-saved":
            if saved_id in (None, ""):
                raise PreventUpdate
            name, parsed = load_filter(read_session(), user_or_none(), saved_id)
            form_out, note = _form_values(parsed.to_json()), f"Applied \u201c{name}\u201d."
        else:
            parsed = parse_filters(dict(zip(FORM_KEYS, form)) if len(form) == len(FORM_KEYS) else {})
            form_out, note = keep_form, ""
        if page_key == "my_work" and any(s == "closed" for s in parsed.statuses):
            raise InvalidFilter("My work lists open claims only.")
    except (InvalidFilter, NotFound) as exc:
        return (no_update, no_update, no_update, _error(str(exc)), no_update) + keep_form
    applied = parsed.to_json()
    return (applied, revision, panel_filter_model(revision, applied), note, "") + form_out


def _error(text: str):
    return html.Span(text, className="text-danger")


@secure_callback(
    Perm.VIEW_QUEUES,
    Output("qf-saved", "options"),
    Output("qf-saved-message", "children"),
    Output("qf-save-name", "value"),
    Input("qf-save", "n_clicks"),
    Input("qf-save-name", "n_submit"),
    Input("qf-delete", "n_clicks"),
    State("qf-save-name", "value"),
    State("qf-saved", "value"),
    State("queue-page-key", "data"),
    *FORM,
    prevent_initial_call=True,
)
def manage_saved(_save=None, _submit=None, _delete=None, name=None, saved_id=None, page_key=None, *form):
    """Save the panel's filters under a name, or delete the picked saved filter."""
    user = user_or_none()
    try:
        with unit_of_work() as session:
            if ctx.triggered_id == "qf-delete":
                if saved_id in (None, ""):
                    return no_update, "Pick a saved filter to delete.", no_update
                gone = delete_filter(session, user, saved_id)
                note, name_out = f"Deleted \u201c{gone}\u201d.", no_update
            else:
                parsed = parse_filters(dict(zip(FORM_KEYS, form)) if len(form) == len(FORM_KEYS) else {})
                saved = save_filter(session, user, page_key, name, parsed)
                note, name_out = f"Saved \u201c{saved.name}\u201d.", ""
            options = saved_options([(s.id, s.name) for s in list_saved(session, user, page_key)])
    except (InvalidFilter, NotFound) as exc:
        return no_update, _error(str(exc)), no_update
    return options, note, name_out
