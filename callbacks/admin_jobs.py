"""Jobs page: periodic refresh and Run now (admins only)."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate
from flask import current_app

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.row_actions import asked
from db.flask_db import WriteConflict, WriteFailed, independent_sessions, read_session, unit_of_work
from jobs import on_demand
from jobs.registry import JOBS
from jobs.runner import manual_slot, recent_runs, run_job
from jobs.scheduler import overview
from pages.admin_jobs import RUN_ASK, history_table, jobs_table


def _tables(job=None, hide_idle=True):
    session = read_session()
    # The client sends the filter: an unknown job name is ignored, not queried.
    job = job if isinstance(job, str) and job in JOBS else None
    return jobs_table(overview(session)), history_table(recent_runs(session, job=job, hide_idle=hide_idle is not False))


@secure_callback(
    Perm.MANAGE_JOBS,
    Output("jobs-list", "children"),
    Output("jobs-history", "children"),
    Input("jobs-refresh", "n_intervals"),
    Input("jobs-history-job", "value"),
    Input("jobs-history-hide-idle", "value"),
    prevent_initial_call=True,
)
def refresh(_n, job, hide_idle):
    return _tables(job, hide_idle)


@secure_callback(
    Perm.MANAGE_JOBS,
    Output("jobs-run-status", "children"),
    Output("jobs-list", "children", allow_duplicate=True),
    Output("jobs-history", "children", allow_duplicate=True),
    # "Run now" (slow jobs: after the question) puts the job in this store (assets/62-row-actions.js):
    # the buttons' own ids were posted, every one, each time the 5-second refresh redrew the list.
    Input(RUN_ASK, "data"),
    State("jobs-history-job", "value"),
    State("jobs-history-hide-idle", "value"),
    prevent_initial_call=True,
)
def run_now(ask, history_job, hide_idle):
    if not isinstance(ask, dict):
        raise PreventUpdate
    name = asked(ask, "job")
    if name not in JOBS:
        return dbc.Alert("Unknown job.", color="warning", className="mb-0"), no_update, no_update
    user = user_or_none()
    if JOBS[name].slow:
        # A slow job (retraining, the audit chain check) runs in the scheduler process, not on a
        # thread of this web worker: gunicorn restarts workers and times requests out, and a
        # deploy would kill the run half-way. The scheduler takes requests every 2 s.
        try:
            with unit_of_work() as session:
                _, new = on_demand.request_run(session, name, user.email)
        except (WriteConflict, WriteFailed):
            return (dbc.Alert("The run could not be asked for. Try again.", color="danger", className="mb-0",
                              id="jobs-run-result"), no_update, no_update)
        words = (f"{name}: asked the scheduler to run it; it starts within seconds and appears below."
                 if new else f"{name} is already asked for or running: no second run was queued.")
        return (dbc.Alert(words, color="info", className="mb-0", id="jobs-run-result"),
                *_tables(history_job, hide_idle))
    # Runs use sessions of their own (the runner commits claim, run and result separately).
    factory = independent_sessions()
    settings = current_app.config["SCOPE_SETTINGS"]
    kwargs = {"slot": manual_slot(), "triggered_by": user.email, "settings": settings}
    result = run_job(factory, name, **kwargs)
    status = result["status"]
    color = {"succeeded": "success", "failed": "danger"}.get(status, "secondary")
    text = f"{name}: {status}"
    if result.get("rows") is not None:
        text += f", {result['rows']:,} rows"
    if result.get("error"):
        text += f" ({result['error']})"
    elif (result.get("detail") or {}).get("reason"):
        text += f" ({result['detail']['reason']})"
    read_session().expire_all()
    return (dbc.Alert(text, color=color, className="mb-0", id="jobs-run-result"), *_tables(history_job, hide_idle))
