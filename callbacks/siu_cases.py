"""SIU cases: opening a case (list page, claim page, ring page) and working one
(note, lead, claims, close, reopen). Every input is untrusted: the case key and
version come from the page's store, claim numbers from the user; the service
checks who may do what."""
from __future__ import annotations

import logging
import re
import uuid
from typing import Callable

from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate
from flask import current_app

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.claim_actions import flash
from components.row_actions import asked
from components.siu_cases import (TASK_ASK, activity, case_claims, case_href, case_summary, claim_case_card,
                                  claim_sent_back, close_question, task_list)
from db.flask_db import WriteConflict, WriteFailed, read_session, unit_of_work
from services import siu_case_tasks, siu_cases
from services.access import AccessDenied, NotFound, OutsideDepartments
from services.fraud_rings import get_ring
from services.siu_case_tasks import tasks_of_case, today_utc
from services.siu_case_views import (can_start_case, case_of_claim, get_case, open_case_for_ring,
                                     ring_claims_for_case)
from services.workflow import get_claim

log = logging.getLogger(__name__)
TEXT_MAX = 20_000   # a textarea's own limit is the browser's; the service says the real one


def _numbers(value) -> list[str]:
    if not isinstance(value, str) or len(value) > TEXT_MAX:
        raise siu_cases.CaseError("List the claim numbers, separated by commas or spaces.")
    out = list(dict.fromkeys(n for n in re.split(r"[\s,;]+", value) if n))
    if not out:
        raise siu_cases.CaseError("List the claim numbers, separated by commas or spaces.")
    return out


def _too_long(*values) -> bool:
    return any(isinstance(v, str) and len(v) > TEXT_MAX for v in values)


def _clicked() -> bool:
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


def _write(write: Callable, what: str, missing: str = "No such case here; reload the page."):
    """Run ``write(session)`` in its own transaction: (its result, None, False) when
    done, else (None, message, whether what the page shows is stale)."""
    try:
        with unit_of_work() as session:
            return write(session), None, False
    except siu_cases.CaseConflict as exc:
        return None, flash(str(exc), "warning"), True
    except siu_cases.CaseError as exc:
        return None, flash(str(exc), "danger"), False
    except (NotFound, OutsideDepartments):
        return None, flash(missing, "danger"), True
    except AccessDenied as exc:
        return None, flash(f"Not allowed: {exc}", "danger"), False
    except (WriteConflict, WriteFailed):
        return None, flash("Someone else changed this at the same moment; nothing was saved. Try again.",
                           "warning"), True
    except Exception:  # never a stack trace in the browser
        log.exception("SIU case: %s failed", what)
        return None, flash("Something went wrong; nothing was saved. Please try again.", "danger"), False


# --- Opening a case ----------------------------------------------------------------


@secure_callback(
    Perm.WORK_SIU_CASES,
    Output("siu-open-msg", "children"),
    Output("siu-open-go", "href"),
    Input("siu-open-submit", "n_clicks"),
    State("siu-open-claims", "value"),
    State("siu-open-title", "value"),
    prevent_initial_call=True,
)
def open_from_list(clicks, claims, title):
    if not clicks:
        raise PreventUpdate
    if _too_long(title):
        return flash("The title is far too long.", "danger"), no_update
    user = user_or_none()
    try:
        numbers = _numbers(claims)
    except siu_cases.CaseError as exc:
        return flash(str(exc), "danger"), no_update
    key, error, _ = _write(lambda s: siu_cases.open_case(s, user, numbers, title).key, "open")
    return (error, no_update) if error is not None else (None, case_href(key))


def _claim_card(user, claim_number: str, notice):
    session = read_session()
    claim = get_claim(session, user, claim_number)
    return claim_case_card(case_of_claim(session, user, claim.id), can_start=can_start_case(session, user, claim),
                           notice=notice)


@secure_callback(
    Perm.WORK_SIU_CASES,
    Output("siu-claim-area", "children"),
    Output("siu-claim-msg", "children"),
    Output("claim-refresh", "data", allow_duplicate=True),
    Input("siu-claim-open", "n_clicks"),
    Input("siu-claim-add", "n_clicks"),
    State("siu-claim-case", "value"),
    State("claim-key", "data"),
    prevent_initial_call=True,
)
def from_claim(_open, _add, case_key, claim_number):
    if not _clicked() or ctx.triggered_id not in ("siu-claim-open", "siu-claim-add"):
        raise PreventUpdate
    if not isinstance(claim_number, str) or not 0 < len(claim_number) <= 40:
        return no_update, flash("This claim does not exist.", "danger"), no_update
    user = user_or_none()
    adding = ctx.triggered_id == "siu-claim-add"
    # The case comes from the card's list of open cases; the service checks it is one (open, not full).
    if adding and not (isinstance(case_key, str) and 0 < len(case_key.strip()) <= 20):
        return no_update, flash("Choose the case to add it to.", "danger"), no_update

    def write(session):
        claim = get_claim(session, user, claim_number)   # the user's sight of the claim first
        if adding:
            siu_cases.add_claims(session, user, case_key, [claim.id])
            return case_key.strip().upper()
        return siu_cases.open_case(session, user, [claim.id]).key

    key, error, _ = _write(write, "add" if adding else "open",
                           "No such claim or open case here; reload the page.")
    if error is not None:
        return no_update, error, no_update
    done = f"Added to case {key}." if adding else f"Opened case {key}."
    notice = flash([done + " ", html.A("Go to the case", href=case_href(key))])
    return _claim_card(user, claim_number, notice), no_update, uuid.uuid4().hex


@secure_callback(
    Perm.WORK_SIU_CASES,
    # Done, the whole claim gives way to where it went: it has left SIU's queue (and an SIU
    # adjuster's sight), so none of the page's actions applies any more.
    Output("claim-page-body", "children"),
    Output("siu-claim-msg", "children", allow_duplicate=True),
    Input("siu-claim-back", "n_clicks"),
    State("siu-claim-back-note", "value"),
    State("claim-key", "data"),
    State("claim-seen", "data"),
    prevent_initial_call=True,
)
def send_back_from_claim(clicks, reason, claim_number, seen):
    if not clicks:
        raise PreventUpdate
    if _too_long(reason):
        return no_update, flash("The reason is far too long.", "danger")
    if not isinstance(claim_number, str) or not 0 < len(claim_number) <= 40:
        return no_update, flash("This claim does not exist.", "danger")
    version = seen.get("version") if isinstance(seen, dict) else None
    user = user_or_none()

    def write(session):
        claim = get_claim(session, user, claim_number)   # the user's sight of the claim first
        return siu_cases.send_back_claim(session, user, claim.id, version, reason)

    name, error, _ = _write(write, "send back", "No such claim in the Special Investigations queue; reload the page.")
    if error is not None:
        return no_update, error
    try:
        get_claim(read_session(), user, claim_number)
        still_visible = True          # managers see every department
    except (AccessDenied, NotFound):
        still_visible = False
    return claim_sent_back(claim_number, name, still_visible=still_visible), no_update


@secure_callback(
    Perm.WORK_SIU_CASES,
    Output("ring-case-msg", "children"),
    Output("ring-case-submit", "disabled"),
    Input("ring-case-submit", "n_clicks"),
    State("ring-case-key", "data"),
    prevent_initial_call=True,
)
def for_ring(clicks, ring_key):
    if not clicks:
        raise PreventUpdate
    user = user_or_none()

    def write(session):
        view = get_ring(session, user, ring_key) if isinstance(ring_key, str) and len(ring_key) <= 20 else None
        if view is None:
            raise siu_cases.CaseError("There is no such ring any more; rings are detected again every hour.")
        claims = [c.id for c in ring_claims_for_case(session, view)]
        if not claims:
            raise siu_cases.CaseError(f"No claim of ring {view.key} is in the SIU queue and in no case.")
        # A ring is worked as one case: its other claims join the case already investigating it.
        existing = open_case_for_ring(session, view)
        if existing is not None:
            siu_cases.add_claims(session, user, existing, claims)
            return existing, len(claims)
        return siu_cases.open_case(session, user, claims, ring_key=view.key).key, None

    done, error, _ = _write(write, "open for a ring")
    if error is not None:
        return error, no_update
    key, added = done
    text = (f"Opened case {key}. " if added is None
            else f"Added {added} claim{'s' if added != 1 else ''} to case {key}. ")
    return flash([text, html.A("Go to the case", href=case_href(key))]), True


# --- Working a case ------------------------------------------------------------------


def _case_key(data) -> tuple[str | None, int | None]:
    data = data if isinstance(data, dict) else {}
    key, version = data.get("key"), data.get("version")
    return (key if isinstance(key, str) else None), (version if isinstance(version, int) else None)


def _parts(user, key, parts: tuple[str, ...]):
    """(store, summary, claims, activity) as the case is now; no_update for what did not change."""
    session = read_session()
    view = get_case(session, user, key)
    if view is None:
        return (no_update,) * 4
    code = current_app.config["SCOPE_SETTINGS"].currency
    return ({"key": view.summary.key, "version": view.version},
            case_summary(view, code) if "summary" in parts else no_update,
            case_claims(view, code, can_edit=True) if "claims" in parts else no_update,
            activity(view) if "activity" in parts else no_update)


ALL_PARTS = ("summary", "claims", "activity")


def _on_case(data, write: Callable, done: str, what: str, *, parts: tuple[str, ...] = ALL_PARTS,
             clear: bool = False, then: str | None = None):
    """Outputs (message, store, summary, claims, activity, navigation[, cleared input]) of
    one change to the page's case. ``then`` (closed, reopened) renders the page again."""
    key, version = _case_key(data)
    user = user_or_none()
    _, error, stale = _write(lambda s: write(s, user, key, version), what)
    tail = (no_update,) if clear else ()
    if error is not None:
        # A stale page gets the case as it is now; the forms keep what the person typed.
        return error, *(_parts(user, key, ALL_PARTS) if stale and key else (no_update,) * 4), no_update, *tail
    if then is not None:
        return no_update, no_update, no_update, no_update, no_update, case_href(key, done=then), *tail
    return flash(done), *_parts(user, key, parts), no_update, *(("",) if clear else ())


def _case_outputs(*inputs, first: bool = False, clear: str | None = None, more: tuple = ()):
    dup = {} if first else {"allow_duplicate": True}
    outputs = [Output("siu-case-msg", "children", **dup), Output("siu-case-key", "data", **dup),
               Output("siu-case-summary", "children", **dup), Output("siu-case-claims-part", "children", **dup),
               Output("siu-case-activity", "children", **dup), Output("siu-case-nav", "href", **dup), *more]
    if clear:
        outputs.append(Output(clear, "value", allow_duplicate=True))
    return (*outputs, *inputs)


def _refused(message: str, *, clear: bool = False):
    return flash(message, "danger"), *(no_update,) * (5 + clear)


@secure_callback(Perm.WORK_SIU_CASES, *_case_outputs(Input("siu-note-submit", "n_clicks"), State("siu-note", "value"),
                                                      State("siu-case-key", "data"), first=True, clear="siu-note"),
                 prevent_initial_call=True)
def add_note(_clicks, note, data):
    if not _clicked():
        raise PreventUpdate
    if _too_long(note):
        return _refused("The note is far too long.", clear=True)
    return _on_case(data, lambda s, u, k, _v: siu_cases.add_note(s, u, k, note), "Note added.", "note",
                    parts=("activity",), clear=True)


@secure_callback(Perm.WORK_SIU_CASES, *_case_outputs(Input("siu-lead-submit", "n_clicks"), State("siu-lead", "value"),
                                                      State("siu-case-key", "data")),
                 prevent_initial_call=True)
def set_lead(_clicks, lead, data):
    if not _clicked():
        raise PreventUpdate
    lead = None if lead == 0 else lead   # "No lead" is 0 in the dropdown
    return _on_case(data, lambda s, u, k, v: siu_cases.set_lead(s, u, k, v, lead), "Lead changed.", "lead",
                    parts=("summary", "activity"))


def _close_inputs(outcome, findings, saved, send_back) -> str | None:
    """The close form checked before it is confirmed (the service checks again): a refusal, or None."""
    if _too_long(findings, saved):
        return "The findings are far too long."
    if not (send_back is None or (isinstance(send_back, list) and all(v == "back" for v in send_back))):
        return "Say whether the claims go back to their departments."
    try:
        if not isinstance(outcome, str) or outcome not in siu_cases.OUTCOME_LABELS:
            raise siu_cases.CaseError("Choose the outcome of the investigation.")
        siu_cases.check_findings(findings, saved)
    except siu_cases.CaseError as exc:
        return str(exc)
    return None


@secure_callback(Perm.WORK_SIU_CASES,
                 Output("siu-close-modal", "is_open"), Output("siu-close-text", "children"),
                 Output("siu-case-msg", "children", allow_duplicate=True),
                 Input("siu-close-submit", "n_clicks"), Input("siu-close-cancel", "n_clicks"),
                 State("siu-outcome", "value"), State("siu-findings", "value"), State("siu-saved", "value"),
                 State("siu-send-back", "value"), State("siu-case-key", "data"),
                 prevent_initial_call=True)
def ask_close(_clicks, _cancel, outcome, findings, saved, send_back, data):
    """"Close case…" says what closing will do (findings recorded, claims sent back out of SIU's
    sight) and asks; "Close the case" in that dialog closes it (close below)."""
    if not _clicked():
        raise PreventUpdate
    if ctx.triggered_id == "siu-close-cancel":
        return False, no_update, no_update
    refusal = _close_inputs(outcome, findings, saved, send_back)
    if refusal is not None:
        return False, no_update, flash(refusal, "danger")
    key, _ = _case_key(data)
    view = get_case(read_session(), user_or_none(), key)
    if view is None:
        return False, no_update, flash("No such case here; reload the page.", "danger")
    return True, close_question(view, outcome, bool(send_back)), None


@secure_callback(Perm.WORK_SIU_CASES, *_case_outputs(Input("siu-close-confirm", "n_clicks"),
                                                      State("siu-outcome", "value"), State("siu-findings", "value"),
                                                      State("siu-saved", "value"), State("siu-send-back", "value"),
                                                      State("siu-case-key", "data"),
                                                      more=(Output("siu-close-modal", "is_open",
                                                                   allow_duplicate=True),)),
                 prevent_initial_call=True)
def close(_clicks, outcome, findings, saved, send_back, data):
    if not _clicked():
        raise PreventUpdate
    if _too_long(findings, saved):
        return *_refused("The findings are far too long."), False
    if not (send_back is None or (isinstance(send_back, list) and all(v == "back" for v in send_back))):
        return *_refused("Say whether the claims go back to their departments."), False
    back = bool(send_back)
    return *_on_case(data, lambda s, u, k, v: siu_cases.close_case(s, u, k, v, outcome, findings, saved,
                                                                   send_back=back),
                     "Case closed.", "close", then="closed"), False


@secure_callback(Perm.WORK_SIU_CASES, *_case_outputs(Input("siu-reopen-submit", "n_clicks"),
                                                      State("siu-reopen-note", "value"), State("siu-case-key", "data")),
                 prevent_initial_call=True)
def reopen(_clicks, note, data):
    if not _clicked():
        raise PreventUpdate
    if _too_long(note):
        return _refused("The note is far too long.")
    return _on_case(data, lambda s, u, k, v: siu_cases.reopen_case(s, u, k, v, note), "Case reopened.", "reopen",
                    then="reopened")


@secure_callback(Perm.WORK_SIU_CASES, *_case_outputs(Input("siu-add-submit", "n_clicks"),
                                                      State("siu-add-claims", "value"), State("siu-case-key", "data"),
                                                      clear="siu-add-claims"),
                 prevent_initial_call=True)
def add_claims(_clicks, claims, data):
    if not _clicked():
        raise PreventUpdate
    try:
        numbers = _numbers(claims)
    except siu_cases.CaseError as exc:
        return _refused(str(exc), clear=True)
    return _on_case(data, lambda s, u, k, _v: siu_cases.add_claims(s, u, k, numbers),
                    f"Added {len(numbers)} claim{'s' if len(numbers) != 1 else ''}.", "add claims", clear=True)


# "Remove" on a claim's row opens the page's confirmation in the browser (assets/60-siu-cases.js,
# no request): a Dash callback on the rows' buttons would be called every time the claims
# are redrawn. Only the confirmation's button, drawn once with the page, calls the server.
@secure_callback(Perm.WORK_SIU_CASES, *_case_outputs(Input("siu-remove-confirm", "n_clicks"),
                                                      State("siu-remove-claim", "data"),
                                                      State("siu-case-key", "data"),
                                                      more=(Output("siu-remove-modal", "is_open"),)),
                 prevent_initial_call=True)
def remove_claim(_clicks, number, data):
    if not _clicked():
        raise PreventUpdate
    if not isinstance(number, str) or not 0 < len(number) <= 40:
        return *_refused("Choose the claim to take out of the case again."), False
    return *_on_case(data, lambda s, u, k, _v: siu_cases.remove_claim(s, u, k, number),
                     f"Removed {number:.40} from the case. It is still in the Special Investigations queue, in "
                     "no case: add it back with Add claims if that was a mistake.", "remove a claim"), False


# --- Tasks ---------------------------------------------------------------------------
# The rows' buttons (Done, Reopen, Edit, Remove) ask through the TASK_ASK store (assets/62-row-actions.js):
# the rows are redrawn after every change, and a callback on their own ids would be called again
# with every button at each redraw. The store carries the task's id and the version the row showed.


def _assignee_value(value) -> int | None:
    """The select's value (text) as a user id; anything else is sent on as is for the service to refuse."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12:
        return int(value)
    return value if value is not None else None


def _task_parts(user, key):
    """(tasks part, activity) as the case is now."""
    session = read_session()
    view = get_case(session, user, key)
    if view is None:
        return no_update, no_update
    open_ = view.summary.status == "open"
    return (task_list(tasks_of_case(session, user, view.summary.id), today_utc(), can_edit=open_, closed=not open_),
            activity(view))


def _on_tasks(data, write: Callable, done: str | Callable, what: str) -> tuple[bool, object, object, object]:
    """(whether it was done, message, tasks part, activity) after one change to the case's tasks;
    a stale page gets the tasks as they are now. ``done``: the message, or makes it of what ``write`` returned."""
    key, _ = _case_key(data)
    user = user_or_none()
    result, error, stale = _write(lambda s: write(s, user, key), what, "No such case or task here; reload the page.")
    if error is not None:
        return False, error, *(_task_parts(user, key) if stale and key else (no_update, no_update))
    return True, flash(done(result) if callable(done) else done), *_task_parts(user, key)


@secure_callback(Perm.WORK_SIU_CASES,
                 Output("siu-task-msg", "children"), Output("siu-case-tasks", "children"),
                 Output("siu-case-activity", "children", allow_duplicate=True),
                 Output("siu-task-title", "value"), Output("siu-task-details", "value"),
                 Output("siu-task-due", "value"),
                 Input("siu-task-add", "n_clicks"),
                 State("siu-task-title", "value"), State("siu-task-details", "value"),
                 State("siu-task-assignee", "value"), State("siu-task-due", "value"),
                 State("siu-case-key", "data"),
                 prevent_initial_call=True)
def add_task(_clicks, title, details, assignee, due, data):
    if not _clicked():
        raise PreventUpdate
    if _too_long(title, details, due):
        return flash("The task is far too long.", "danger"), *(no_update,) * 5
    who = _assignee_value(assignee)
    added, *out = _on_tasks(data, lambda s, u, k: siu_case_tasks.add_task(s, u, k, title, who, due, details),
                            "Task added.", "add a task")
    # Added: the form is emptied for the next one (the assignee stays: tasks come in batches for one person).
    return *out, *(("" if added else no_update),) * 3


@secure_callback(Perm.WORK_SIU_CASES,
                 Output("siu-task-msg", "children", allow_duplicate=True),
                 Output("siu-case-tasks", "children", allow_duplicate=True),
                 Output("siu-case-activity", "children", allow_duplicate=True),
                 Input(TASK_ASK, "data"), State("siu-case-key", "data"),
                 prevent_initial_call=True)
def task_row_action(ask, data):
    """A row's Done, Reopen or Remove (Remove was confirmed in the browser first)."""
    op, task_id, version = asked(ask, "op"), asked(ask, "id", int), asked(ask, "v", int)
    if op not in ("done", "reopen", "remove"):
        raise PreventUpdate            # an edit (task_edit_open), or a tampered ask
    if task_id is None:
        return flash("No such task on this case; reload the page.", "danger"), no_update, no_update
    if op == "remove":
        return _on_tasks(data, lambda s, u, k: siu_case_tasks.remove_task(s, u, k, task_id, version),
                         lambda title: f"Removed the task \u201c{title}\u201d.", "remove a task")[1:]
    finished = op == "done"
    return _on_tasks(data, lambda s, u, k: siu_case_tasks.set_done(s, u, k, task_id, version, finished),
                     "Task done." if finished else "Task reopened.", op + " a task")[1:]


@secure_callback(Perm.WORK_SIU_CASES,
                 Output("siu-task-edit-modal", "is_open"), Output("siu-task-edit-id", "data"),
                 Output("siu-task-edit-title", "value"), Output("siu-task-edit-details", "value"),
                 Output("siu-task-edit-assignee", "options"),
                 Output("siu-task-edit-assignee", "value"), Output("siu-task-edit-due", "value"),
                 Output("siu-task-edit-msg", "children"),
                 Output("siu-task-msg", "children", allow_duplicate=True),
                 Input(TASK_ASK, "data"), Input("siu-task-edit-cancel", "n_clicks"), State("siu-case-key", "data"),
                 prevent_initial_call=True)
def task_edit_open(ask, _cancel, data):
    """A row's Edit fills the dialog with the task as it is now (not as the row showed it)."""
    if ctx.triggered_id == "siu-task-edit-cancel":
        return False, *(no_update,) * 8
    if asked(ask, "op") != "edit":
        raise PreventUpdate
    task_id = asked(ask, "id", int)
    key, _ = _case_key(data)
    user = user_or_none()
    session = read_session()
    view = get_case(session, user, key)
    task = next((t for t in tasks_of_case(session, user, view.summary.id) if t.id == task_id), None) \
        if view is not None and task_id is not None else None
    if task is None or task.status != "open" or view.summary.status != "open":
        return False, *(no_update,) * 7, flash("No such open task on this case; reload the page.", "danger")
    options = [{"label": f"{name} (me)" if uid == user.id else name, "value": str(uid)}
               for uid, name in siu_case_tasks.assignee_choices(session, user, view.lead_id, task.assignee_id)]
    return (True, {"id": task.id, "v": task.version}, task.title, task.details or "", options, str(task.assignee_id),
            task.due.isoformat() if task.due else "", None, None)


@secure_callback(Perm.WORK_SIU_CASES,
                 Output("siu-task-edit-msg", "children", allow_duplicate=True),
                 Output("siu-case-tasks", "children", allow_duplicate=True),
                 Output("siu-case-activity", "children", allow_duplicate=True),
                 Output("siu-task-edit-modal", "is_open", allow_duplicate=True),
                 Output("siu-task-msg", "children", allow_duplicate=True),
                 Input("siu-task-edit-save", "n_clicks"),
                 State("siu-task-edit-id", "data"), State("siu-task-edit-title", "value"),
                 State("siu-task-edit-details", "value"),
                 State("siu-task-edit-assignee", "value"), State("siu-task-edit-due", "value"),
                 State("siu-case-key", "data"),
                 prevent_initial_call=True)
def task_edit_save(_clicks, which, title, details, assignee, due, data):
    if not _clicked():
        raise PreventUpdate
    if _too_long(title, details, due):
        return flash("The task is far too long.", "danger"), no_update, no_update, no_update, no_update
    which = which if isinstance(which, dict) else {}
    task_id, version = which.get("id"), which.get("v")
    who = _assignee_value(assignee)
    changed, message, tasks, events = _on_tasks(
        data, lambda s, u, k: siu_case_tasks.edit_task(s, u, k, task_id, version, title=title, assignee_id=who,
                                                        due=due, details=details), "Task changed.", "change a task")
    if changed:
        return None, tasks, events, False, message      # the dialog closes, the card says so
    return message, tasks, events, no_update, no_update
