"""FNOL form submit: validate, store, score and route; show where it went and why."""
from __future__ import annotations

import datetime as dt
import logging
import re

import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update
from flask import current_app

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.common import dept_badge
from components.decision import decision_panel
from components.intake_parties import KEYS as PARTY_KEYS, input_id, input_ids
from db.flask_db import unit_of_work
from services import intake
from services.access import can_see_department
from services.intake import FIELDS
from services.intake_parties import LABELS as PARTY_LABELS

log = logging.getLogger(__name__)
NAMES = [f.name for f in FIELDS]
PARTY_INPUTS = input_ids()
_PARTY_ERROR = re.compile(r"^parties\[(\d+)\](?:\.(\w+))?$")
MAX_TEXT = 20_000  # anything longer is refused before it reaches the validator


def _fid(name: str) -> str:
    return f"intake-{name}"


def _parties(values: list) -> tuple[list[dict], list[int]]:
    """The filled party slots as the API takes them, and which slot each came from.
    A slot with nothing but its role is left out (the first starts as "Claimant")."""
    by_slot: dict[int, dict] = {}
    for (slot, key), value in zip(PARTY_INPUTS, values):
        if isinstance(value, str) and value.strip():
            by_slot.setdefault(slot, {})[key] = value[:MAX_TEXT]
    filled = [slot for slot, party in sorted(by_slot.items()) if set(party) - {"role"}]
    return [by_slot[slot] for slot in filled], filled


def _party_errors(errors: dict, slots: list[int]) -> tuple[set[tuple[int, str]], list[str]]:
    """The form inputs to mark and one line per problem ("Person or business 2: Phone must ...")."""
    marked, lines = set(), []
    for key, message in errors.items():
        match = _PARTY_ERROR.match(key)
        if key == "parties" or not match or int(match.group(1)) >= len(slots):
            if key.startswith("parties"):
                lines.append(f"People and businesses: {message}")
            continue
        slot, field = slots[int(match.group(1))], match.group(2)
        if field in PARTY_KEYS:
            marked.add((slot, field))
        label = "Role" if field == "role" else PARTY_LABELS.get(field, "")
        if field == "role":  # the form's role is a list: only "none chosen" can reach here
            message = "is required: choose one"
        lines.append(f"Person or business {slot + 1}: {label + ' ' if label else ''}{message}")
    return marked, lines


def _payload(values: list) -> dict:
    """Form values as the API would send them: empty inputs left out, yes/no as booleans."""
    payload = {}
    for f, value in zip(FIELDS, values):
        if value is None or value == "":
            continue
        if isinstance(value, str) and len(value) > MAX_TEXT:
            value = value[:MAX_TEXT]
        if f.kind == "boolean" and value in ("true", "false"):
            value = value == "true"
        payload[f.name] = value
    return payload


def _result(result: intake.IntakeResult, departments: dict, user) -> html.Div:
    dept = departments.get(result.department_code)
    link = (dcc.Link(f"Open {result.claim_number}", href=f"/claims/{result.claim_number}", id="intake-claim-link",
                     className="claim-link")
            if dept is not None and can_see_department(user, dept.id)
            else html.Span("It is outside your departments, so its page is not open to you.",
                           className="small text-muted"))
    head = dbc.Alert([
        html.Div([html.Strong(result.claim_number, id="intake-claim-number"), " was stored and routed to ",
                  dept_badge(dept.name, dept.color) if dept else html.Span(result.department_code or "—")],
                 id="intake-routed-to"),
        html.Div(link, className="mt-2"),
    ], color="success", className="shadow-sm")
    currency = current_app.config["SCOPE_SETTINGS"].currency
    panel = (decision_panel(result.decision, departments, currency) if result.decision
             else html.P("No decision stored."))
    return html.Div([head, panel])


@secure_callback(
    Perm.CREATE_CLAIMS,
    *[Output(_fid(n), "invalid") for n in NAMES],
    *[Output(_fid(n) + "-feedback", "children") for n in NAMES],
    Output("intake-result", "children"),
    *[Output(_fid(n), "value") for n in NAMES],
    *[Output(input_id(slot, key), "invalid") for slot, key in PARTY_INPUTS],
    *[Output(input_id(slot, key), "value") for slot, key in PARTY_INPUTS],
    Output("intake-parties-feedback", "children"),
    Output("intake-parties-more", "open"),
    Input("intake-submit", "n_clicks"),
    *[State(_fid(n), "value") for n in NAMES],
    *[State(input_id(slot, key), "value") for slot, key in PARTY_INPUTS],
    # A second click while the first is stored, or on the still-filled form after it,
    # would store the same claim twice: the button is off meanwhile and a stored claim
    # empties the form (its number and link stay in the result below).
    running=[(Output("intake-submit", "disabled"), True, False)],
    prevent_initial_call=True,
)
def submit(n_clicks, *values):
    expected = len(NAMES) + len(PARTY_INPUTS)
    values = list(values) if len(values) == expected else [None] * expected
    claim_values, party_values = values[:len(NAMES)], values[len(NAMES):]
    parties, slots = _parties(party_values)
    payload = _payload(claim_values) | ({"parties": parties} if parties else {})
    user = user_or_none()
    settings = current_app.config["SCOPE_SETTINGS"]
    unmarked = [False] * len(PARTY_INPUTS)
    keep = [no_update] * len(PARTY_INPUTS)
    try:
        with unit_of_work() as session:
            result = intake.create_claim(session, payload, user, threshold=settings.confidence_threshold,
                                         currency=settings.currency)
            departments = intake.departments_by_code(session)
    except intake.IntakeInvalid as exc:
        errors = exc.errors
        messages = [errors.get(n) for n in NAMES]
        marked, lines = _party_errors(errors, slots)
        summary = dbc.Alert(f"Please correct {len(errors)} field{'s' if len(errors) != 1 else ''}; nothing was stored.",
                            color="danger", id="intake-errors")
        return (*[m is not None for m in messages], *[m and f"{_label(n)} {m}" for n, m in zip(NAMES, messages)],
                summary, *[no_update] * len(NAMES), *[i in marked for i in PARTY_INPUTS], *keep,
                [html.Div(line) for line in lines], True if any(slot for slot, _ in marked) else no_update)
    except intake.IntakeUnavailable as exc:
        return (*[False] * len(NAMES), *[None] * len(NAMES), dbc.Alert(str(exc), color="warning"),
                *[no_update] * len(NAMES), *unmarked, *keep, None, no_update)
    return (*[False] * len(NAMES), *[None] * len(NAMES), _result(result, departments, user),
            *[_initial(n) for n in NAMES], *unmarked,
            *["claimant" if (slot, key) == (0, "role") else None for slot, key in PARTY_INPUTS], None, False)


def _initial(name: str):
    """A field's value on a fresh form (as pages/intake.py renders it)."""
    return dt.date.today().isoformat() if name == "report_date" else None


def _label(name: str) -> str:
    return intake.BY_NAME[name].label
