"""My work: the open claims assigned to the signed-in adjuster, across their departments."""
from __future__ import annotations

import dash

from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed
from pages.queues import queue_layout
from db.flask_db import read_session
from services.queues import MY_WORK_SCOPE, OPEN_STATUSES, lines_of_business, visible_departments

dash.register_page(__name__, path="/my-work", title="My work · SCOPE Assistant", name="My work")


def layout(**_query):
    user = page_user(Perm.GIVE_FEEDBACK, __name__)
    if user is None:
        return not_allowed()
    lines = lines_of_business(read_session(), [d.id for d in visible_departments(read_session(), user)])
    return queue_layout(user=user, page_key="my_work", scope=MY_WORK_SCOPE, statuses=OPEN_STATUSES, lines=lines,
                        title="My work", subtitle="Open claims assigned to you, in every department you work in.",
                        with_department=True)
