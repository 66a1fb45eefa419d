"""Tasks on an SIU case, on the web: the case page's Tasks card, the cases list's counts and
"My work"; the task callbacks as the browser posts them (the rows' buttons ask through the
siu-task-ask store), refused to the signed-out, viewers and adjusters outside SIU, and to
tampered or stale payloads, which change nothing.

The web database is shared by the whole test session: each test makes its own cases."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from sqlalchemy import func, select

from components.siu_cases import TASK_ASK
from db.models import AuditLog, SiuCase, SiuCaseEvent, SiuCaseTask, User
from tests.integration.test_siu_cases_web import (INVESTIGATOR, MANAGER, NOT_ALLOWED, _ok, _own_case, _user,
                                                  clients)  # noqa: F401  (clients: a fixture)
from tests.webutil import render_page as _render

TODAY = dt.datetime.now(dt.timezone.utc).date()


def render_page(client, path: str, search: str = "") -> tuple[int, str]:
    """The page as the browser gets it, its text unescaped ("3 open · 1 overdue", not \\u00b7)."""
    status, body = _render(client, path, search)
    return status, (json.dumps(json.loads(body), ensure_ascii=False) if status == 200 else body)


def _add_task(app_session, key: str, title: str, *, email: str = INVESTIGATOR[0], **kw) -> tuple[int, int]:
    from services import siu_case_tasks

    def add(s):
        task = siu_case_tasks.add_task(s, _user(s, email), key, title, **kw)
        return task.id, task.version

    return app_session(add)


def _tasks(app_session, key: str) -> list[tuple]:
    """(title, status, assignee, due, version) of the case's tasks, by id."""
    return app_session(lambda s: [tuple(r) for r in s.execute(
        select(SiuCaseTask.title, SiuCaseTask.status, SiuCaseTask.assignee_id, SiuCaseTask.due_date,
               SiuCaseTask.version).join(SiuCase, SiuCase.id == SiuCaseTask.case_id)
        .where(SiuCase.key == key).order_by(SiuCaseTask.id))])


def _writes(app_session, key: str) -> tuple[int, int]:
    """How many activity and audit rows the case has: a refusal adds none."""
    return app_session(lambda s: (
        s.scalar(select(func.count()).select_from(SiuCaseEvent).join(SiuCase).where(SiuCase.key == key)),
        s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.target_id == key))))


def _key(web_app, *, inputs: str, has: str, lacks: str | None = None) -> str:
    keys = [k for k, e in web_app.callback_map.items()
            if any(inputs == i.get("id") for i in e.get("inputs", [])) and has in k and (lacks is None or lacks not in k)]
    assert len(keys) == 1, keys
    return keys[0]


def _post(web_app, client, key: str, inputs: list, state: list):
    from tests.webutil import outputs_of

    return client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs_of(key),
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
    })


def _add(web_app, client, data, title, assignee=None, due=None, details=None):
    key = _key(web_app, inputs="siu-task-add", has="siu-task-title.value")
    return _post(web_app, client, key, [("siu-task-add", "n_clicks", 1)],
                 [("siu-task-title", "value", title), ("siu-task-details", "value", details),
                  ("siu-task-assignee", "value", assignee),
                  ("siu-task-due", "value", due), ("siu-case-key", "data", data)])


def _ask(web_app, client, data, ask):
    """A row's Done / Reopen / Remove, as assets/62-row-actions.js puts it in the store."""
    key = _key(web_app, inputs=TASK_ASK, has="siu-case-tasks.children", lacks="edit")
    return _post(web_app, client, key, [(TASK_ASK, "data", ask)], [("siu-case-key", "data", data)])


def _edit_open(web_app, client, data, ask):
    key = _key(web_app, inputs=TASK_ASK, has="siu-task-edit-modal.is_open")
    return _post(web_app, client, key, [(TASK_ASK, "data", ask), ("siu-task-edit-cancel", "n_clicks", None)],
                 [("siu-case-key", "data", data)])


def _edit_save(web_app, client, data, which, title, assignee, due, details=""):
    key = _key(web_app, inputs="siu-task-edit-save", has="siu-task-edit-msg.children")
    return _post(web_app, client, key, [("siu-task-edit-save", "n_clicks", 1)],
                 [("siu-task-edit-id", "data", which), ("siu-task-edit-title", "value", title),
                  ("siu-task-edit-details", "value", details),
                  ("siu-task-edit-assignee", "value", assignee), ("siu-task-edit-due", "value", due),
                  ("siu-case-key", "data", data)])


def _clicked(op: str, task_id, version) -> dict:
    return {"op": op, "id": task_id, "v": version, "at": time.time() * 1000}


def _every_task_callback(web_app, client, key: str, task_id: int):
    data = {"key": key, "version": 1}
    yield "add", _add(web_app, client, data, "Sneaked in")
    yield "done", _ask(web_app, client, data, _clicked("done", task_id, 1))
    yield "edit open", _edit_open(web_app, client, data, _clicked("edit", task_id, 1))
    yield "edit save", _edit_save(web_app, client, data, {"id": task_id, "v": 1}, "Renamed", None, None)
    yield "remove", _ask(web_app, client, data, _clicked("remove", task_id, 1))


# --- Pages -----------------------------------------------------------------------------------


def test_case_page_shows_the_tasks_card_open_and_overdue_first(clients, app_session):  # noqa: F811
    key, _ = _own_case(app_session, 1)
    _add_task(app_session, key, "Interview the repair shop", due=TODAY + dt.timedelta(days=5))
    late = TODAY - dt.timedelta(days=4)
    _add_task(app_session, key, "Request the claimant's bank statements", due=late)
    status, body = render_page(clients("investigator"), "/siu-cases", f"?case={key}")
    assert status == 200 and "siu-tasks-card" in body and "siu-task-add" in body
    assert f"Overdue since {late.day} {late:%b}" in body
    assert body.index("Request the claimant") < body.index("Interview the repair shop")   # overdue first
    assert "2 open · 1 overdue" in body and '"data-ask": "siu-task-ask"' in body
    # The cases list counts them.
    _, body = render_page(clients("investigator"), "/siu-cases")
    assert "open tasks" in body and "siu-case-tasks-count" in body


def test_closed_case_tasks_are_shown_read_only(clients, app_session):  # noqa: F811
    from services import siu_cases

    key, _ = _own_case(app_session, 1)
    _add_task(app_session, key, "Pull the police report", due=TODAY - dt.timedelta(days=3))
    app_session(lambda s: siu_cases.close_case(s, _user(s, MANAGER), key, 1, "inconclusive", "Unclear."))
    status, body = render_page(clients("investigator"), "/siu-cases", f"?case={key}")
    assert status == 200 and "Pull the police report" in body
    assert "its tasks are read-only" in body and "siu-task-add" not in body
    assert '"op"' not in body     # no Done / Reopen / Edit button
    # Left undone when it closed, not "overdue": nobody is asked to do it any more.
    assert "Not done when the case closed" in body and "Overdue since" not in body and "1 not done" in body


def test_viewer_and_outside_adjuster_see_no_tasks(clients, app_session):  # noqa: F811
    key, _ = _own_case(app_session, 1)
    _add_task(app_session, key, "Secret step of the investigation")
    for role in ("viewer", "adjuster"):
        status, body = render_page(clients(role), "/siu-cases", f"?case={key}")
        assert status == 200 and "Secret step" not in body and "siu-tasks-card" not in body, role


def test_my_work_lists_my_siu_tasks_due_first_with_a_link_to_the_case(clients, app_session):  # noqa: F811
    key, _ = _own_case(app_session, 1)
    _add_task(app_session, key, "Later step for me", due=TODAY + dt.timedelta(days=60))
    _add_task(app_session, key, "Overdue step for me", due=TODAY - dt.timedelta(days=300))
    status, body = render_page(clients("investigator"), "/my-work")
    assert status == 200 and "My SIU tasks" in body and "my-work-siu-tasks" in body
    # The list is short (the soonest due); the long overdue one is at its top, linked to its case.
    assert "Overdue step for me" in body and f"/siu-cases?case={key}" in body
    assert "Later step for me" not in body or body.index("Overdue step for me") < body.index("Later step for me")
    for role in ("adjuster", "viewer"):
        status, body = render_page(clients(role), "/my-work")
        assert status == 200 and "my-work-siu-tasks" not in body, role


# --- Refusals --------------------------------------------------------------------------------


def test_signed_out_posts_get_401(web_app, app_session):
    key, _ = _own_case(app_session, 1)
    task_id, _ = _add_task(app_session, key, "Pull the report")
    client = web_app.server.test_client()
    for name, response in _every_task_callback(web_app, client, key, task_id):
        assert response.status_code == 401, name
    assert _tasks(app_session, key) == [("Pull the report", "open", _tasks(app_session, key)[0][2], None, 1)]


def test_viewers_get_403_and_outside_adjusters_are_told_no(web_app, clients, app_session):  # noqa: F811
    key, _ = _own_case(app_session, 1)
    task_id, _ = _add_task(app_session, key, "Pull the report")
    before, writes = _tasks(app_session, key), _writes(app_session, key)
    for name, response in _every_task_callback(web_app, clients("viewer"), key, task_id):
        assert response.status_code == 403, name
    for name, response in _every_task_callback(web_app, clients("adjuster"), key, task_id):
        body = _ok(response)
        if name != "edit open":     # a read: the case reads as not found
            assert NOT_ALLOWED in body, (name, body[:300])
        assert "Pull the report" not in body, name
    assert _tasks(app_session, key) == before and _writes(app_session, key) == writes


# --- Work and tampering through the callbacks ---------------------------------------------------


def test_add_done_reopen_and_edit_through_the_callbacks(web_app, clients, app_session):  # noqa: F811
    key, _ = _own_case(app_session, 1)
    client = clients("investigator")
    data = {"key": key, "version": 1}
    me = app_session(lambda s: s.scalar(select(User.id).where(User.email == INVESTIGATOR[0])))
    body = _ok(_add(web_app, client, data, "Request the claimant's bank statements", str(me), "2026-12-03"))
    assert "Task added." in body and "bank statements" in body
    [(title, status, assignee, due, version)] = _tasks(app_session, key)
    assert (status, assignee, due, version) == ("open", me, dt.date(2026, 12, 3), 1)
    task_id = app_session(lambda s: s.scalar(select(func.max(SiuCaseTask.id))))
    body = _ok(_ask(web_app, client, data, _clicked("done", task_id, 1)))
    assert "Task done." in body and "Reopen" in body
    body = _ok(_ask(web_app, client, data, _clicked("reopen", task_id, 2)))
    assert "Task reopened." in body
    body = _ok(_edit_open(web_app, client, data, _clicked("edit", task_id, 3)))
    assert "Request the claimant" in body and '"is_open":true' in body.replace(" ", "")
    manager = app_session(lambda s: s.scalar(select(User.id).where(User.email == MANAGER)))
    body = _ok(_edit_save(web_app, client, data, {"id": task_id, "v": 3}, "Bank statements, 12 months",
                          str(manager), ""))
    assert "Task changed." in body
    assert _tasks(app_session, key) == [("Bank statements, 12 months", "open", manager, None, 4)]
    kinds = app_session(lambda s: list(s.scalars(select(SiuCaseEvent.kind).join(SiuCase).where(SiuCase.key == key)
                                                 .order_by(SiuCaseEvent.id))))
    assert kinds[-4:] == ["task_added", "task_done", "task_reopened", "task_edited"]


@pytest.mark.parametrize("ask", [
    None, "done", 5, [], {}, {"op": "done"}, {"op": "done", "id": "1", "v": 1, "at": 1},
    {"op": "done", "id": True, "v": 1, "at": 1}, {"op": "done", "id": 2**62, "v": 1, "at": 1},
    {"op": "done", "id": -1, "v": 1, "at": 1}, {"op": "delete", "id": 1, "v": 1, "at": 1},
    {"op": "done", "id": 1, "v": 1},   # no click time: not from the page's script
    {"op": "remove", "id": 1, "v": 1}, {"op": "remove", "id": "1", "v": 1, "at": 1},
    {"op": "remove", "id": None, "v": 1, "at": 1}, {"op": "Remove", "id": 1, "v": 1, "at": 1},
    {"op": ["remove"], "id": 1, "v": 1, "at": 1},
])
def test_tampered_asks_change_nothing(web_app, clients, app_session, ask):  # noqa: F811
    key, _ = _own_case(app_session, 1)
    _add_task(app_session, key, "Pull the report")
    before, writes = _tasks(app_session, key), _writes(app_session, key)
    response = _ask(web_app, clients("investigator"), {"key": key, "version": 1}, ask)
    assert response.status_code in (200, 204) and "Traceback" not in response.get_data(as_text=True)
    assert "Task done." not in response.get_data(as_text=True)
    assert "Removed the task" not in response.get_data(as_text=True)
    assert _tasks(app_session, key) == before and _writes(app_session, key) == writes


def test_bad_input_stale_versions_and_another_cases_task(web_app, clients, app_session):  # noqa: F811
    key, _ = _own_case(app_session, 1)
    other, _ = _own_case(app_session, 1)
    task_id, _ = _add_task(app_session, key, "Pull the report")
    foreign, _ = _add_task(app_session, other, "Elsewhere")
    adjuster = app_session(lambda s: s.scalar(select(User.id).where(User.email == "adjuster@scope.example")))
    client = clients("investigator")
    data = {"key": key, "version": 1}
    before, writes = _tasks(app_session, key), _writes(app_session, key)
    for title, assignee, due, message in (
            ("", None, None, "Write the task"), ("x" * 201, None, None, "too long"),
            (None, None, None, "Write the task"), (["a"], None, None, "must be text"),
            ("Ok", None, "03/12/2026", "date like 2026-12-31"), ("Ok", None, "2026-13-01", "There is no day"),
            ("Ok", "abc", None, "Choose who does the task"), ("Ok", "99999999", None, "no such active user"),
            ("Ok", str(adjuster), None, "does not work SIU cases"), ("Ok", None, "x" * 30_000, "far too long")):
        body = _ok(_add(web_app, client, data, title, assignee, due))
        assert message in body and "Task added." not in body, (title, assignee, due, body[:300])
    for bad in (None, {}, {"key": "C-999999999", "version": 1}, {"key": 5}):
        assert "No such case or task here" in _ok(_add(web_app, client, bad, "Lost"))
    # A stale row: someone finished the task meanwhile; the card is redrawn as it is now.
    from services import siu_case_tasks

    app_session(lambda s: siu_case_tasks.set_done(s, _user(s, MANAGER), key, task_id, 1, True))
    before, writes = _tasks(app_session, key), _writes(app_session, key)
    body = _ok(_ask(web_app, client, data, _clicked("done", task_id, 1)))
    assert "changed since you opened the case" in body and "Reopen" in body
    body = _ok(_edit_save(web_app, client, data, {"id": task_id, "v": 1}, "Renamed", None, None))
    assert "changed since you opened the case" in body
    # Another case's task named with this case's key reads as unknown.
    body = _ok(_ask(web_app, client, data, _clicked("done", foreign, 1)))
    assert "No such task on this case" in body
    for which in (None, "x", {"id": "1", "v": 1}, {"id": foreign, "v": 1}):
        assert "danger" in _ok(_edit_save(web_app, client, data, which, "Renamed", None, None)), which
    assert _tasks(app_session, key) == before and _writes(app_session, key) == writes
    assert _tasks(app_session, other)[0][1] == "open"


def _details(app_session, key: str) -> list:
    return app_session(lambda s: list(s.scalars(select(SiuCaseTask.details).join(SiuCase)
                                                .where(SiuCase.key == key).order_by(SiuCaseTask.id))))


def test_details_through_the_add_and_edit_forms(web_app, clients, app_session):  # noqa: F811
    key, _ = _own_case(app_session, 1)
    client = clients("investigator")
    data = {"key": key, "version": 1}
    long = "Ask the bank for every statement since January. " * 20      # folded on the card: "Show all"
    body = _ok(_add(web_app, client, data, "Request bank statements", None, None, long))
    assert "Task added." in body and "siu-task-details" in body and "Show all" in body
    # The form is emptied, details too.
    assert json.loads(body)["response"]["siu-task-details"]["value"] == ""
    task_id = app_session(lambda s: s.scalar(select(func.max(SiuCaseTask.id))))
    assert _details(app_session, key) == [long.strip()]
    opened = json.loads(_ok(_edit_open(web_app, client, data, _clicked("edit", task_id, 1))))["response"]
    assert opened["siu-task-edit-details"]["value"] == long.strip()
    me = opened["siu-task-edit-assignee"]["value"]
    body = _ok(_edit_save(web_app, client, data, {"id": task_id, "v": 1}, "Request bank statements", me, "",
                          "Twelve months only."))
    assert "Task changed." in body and "Twelve months only." in body and "details changed" in body
    assert _details(app_session, key) == ["Twelve months only."]
    # Too long, or not text: a message, nothing written (the form keeps what was typed).
    before, writes = _tasks(app_session, key), _writes(app_session, key)
    for details, message in (("d" * 5001, "details is too long"), (["x"], "details must be text"),
                             ("d" * 30_000, "far too long")):
        body = _ok(_add(web_app, client, data, "Another", None, None, details))
        assert message in body and "Task added." not in body, body[:300]
        body = _ok(_edit_save(web_app, client, data, {"id": task_id, "v": 2}, "Request bank statements", me, "",
                              details))
        assert message in body and "Task changed." not in body, body[:300]
    assert _tasks(app_session, key) == before and _writes(app_session, key) == writes
    assert _details(app_session, key) == ["Twelve months only."]


def _said(response) -> str:
    """A callback's answer, its text unescaped (\u201c\u2026\u201d as the page shows it)."""
    return json.dumps(json.loads(_ok(response)), ensure_ascii=False)


def test_remove_through_the_row_action(web_app, clients, app_session):  # noqa: F811
    key, _ = _own_case(app_session, 1)
    client = clients("investigator")
    data = {"key": key, "version": 1}
    keep, _ = _add_task(app_session, key, "Interview the claimant")
    gone, _ = _add_task(app_session, key, "Pull the police report", due=TODAY - dt.timedelta(days=3))
    _, body = render_page(client, "/siu-cases", f"?case={key}")
    assert "2 open · 1 overdue" in body and '\\"op\\":\\"remove\\"' in body
    assert "Remove the task \u201cPull the police report\u201d from the case?" in body   # asked first
    # A stale row (edited meanwhile) is refused and redrawn; nothing removed.
    writes = _writes(app_session, key)
    body = _said(_ask(web_app, client, data, _clicked("remove", gone, 2)))
    assert "changed since you opened the case" in body and len(_tasks(app_session, key)) == 2
    assert _writes(app_session, key) == writes
    body = _said(_ask(web_app, client, data, _clicked("remove", gone, 1)))
    assert "Removed the task \u201cPull the police report\u201d." in body
    assert "Removed task" in body and "1 open" in body and "overdue" not in body.split("siu-case-activity")[0]
    assert [t[0] for t in _tasks(app_session, key)] == ["Interview the claimant"]
    kinds = app_session(lambda s: list(s.scalars(select(SiuCaseEvent.kind).join(SiuCase).where(SiuCase.key == key)
                                                 .order_by(SiuCaseEvent.id))))
    actions = app_session(lambda s: list(s.scalars(select(AuditLog.action).where(AuditLog.target_id == key)
                                                   .order_by(AuditLog.id))))
    assert kinds[-1] == "task_removed" and actions[-1] == "siu_case.task_removed"
    # A second tab still showing it is told it was removed; My work no longer lists it.
    body = _said(_ask(web_app, client, data, _clicked("done", gone, 1)))
    assert "was removed since you opened the case" in body and _writes(app_session, key)[0] == writes[0] + 1
    _, body = render_page(client, "/my-work")
    assert "Pull the police report" not in body
    assert keep in [t for t in app_session(lambda s: list(s.scalars(select(SiuCaseTask.id))))]
