"""My work: the open claims assigned to the signed-in adjuster, across their departments."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed
from components.siu_cases import my_tasks_card
from pages.queues import initial_filters, queue_layout
from db.flask_db import read_session
from services.siu_case_tasks import my_open_task_count, my_open_tasks, today_utc
from services.siu_case_views import open_cases_led
from services.queues import MY_WORK_SCOPE, OPEN_STATUSES, lines_of_business, visible_departments

dash.register_page(__name__, path="/my-work", title="My work · SCOPE Assistant", name="My work")


def layout(f: str | None = None, **_query):
    user = page_user(Perm.GIVE_FEEDBACK, __name__)
    if user is None:
        return not_allowed()
    lines = lines_of_business(read_session(), [d.id for d in visible_departments(read_session(), user)])
    return queue_layout(user=user, page_key="my_work", scope=MY_WORK_SCOPE, statuses=OPEN_STATUSES, lines=lines,
                        title="My work", subtitle="Open claims assigned to you, in every department you work in.",
                        with_department=True, above=_siu(user), initial=initial_filters(f, open_only=True))


def _siu(user):
    parts = [p for p in (_cases(user), _tasks(user)) if p is not None]
    return html.Div(parts) if parts else None


def _tasks(user):
    """An investigator's open SIU tasks, due first: the steps of their investigations are work too."""
    session = read_session()
    tasks = my_open_tasks(session, user, limit=6)
    if not tasks:
        return None
    total, overdue = my_open_task_count(session, user)
    return my_tasks_card(tasks, total, overdue, today_utc())


def _cases(user):
    """An investigator's open SIU cases are work too: one line to them."""
    n = open_cases_led(read_session(), user)
    if not n:
        return None
    return dbc.Alert([f"You lead {n} open SIU case{'s' if n != 1 else ''}. ",
                      html.A("Open your cases", href="/siu-cases?mine=1", className="alert-link")],
                     color="light", className="py-2 small border", id="my-work-cases")
