"""Departments page: save one department's service level (admins only).
Ids and values come from the browser, so the service validates them."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, no_update

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from db.flask_db import WriteConflict, WriteFailed, read_session, unit_of_work
from pages.admin_departments import departments_table
from services import departments
from services.access import AccessDenied

SAVE_FAILED = "Nothing was saved: the database refused the change. Try again."


def _alert(text: str, color: str):
    return dbc.Alert(text, color=color, className="py-2 px-3 mb-0 small", id="departments-result")


def _typed_value(department_id):
    """The number typed in the row of ``department_id`` (None when the row is not on the page)."""
    for item in (ctx.states_list[0] if ctx.states_list else []):
        if isinstance(item, dict) and isinstance(item.get("id"), dict) and item["id"].get("id") == department_id:
            return item.get("value")
    return None


@secure_callback(
    Perm.MANAGE_DEPARTMENTS,
    Output("departments-status", "children"),
    Output("departments-list", "children"),
    Input({"type": "dept-sla-save", "id": ALL}, "n_clicks"),
    State({"type": "dept-sla", "id": ALL}, "value"),
    State("departments-loaded", "data"),
    prevent_initial_call=True,
)
def save(clicks, _values, loaded):
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(isinstance(c, int) and c > 0 for c in (clicks or [])):
        return no_update, no_update
    user = user_or_none()
    department_id = trigger.get("id")
    expected = loaded.get(str(department_id)) if isinstance(loaded, dict) else None
    try:
        with unit_of_work() as session:
            dept, before = departments.set_service_level(session, user, department_id,
                                                         _typed_value(department_id), expected=expected)
            done = (f"Saved: {dept.name} has a service level of {dept.sla_days} days (was {before}). "
                    "Workload and Operations use it now; dashboard SLA breaches follow at the next "
                    "aggregates refresh.")
    except departments.NothingChanged as exc:
        return _alert(str(exc), "info"), no_update
    except departments.LevelConflict as exc:
        # Show the current levels, so that saving again compares against them.
        return _alert(str(exc), "warning"), departments_table(departments.department_rows(read_session(), user))
    except (departments.DepartmentError, AccessDenied) as exc:
        return _alert(str(exc), "danger"), no_update
    except (WriteConflict, WriteFailed):
        return _alert(SAVE_FAILED, "danger"), no_update
    departments.forget_cached_reads()
    return _alert(done, "success"), departments_table(departments.department_rows(read_session(), user))
