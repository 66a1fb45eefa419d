"""Reassignment board: load claims, show suggestions for the selection, move."""
from __future__ import annotations

import logging

import dash_bootstrap_components as dbc
from dash import Input, Output, State, html, no_update

from api.usage import track
from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from db.flask_db import WriteFailed, read_session, unit_of_work
from services.access import AccessDenied
from services.reassignment import (BOARD_MAX, MAX_BULK, ConflictError, ReassignError, board_rows, current_state,
                                   move_claims, parse_claim_numbers)
from services.suggestions import suggest

log = logging.getLogger(__name__)


def _text(value, limit: int = 100) -> str | None:
    # Codes and names are printable; PostgreSQL refuses NUL in a query.
    return value if isinstance(value, str) and 0 < len(value) <= limit and value.isprintable() else None


def _selected_ids(selected) -> list[int]:
    if not isinstance(selected, list):
        return []
    ids = []
    for row in selected[:BOARD_MAX]:
        value = row.get("id") if isinstance(row, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            ids.append(value)
    return ids


def _listing(department, status, line, numbers, adjuster) -> dict:
    """The board's filters from untrusted values, as board_rows takes them (also what the
    "reassign-loaded" store keeps, so a move can list the same claims again)."""
    pasted = parse_claim_numbers(numbers if isinstance(numbers, str) and len(numbers) <= BOARD_MAX * 42 else None)
    if isinstance(numbers, list):  # from the store: the numbers already parsed once
        pasted = parse_claim_numbers(" ".join(n for n in numbers[:BOARD_MAX] if isinstance(n, str)))
    return {"department_code": _text(department, 40), "status": _text(status, 20), "line": _text(line, 40),
            "claim_numbers": pasted or None,
            "adjuster_id": adjuster if isinstance(adjuster, int) and not isinstance(adjuster, bool) else None}


def _stored_listing(data) -> dict | None:
    if not isinstance(data, dict):
        return None
    listing = _listing(data.get("department_code"), data.get("status"), data.get("line"),
                       data.get("claim_numbers") if isinstance(data.get("claim_numbers"), list) else None,
                       data.get("adjuster_id"))
    return listing if listing["claim_numbers"] or listing["department_code"] or listing["adjuster_id"] else None


def _count_text(rows: list[dict], total: int, listing: dict) -> str:
    if listing["claim_numbers"]:
        return f"{len(rows):,} open claim{'' if len(rows) == 1 else 's'} from the pasted numbers"
    more = f" — showing the newest {len(rows):,}; narrow with status or line" if total > len(rows) else ""
    return f"{total:,} open claim{'' if total == 1 else 's'}{more}"


@secure_callback(
    Perm.REASSIGN,
    Output("reassign-grid", "rowData"),
    Output("reassign-status", "children"),
    Output("reassign-loaded", "data"),
    Input("reassign-load", "n_clicks"),
    State("reassign-source-dept", "value"),
    State("reassign-source-status", "value"),
    State("reassign-source-line", "value"),
    State("reassign-numbers", "value"),
    State("reassign-source-adjuster", "value"),
    prevent_initial_call=False,  # drawn with an adjuster chosen (Workload's links): list their claims at once
)
def load(_clicks, department, status, line, numbers, adjuster=None):
    listing = _listing(department, status, line, numbers, adjuster)
    if not listing["claim_numbers"] and not listing["department_code"] and listing["adjuster_id"] is None:
        if not _clicks:  # the page being drawn: its own hint stays
            return no_update, no_update, no_update
        return [], "Choose a department or an adjuster, or paste claim numbers first.", None
    try:
        rows, total = board_rows(read_session(), user_or_none(), **listing)
    except (AccessDenied, ReassignError) as exc:
        return [], str(exc), None
    text = _count_text(rows, total, listing)
    pasted = listing["claim_numbers"]
    if pasted:
        found = {r.get("claim_number") for r in rows}
        missing = [n for n in pasted if n not in found]
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10:,} more" if len(missing) > 10 else "")
        text += f" ({len(missing):,} not found, closed or not visible: {shown})" if missing else ""
    return rows, text + ".", listing


@secure_callback(
    Perm.REASSIGN,
    Output("reassign-selected", "children"),
    Output("reassign-target-adjuster", "options"),
    Output("reassign-adjuster-hints", "children"),
    Output("reassign-dept-hint", "children"),
    Input("reassign-grid", "selectedRows"),
    Input("reassign-target-dept", "value"),
)
def suggestions(selected, department):
    ids = _selected_ids(selected)
    info = suggest(read_session(), user_or_none(), ids, _text(department, 40))
    chosen = f"{len(ids)} selected" + (f" (at most {MAX_BULK} per move)" if len(ids) > MAX_BULK else "")
    options = [{"label": f"{a.name} — {a.open_claims}/{a.capacity} open", "value": a.id} for a in info["adjusters"]]
    hints = [html.Div(f"Best placed in {info['department'].name}:", className="small text-muted")] if options else []
    for a in info["adjusters"][:3]:
        hints.append(html.Div([html.Span(a.name, className="fw-semibold"), f" · score {a.score:.2f} · ", a.reason],
                              className="small suggestion " + ("text-danger" if a.over_capacity else "")))
    dept_hint = []
    if info["second_choices"]:
        top = info["second_choices"][0]
        dept_hint.append(html.Div(["Model's choice outside their department: ",
                                   html.Span(className="dept-dot", style={"backgroundColor": top.color}),
                                   f"{top.name} for {top.claims} of {len(ids)} (mean {top.mean_probability:.0%})"],
                                  id="reassign-second-choice"))
    if info["adjuster_suggestions"]:
        said = info["adjuster_suggestions"][0]
        dept_hint.append(html.Div(["Adjusters say: ", html.Span(className="dept-dot",
                                                                style={"backgroundColor": said.color}),
                                   f"{said.name} for {said.claims} of {len(ids)}"], id="reassign-adjusters-say"))
    return chosen, options, hints, dept_hint or None


def _merge(rows, fresh: list[dict]) -> list[dict]:
    if not isinstance(rows, list):
        return fresh
    by_id = {r["id"]: r for r in fresh}
    return [by_id.get(r.get("id"), r) if isinstance(r, dict) else r for r in rows]


def _error(exc: ReassignError) -> dbc.Alert:
    items = [html.Li(f"{p['claim']}: {p['problem']}") for p in exc.problems[:20]]
    more = len(exc.problems) - len(items)
    if more > 0:
        items.append(html.Li(f"and {more:,} more"))
    title = "Someone else changed these claims" if isinstance(exc, ConflictError) else "Nothing was moved"
    # The headline only: the full message repeats the list below it.
    text = exc.headline if items else exc.message
    if isinstance(exc, ConflictError):
        text += " Their rows now show them as they are: check them and move again."
    return dbc.Alert([html.Strong(title), html.P(text, className="mb-1"),
                      html.Ul(items, className="mb-0 small") if items else None],
                     color="warning" if isinstance(exc, ConflictError) else "danger", id="reassign-error")


def _after_move(result, listing: dict, relisted: tuple[list[dict], int]) -> str:
    """The board's count line after a move: the listing as it is now (same filters), and
    whether the moved claims are still in it."""
    rows, total = relisted
    listed = {r["id"] for r in rows}
    left = sum(1 for claim_id in result.versions if claim_id not in listed)
    if left == result.moved:
        fate = f"the {result.moved} moved claims left" if result.moved > 1 else "the moved claim left"
        fate += " this list"
    elif left:
        fate = f"{left:,} of the {result.moved} moved claims left this list; the rest show where they are now"
    else:
        fate = ("the moved claims stay listed and show where they are now" if result.moved > 1
                else "the moved claim stays listed and shows where it is now")
    return f"{_count_text(rows, total, listing)} after the move: {fate}."


@secure_callback(
    Perm.REASSIGN,
    Output("reassign-result", "children"),
    Output("reassign-grid", "rowData", allow_duplicate=True),
    Output("reassign-grid", "selectedRows"),
    Output("reassign-status", "children", allow_duplicate=True),
    Input("reassign-move", "n_clicks"),
    State("reassign-grid", "selectedRows"),
    State("reassign-grid", "rowData"),
    State("reassign-target-dept", "value"),
    State("reassign-target-adjuster", "value"),
    State("reassign-reason", "value"),
    State("reassign-comment", "value"),
    State("reassign-loaded", "data"),
    prevent_initial_call=True,
)
def move(_clicks, selected, rows, department, adjuster, reason, comment, loaded=None):
    if not isinstance(selected, list) or not selected:
        return dbc.Alert("Select the claims to move first.", color="info"), no_update, no_update, no_update
    if len(selected) > MAX_BULK:  # counted here: the service sees at most MAX_BULK + 1 of them
        return dbc.Alert(f"At most {MAX_BULK} claims can be moved at once; {len(selected):,} are selected. "
                         "Narrow the selection and move them in several batches.", color="danger",
                         id="reassign-error"), no_update, no_update, no_update
    items = [{"claim_id": r.get("id"), "version": r.get("version")} if isinstance(r, dict) else r
             for r in selected[:MAX_BULK + 1]]
    user = user_or_none()
    listing = _stored_listing(loaded)
    relisted = None
    try:
        with unit_of_work() as session:
            result = move_claims(session, user, items, department_code=department, adjuster_id=adjuster,
                                 reason=reason, comment=comment)
            fresh = current_state(session, list(result.versions))
            track(session, "reassigned")
            if listing:
                # The listing again, with the filters it was loaded with: its counts were those before the move.
                try:
                    relisted = board_rows(session, user, **listing)
                except (AccessDenied, ReassignError):
                    relisted = None  # e.g. the source department went inactive: keep the rows, updated
    except ConflictError as exc:
        return _error(exc), _merge(rows, exc.current), no_update, no_update
    except ReassignError as exc:
        return _error(exc), no_update, no_update, no_update
    except AccessDenied as exc:
        return dbc.Alert(str(exc), color="danger"), no_update, no_update, no_update
    except WriteFailed:
        log.exception("reassignment failed")
        return (dbc.Alert("The move failed; nothing was moved. Try again.", color="danger"), no_update, no_update,
                no_update)
    done = dbc.Alert(result.summary(), color="success", id="reassign-success")
    if relisted is None:
        return done, _merge(rows, fresh), [], (
            "Moved claims show where they are now; press Load claims for the listing's new count.")
    return done, relisted[0], [], _after_move(result, listing, relisted)
