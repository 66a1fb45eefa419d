"""Scheduled jobs: schedule, last run and history of each job, and Run now."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed, page_header
from components.row_actions import ask_button
from db.flask_db import read_session
from jobs.runner import recent_runs
from jobs.schedule_words import schedule_in_words
from jobs.scheduler import overview

dash.register_page(__name__, path="/admin/jobs", title="Jobs · SCOPE Assistant", name="Jobs")

REFRESH_MS = 5000
STATUS_COLORS = {"succeeded": "success", "failed": "danger", "skipped": "secondary", "running": "primary"}


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _duration(run: dict | None) -> str:
    if not run or run.get("duration_s") is None:
        return "—"
    seconds = run["duration_s"]
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def describe_schedule(expression: str) -> str:
    """Plain words for the schedule, or "" when it has none (the cron expression is shown alone)."""
    return schedule_in_words(expression) or ""


def status_badge(status: str | None):
    if not status:
        return html.Span("never run", className="text-muted small")
    return dbc.Badge(status, color=STATUS_COLORS.get(status, "light"), className="job-status")


def _detail_text(run: dict) -> str:
    detail = run.get("detail") or {}
    if detail.get("reason"):
        return detail["reason"]
    if isinstance(detail.get("routed"), dict):
        return ", ".join(f"{ds}: {n} routed" for ds, n in detail["routed"].items()) or "no dataset has a champion"
    if isinstance(detail.get("datasets"), list):
        return (", ".join(f"{d.get('dataset')}: {d.get('status')}" for d in detail["datasets"])
                or "no champion to retrain")
    return ""


def _outcome(run: dict):
    if run.get("error"):
        return html.Span(run["error"], className="text-danger small")
    return html.Span(_detail_text(run), className="text-muted small")


def overdue_note(job: dict):
    """Under the status of a job whose scheduled run did not come."""
    since = job.get("overdue_since")
    if since is None:
        return None
    return html.Div([dbc.Badge("overdue", color="warning", text_color="dark", className="job-overdue me-1"),
                     html.Span(f"due {since:%Y-%m-%d %H:%M} UTC, no scheduled run since", className="small")],
                    className="mt-1")


def scheduler_warning(jobs: list[dict]):
    """A banner when scheduled runs stopped coming: the scheduler is a process of its own,
    and this page is where an admin would notice that it is down."""
    late = [j for j in jobs if j.get("overdue_since") is not None]
    if not late:
        return None
    names = ", ".join(j["job"] for j in late)
    oldest = min(j["overdue_since"] for j in late)
    return dbc.Alert([
        html.Strong("Scheduled runs are missing. "),
        f"{names} should have run by the scheduler since {oldest:%Y-%m-%d %H:%M} UTC and did not. "
        "Check that the scheduler process (", html.Code("scope scheduler"), ") is running and can reach the "
        "database (its log says why). Until then dashboard figures, routing of imported claims and alerts "
        "are not refreshed; Run now runs a job once.",
    ], color="warning", className="mb-3", id="jobs-scheduler-warning")


# A slow job (retrain) runs for minutes and may replace the champion model in the middle
# of the day: asked first. The quick ones run at once.
RUN_CONFIRM = {"retrain": "Retrain every dataset's router now? It takes minutes, and a version that beats "
                          "the champion replaces it at once for new claims (unless automatic promotion is "
                          "paused on Models)."}


# The list is redrawn every 5 s: its buttons ask through the card's store (components.row_actions),
# a Dash callback on their own ids was posted, with every button, at each redraw.
RUN_ASK = "jobs-run-ask"


def run_button(job: dict):
    name = job["job"]
    question = RUN_CONFIRM.get(name) or (f"Run {name} now? It is a slow job." if job.get("slow") else None)
    return ask_button("Run now…" if question else "Run now", RUN_ASK, {"job": name}, outline=True, confirm=question,
                      className="text-nowrap")


def _line(cls: str, said: bool) -> str:
    """The class of a cell that is a line on a phone only when it says something (a job never
    run has no rows, duration or outcome: jobs-nothing in assets/64-jobs.css)."""
    return cls if said else f"{cls} jobs-nothing"


def _rows(rows: int | None):
    return ("—" if rows is None else f"{rows:,}", _line("text-end", rows is not None))


def _said(outcome) -> bool:
    return outcome is not None and bool(outcome.children)


def _cells(cells, headers):
    """``(content, class)`` pairs as cells labelled by their column: on a phone each job, each
    run, is a block of labelled lines (stack-on-phone in assets/10-scope.css), where the tables
    scrolled sideways and the Run now buttons sat off the screen."""
    return [html.Td(value, className=cls, **{"data-label": label}) for (value, cls), label in zip(cells, headers)]


JOB_HEADERS = ("Job", "Last run (UTC)", "Schedule (UTC)", "Rows", "Duration", "Outcome", "")


def jobs_table(jobs: list[dict]):
    # How the last run went (and whether one is missing) right after the job's name: on a
    # phone it is the first line under the name.
    head = html.Thead(html.Tr([html.Th(h) for h in JOB_HEADERS]))
    rows = []
    for job in jobs:
        last = job["last_run"] or {}
        outcome = _outcome(last) if last else None
        cells = [
            (html.Div([html.Div(job["job"], className="fw-semibold font-monospace"),
                       html.Div(job["description"], className="small text-muted")]), None),
            (html.Div([status_badge(last.get("status")),
                       html.Div(_when(last.get("started_at")), className="small") if last else None,
                       overdue_note(job)]), None),
            (html.Div([html.Code(job["schedule"]),
                       html.Div(describe_schedule(job["schedule"]), className="small text-muted")]), None),
            _rows(last.get("rows")),
            (_duration(last), _line("small", last.get("duration_s") is not None)),
            (outcome, _line("jobs-outcome", _said(outcome))),
            (html.Div(run_button(job), className="jobs-run"), None),
        ]
        rows.append(html.Tr(_cells(cells, ("", *JOB_HEADERS[1:])), id=f"job-row-{job['job']}"))
    table = dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True,
                      className="mb-0 align-middle stack-on-phone jobs-stack", id="jobs-table")
    return html.Div([scheduler_warning(jobs), table])


RUN_HEADERS = ("Started (UTC)", "Job", "Triggered by", "Status", "Rows", "Duration", "Outcome")


def history_table(runs: list[dict]):
    if not runs:
        return html.P("No job has run yet.", className="text-muted mb-0")
    head = html.Thead(html.Tr([html.Th(h) for h in RUN_HEADERS]))
    rows = []
    for r in runs:
        outcome = _outcome(r)
        cells = [
            (_when(r["started_at"]), "small text-nowrap"),
            (r["job"], "font-monospace small"),
            (r["triggered_by"], "small"),
            (status_badge(r["status"]), None),
            _rows(r["rows"]),
            (_duration(r), "small"),
            (outcome, _line("jobs-outcome", _said(outcome))),
        ]
        rows.append(html.Tr(_cells(cells, RUN_HEADERS), className="job-history-row",
                            **{"data-job": r["job"], "data-status": r["status"]}))
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, size="sm",
                     className="mb-0 align-middle stack-on-phone jobs-stack", id="jobs-history-table")


def layout(**_query):
    user = page_user(Perm.MANAGE_JOBS, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    listed = overview(session)
    jobs = dbc.Card(dbc.CardBody([
        html.H5("Jobs", className="card-title"),
        dcc.Store(id=RUN_ASK),
        html.Div(jobs_table(listed), id="jobs-list"),
        html.Div(id="jobs-run-status", className="mt-3"),
    ]), className="shadow-sm mb-4")
    job_names = [j["job"] for j in listed]
    filters = html.Div([
        dbc.Select(id="jobs-history-job", value="all", size="sm", style={"width": "14rem"},
                   options=[{"label": "All jobs", "value": "all"}] + [{"label": n, "value": n} for n in job_names]),
        dbc.Switch(id="jobs-history-hide-idle", value=True, label="Hide runs with nothing to do",
                   className="mb-0 small"),
    ], className="d-flex align-items-center gap-3 flex-wrap")
    history = dbc.Card(dbc.CardBody([
        html.Div([html.H5("Last 50 runs", className="card-title mb-0"), filters],
                 className="d-flex justify-content-between align-items-center flex-wrap gap-2 mb-3"),
        html.Div(history_table(recent_runs(session, hide_idle=True)), id="jobs-history"),
    ]), className="shadow-sm mb-4")
    note = html.Span(["Schedules as this web server reads ", html.Code("SCOPE_SCHEDULE_<JOB>"),
                      " (give the scheduler the same); refreshes every 5 s."], className="small text-muted")
    return html.Div([
        page_header("Scheduled jobs", "Each scheduled slot runs once, however many schedulers are up.", right=note),
        jobs, history, dcc.Interval(id="jobs-refresh", interval=REFRESH_MS, n_intervals=0),
    ])
