"""Audit page callbacks: search (paged on the server), CSV export (itself
audited) and chain verification (asked of the scheduler process, followed
until it ends). Every filter value is untrusted."""
from __future__ import annotations

import datetime as dt
import logging

from dash import Input, Output, State, ctx, dcc, no_update
from dash.exceptions import PreventUpdate

from api.usage import track
from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.audit_log import VERIFY_JOB, chain_panel, entries_table, pager_text, verify_busy
from components.claim_actions import flash
from db.flask_db import WriteConflict, WriteFailed, read_session, unit_of_work
from jobs import on_demand
from services import audit

log = logging.getLogger(__name__)
FILTERS = (State("audit-actor", "value"), State("audit-action", "value"), State("audit-target", "value"),
           State("audit-date-from", "value"), State("audit-date-to", "value"))


def _page_number(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100_000 else 0


@secure_callback(
    Perm.VIEW_AUDIT,
    Output("audit-entries", "children"), Output("audit-pager", "children"), Output("audit-page", "data"),
    Output("audit-search-msg", "children"),
    Input("audit-actor", "value"), Input("audit-action", "value"), Input("audit-target", "value"),
    Input("audit-date-from", "value"), Input("audit-date-to", "value"),
    Input("audit-prev", "n_clicks"), Input("audit-next", "n_clicks"),
    # Turns True when a verification ends: its audit.verify entry then shows in the list and
    # the list's count matches the "N entries checked" above it without a reload.
    Input("audit-chain-poll", "disabled"),
    State("audit-page", "data"),
)
def search(actor, action, target, date_from, date_to, _prev, _next, _poll_off, page):
    try:
        filters = audit.parse_search(actor, action, target, date_from, date_to)
    except audit.InvalidSearch as exc:
        return no_update, no_update, no_update, flash(str(exc), "danger")
    page = _page_number(page)
    trigger = ctx.triggered_id
    if trigger == "audit-next":
        page += 1
    elif trigger == "audit-prev":
        page = max(0, page - 1)
    elif trigger != "audit-chain-poll":  # new filters start at the first page; a refresh stays put
        page = 0
    session = read_session()
    rows, total = audit.search_page(session, filters, page=page)
    last_page = max(0, (total - 1) // audit.PAGE_SIZE)
    if page > last_page:
        page = last_page
        rows, total = audit.search_page(session, filters, page=page)
    return entries_table(rows), pager_text(page, audit.PAGE_SIZE, total), page, None


@secure_callback(
    Perm.VIEW_AUDIT,
    Output("audit-download", "data"), Output("audit-search-msg", "children", allow_duplicate=True),
    Input("audit-export", "n_clicks"), *FILTERS,
    prevent_initial_call=True,
)
def export(clicks, actor, action, target, date_from, date_to):
    if not clicks:
        raise PreventUpdate
    try:
        filters = audit.parse_search(actor, action, target, date_from, date_to)
    except audit.InvalidSearch as exc:
        return no_update, flash(str(exc), "danger")
    user = user_or_none()
    try:
        with unit_of_work() as session:
            text, n = audit.export_csv(session, filters)
            # Reading the trail in bulk is itself an event worth keeping.
            audit.record(session, actor=user.email, actor_id=user.id, action="audit.export",
                         target_type="audit_log", after={"filters": filters.to_json(), "rows": n})
            track(session, "export")
    except (WriteConflict, WriteFailed):
        return no_update, flash("The export could not be recorded; nothing was exported. Try again.", "danger")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    note = f"Exported {n:,} entries." + (" (the newest only: narrow the filters)" if n >= audit.EXPORT_LIMIT else "")
    return dcc.send_string(text, f"audit-log-{stamp}.csv"), flash(note)


def _chain(session):
    state = on_demand.status(session, VERIFY_JOB)
    return chain_panel(state, audit.last_verification(session)), not verify_busy(state)


@secure_callback(
    Perm.VIEW_AUDIT,
    Output("audit-chain-status", "children"), Output("audit-chain-poll", "disabled"),
    Input("audit-verify", "n_clicks"),
    prevent_initial_call=True,
)
def verify_now(clicks):
    """Asks the scheduler process for a check (minutes at millions of rows: longer than a
    web request may take); the page then follows it through audit-chain-poll."""
    if not clicks:
        raise PreventUpdate
    user = user_or_none()
    try:
        with unit_of_work() as session:
            on_demand.request_run(session, VERIFY_JOB, user.email)
    except (WriteConflict, WriteFailed):
        log.exception("audit verification could not be asked for")
        return flash("The check could not be asked for. Try again.", "danger"), no_update
    return _chain(read_session())


@secure_callback(
    Perm.VIEW_AUDIT,
    Output("audit-chain-status", "children", allow_duplicate=True),
    Output("audit-chain-poll", "disabled", allow_duplicate=True),
    Input("audit-chain-poll", "n_intervals"),
    prevent_initial_call=True,
)
def follow_check(_n):
    session = read_session()
    session.expire_all()  # the scheduler's writes since this request's session last read
    return _chain(session)
