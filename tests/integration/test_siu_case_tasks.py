"""Tasks on SIU cases against the real database: who may add, change and finish them,
a closed case's tasks are read-only, a stale version and bad input change nothing, every
change is in the case's activity and the audit log, and the reads (a case's list, "my
open tasks", the cases list's counts) put the overdue first."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from db.models import AuditLog, SiuCase, SiuCaseEvent, SiuCaseTask
from services import siu_case_tasks as tasks, siu_case_views as views, siu_cases
from services.access import AccessDenied, NotFound
from services.siu_cases import CaseConflict, CaseError
from tests.siuutil import claim as _claim, small_siu as _small_siu, user as _user

TODAY = dt.datetime.now(dt.timezone.utc).date()


@pytest.fixture()
def team(db_session):
    s = db_session
    _small_siu(s)
    return SimpleNamespace(
        siu=_user(s, "adjuster", "SIU", name="Sam Sleuth"),
        siu2=_user(s, "adjuster", "SIU", name="Tess Tracer"),
        manager=_user(s, "manager", name="Max Manager"),
        admin=_user(s, "admin", name="Ada Admin"),
        auto=_user(s, "adjuster", "AUTO_PD", name="Otto Auto"),
        viewer=_user(s, "viewer", name="Vic Viewer"),
    )


def _case(s, team, n: int = 1) -> SiuCase:
    claims = [_claim(s) for _ in range(n)]
    return siu_cases.open_case(s, team.siu, [c.id for c in claims], "Tasks test")


def _counts(s) -> tuple[int, int, int]:
    return tuple(s.scalar(select(func.count()).select_from(t)) for t in (SiuCaseTask, SiuCaseEvent, AuditLog))


def _task(s, task_id) -> SiuCaseTask:
    return s.scalar(select(SiuCaseTask).where(SiuCaseTask.id == task_id).execution_options(populate_existing=True))


def test_add_defaults_to_the_adder_and_writes_activity_and_audit(db_session, team):
    s = db_session
    case = _case(s, team)
    version = case.version
    task = tasks.add_task(s, team.siu, case.key, "  Pull the police report ", due="2026-12-03",
                          details="Ask the precinct for the full report.")
    assert (task.title, task.assignee_id, task.status, task.due_date, task.created_by, task.version) == (
        "Pull the police report", team.siu.id, "open", dt.date(2026, 12, 3), team.siu.id, 1)
    assert case.version == version        # a task is not a decision: the case's version stays
    [event] = s.scalars(select(SiuCaseEvent).where(SiuCaseEvent.case_id == case.id, SiuCaseEvent.kind == "task_added"))
    assert event.actor_id == team.siu.id and event.data["title"] == "Pull the police report"
    [log] = s.scalars(select(AuditLog).where(AuditLog.action == "siu_case.task_added", AuditLog.target_id == case.key))
    assert log.after["task"] == task.id and log.after["assignee_id"] == team.siu.id and log.after["due"] == "2026-12-03"
    # The case page's activity reads it.
    view = views.get_case(s, team.siu, case.key)
    added = next(e for e in view.events if e.kind == "task_added")
    assert added.title == "Task added" and "Pull the police report" in added.detail and "Sam Sleuth" in added.detail


@pytest.mark.parametrize("who", ["siu", "siu2", "manager", "admin"])
def test_everyone_who_works_cases_may_add_finish_and_reopen(db_session, team, who):
    s = db_session
    case = _case(s, team)
    person = getattr(team, who)
    task = tasks.add_task(s, person, case.key, "Interview the repair shop", assignee_id=team.siu2.id)
    done = tasks.set_done(s, person, case.key, task.id, 1, True)
    assert (done.status, done.done_by, done.version) == ("done", person.id, 2) and done.done_at is not None
    back = tasks.set_done(s, person, case.key, task.id, 2, False)
    assert (back.status, back.done_by, back.done_at, back.version) == ("open", None, None, 3)
    kinds = list(s.scalars(select(SiuCaseEvent.kind).where(SiuCaseEvent.case_id == case.id).order_by(SiuCaseEvent.id)))
    assert kinds[-3:] == ["task_added", "task_done", "task_reopened"]
    actions = list(s.scalars(select(AuditLog.action).where(AuditLog.target_id == case.key).order_by(AuditLog.id)))
    assert actions[-3:] == ["siu_case.task_added", "siu_case.task_done", "siu_case.task_reopened"]


@pytest.mark.parametrize("who", ["auto", "viewer"])
def test_others_neither_read_nor_change_tasks(db_session, team, who):
    s = db_session
    case = _case(s, team)
    task = tasks.add_task(s, team.siu, case.key, "Request bank statements")
    before = _counts(s)
    person = getattr(team, who)
    for write in (lambda: tasks.add_task(s, person, case.key, "Sneak"),
                  lambda: tasks.edit_task(s, person, case.key, task.id, 1, title="Sneak", assignee_id=team.siu.id,
                                          due=None),
                  lambda: tasks.set_done(s, person, case.key, task.id, 1, True),
                  lambda: tasks.remove_task(s, person, case.key, task.id, 1)):
        with pytest.raises(AccessDenied):
            write()
    assert _counts(s) == before and _task(s, task.id).status == "open"
    assert tasks.tasks_of_case(s, person, case.id) == [] and tasks.my_open_tasks(s, person) == []


def test_closed_case_tasks_are_read_only(db_session, team):
    s = db_session
    case = _case(s, team)
    task = tasks.add_task(s, team.siu, case.key, "Pull the police report")
    siu_cases.close_case(s, team.siu, case.key, case.version, "inconclusive", "Unclear.")
    before = _counts(s)
    for write in (lambda: tasks.add_task(s, team.siu, case.key, "One more"),
                  lambda: tasks.set_done(s, team.manager, case.key, task.id, 1, True),
                  lambda: tasks.edit_task(s, team.siu, case.key, task.id, 1, title="New", assignee_id=team.siu.id,
                                          due=None),
                  lambda: tasks.remove_task(s, team.manager, case.key, task.id, 1)):
        with pytest.raises(CaseError, match="is closed, so its tasks are read-only"):
            write()
    assert _counts(s) == before
    # Still read, as the record of the investigation; not among anyone's open work.
    assert [t.title for t in tasks.tasks_of_case(s, team.siu, case.id)] == ["Pull the police report"]
    assert tasks.my_open_tasks(s, team.siu) == [] and tasks.my_open_task_count(s, team.siu) == (0, 0)


def test_a_stale_version_changes_nothing(db_session, team):
    s = db_session
    case = _case(s, team)
    task = tasks.add_task(s, team.siu, case.key, "Interview the claimant")
    tasks.set_done(s, team.siu2, case.key, task.id, 1, True)         # a colleague finished it meanwhile
    before = _counts(s)
    for version in (1, None, "2", True, 99):
        with pytest.raises(CaseConflict, match="changed since you opened the case"):
            tasks.set_done(s, team.siu, case.key, task.id, version, False)
        with pytest.raises(CaseConflict):
            tasks.edit_task(s, team.siu, case.key, task.id, version, title="Other", assignee_id=team.siu.id,
                            due=None)
        with pytest.raises(CaseConflict):
            tasks.remove_task(s, team.siu, case.key, task.id, version)
    assert _counts(s) == before and _task(s, task.id).status == "done"


@pytest.mark.parametrize("kwargs, message", [
    ({"title": ""}, "Write the task"),
    ({"title": "   "}, "Write the task"),
    ({"title": None}, "Write the task"),
    ({"title": 42}, "must be text"),
    ({"title": "x" * 201}, "too long"),
    ({"title": "a\x00b"}, "cannot be stored"),
    ({"due": "03/12/2026"}, "date like 2026-12-31"),
    ({"due": "2026-02-30"}, "There is no day 2026-02-30"),
    ({"due": "1999-12-31"}, "between 2000"),
    ({"due": "9999-01-01"}, "between 2000"),
    ({"due": 20261203}, "date like"),
    ({"due": ["2026-12-03"]}, "date like"),
    ({"assignee_id": 2**40}, "Choose who does the task"),
    ({"assignee_id": "1"}, "Choose who does the task"),
    ({"assignee_id": True}, "Choose who does the task"),
    ({"assignee_id": 2**31 - 1}, "no such active user"),
    ({"details": "d" * 5001}, "too long"),
])
def test_bad_input_is_refused_with_a_message_and_writes_nothing(db_session, team, kwargs, message):
    s = db_session
    case = _case(s, team)
    before = _counts(s)
    args = {"title": "Request the claimant's bank statements"} | kwargs
    with pytest.raises(CaseError, match=message):
        tasks.add_task(s, team.siu, case.key, args.pop("title"), **args)
    assert _counts(s) == before


def test_assignee_must_work_cases(db_session, team):
    s = db_session
    case = _case(s, team)
    before = _counts(s)
    for outsider in (team.auto, team.viewer):
        with pytest.raises(CaseError, match="does not work SIU cases"):
            tasks.add_task(s, team.siu, case.key, "Canvass the street", assignee_id=outsider.id)
    assert _counts(s) == before
    # A manager outside SIU works cases (and may be given one); the lead's team too.
    assert tasks.add_task(s, team.siu, case.key, "Approve the subpoena", assignee_id=team.manager.id).assignee_id \
        == team.manager.id
    names = dict(tasks.assignee_choices(s, team.manager, case.lead_id))
    assert team.manager.id in names and team.siu.id in names and team.auto.id not in names
    assert list(names)[0] == team.manager.id     # the person adding comes first (the default)


def test_unknown_task_or_case_writes_nothing(db_session, team):
    s = db_session
    case = _case(s, team)
    other = _case(s, team)
    task = tasks.add_task(s, team.siu, other.key, "Elsewhere")
    before = _counts(s)
    for task_id in (task.id, 2**62, 0, -1, "1", None, True):   # another case's task reads as unknown
        with pytest.raises(CaseError, match="No such task on this case"):
            tasks.set_done(s, team.siu, case.key, task_id, 1, True)
    for key in ("C-999999999", "nonsense", None, 5):
        with pytest.raises(NotFound):
            tasks.add_task(s, team.siu, key, "Lost")
    with pytest.raises(CaseError, match="Say whether"):
        tasks.set_done(s, team.siu, case.key, task.id, 1, "yes")
    for task_id in (task.id, 2**62, 0, "1", None, True):
        with pytest.raises(CaseError, match="No such task on this case"):
            tasks.remove_task(s, team.siu, case.key, task_id, 1)
    assert _counts(s) == before and _task(s, task.id) is not None


def test_edit_changes_title_assignee_and_due_and_says_what_changed(db_session, team):
    s = db_session
    case = _case(s, team)
    task = tasks.add_task(s, team.siu, case.key, "Pull the report", due="2026-12-03")
    with pytest.raises(CaseError, match="Nothing to change"):
        tasks.edit_task(s, team.siu, case.key, task.id, 1, title="Pull the report", assignee_id=team.siu.id,
                        due=dt.date(2026, 12, 3))
    edited = tasks.edit_task(s, team.siu2, case.key, task.id, 1, title="Pull the police report",
                             assignee_id=team.siu2.id, due="")
    assert (edited.title, edited.assignee_id, edited.due_date, edited.version) == (
        "Pull the police report", team.siu2.id, None, 2)
    [log] = s.scalars(select(AuditLog).where(AuditLog.action == "siu_case.task_edited"))
    assert log.before["title"] == "Pull the report" and log.after["assignee_id"] == team.siu2.id
    view = views.get_case(s, team.siu, case.key)
    detail = next(e for e in view.events if e.kind == "task_edited").detail
    assert "Pull the report → Pull the police report" in detail and "Tess Tracer" in detail and "no due date" in detail


def test_lists_put_open_and_overdue_first_and_count_them(db_session, team):
    s = db_session
    case = _case(s, team)
    later = tasks.add_task(s, team.siu, case.key, "Later", due=TODAY + dt.timedelta(days=10))
    undated = tasks.add_task(s, team.siu, case.key, "Undated")
    late = tasks.add_task(s, team.siu, case.key, "Late", due=TODAY - dt.timedelta(days=4))
    finished = tasks.add_task(s, team.siu, case.key, "Finished", due=TODAY - dt.timedelta(days=9))
    tasks.set_done(s, team.siu, case.key, finished.id, 1, True)
    theirs = tasks.add_task(s, team.siu, case.key, "Theirs", assignee_id=team.siu2.id, due=TODAY - dt.timedelta(1))
    listed = tasks.tasks_of_case(s, team.siu, case.id)
    assert [t.title for t in listed] == ["Late", "Theirs", "Later", "Undated", "Finished"]
    assert [t.overdue for t in listed] == [True, True, False, False, False]   # a done task is never overdue
    mine = tasks.my_open_tasks(s, team.siu)
    assert [t.id for t in mine] == [late.id, later.id, undated.id] and mine[0].case_key == case.key
    assert tasks.my_open_task_count(s, team.siu) == (3, 1)
    [summary], _ = views.list_cases(s, team.siu)
    assert (summary.open_tasks, summary.overdue_tasks) == (4, 2)
    assert theirs.id not in [t.id for t in mine]


def test_demo_open_cases_get_a_few_tasks_some_done_some_overdue(db_session):
    from services import demo_cases

    s = db_session
    _small_siu(s)
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)
    lead = _user(s, "adjuster", "SIU")
    colleague = _user(s, "adjuster", "SIU")
    for _ in range(6):
        _claim(s, report=dt.date(2026, 11, 10))
    _claim(s, status="closed", fraud=True, report=dt.date(2026, 8, 1), closed_at=now - dt.timedelta(days=20))
    made = demo_cases.seed(s, now=now)
    assert made == {"open": 3, "closed": 1}
    rows = s.execute(select(SiuCase.status, SiuCaseTask).join(SiuCaseTask, SiuCaseTask.case_id == SiuCase.id)).all()
    assert rows and {status for status, _ in rows} == {"open"}            # a closed case gets none
    by_case = {}
    for _, t in rows:
        by_case.setdefault(t.case_id, []).append(t)
    assert all(2 <= len(ts) <= 4 for ts in by_case.values()) and len(by_case) == 3
    assert all(any(t.status == "done" and t.done_at <= now for t in ts) for ts in by_case.values())
    assert any(t.status == "open" and t.due_date and t.due_date < now.date() for _, t in rows)   # overdue ones
    assert {t.assignee_id for _, t in rows} == {lead.id, colleague.id}
    # The activity says so, in the order it happened.
    case_id = next(iter(by_case))
    events = s.execute(select(SiuCaseEvent.kind, SiuCaseEvent.at).where(SiuCaseEvent.case_id == case_id)
                       .order_by(SiuCaseEvent.id)).all()
    assert events[0].kind == "opened" and [e.at for e in events] == sorted(e.at for e in events)
    assert sum(e.kind == "task_added" for e in events) == len(by_case[case_id])


def test_edit_adds_changes_and_clears_details_and_the_activity_says_so(db_session, team):
    s = db_session
    case = _case(s, team)
    task = tasks.add_task(s, team.siu, case.key, "Request bank statements")
    added = tasks.edit_task(s, team.siu, case.key, task.id, 1, title="Request bank statements",
                            assignee_id=team.siu.id, due=None, details="  Twelve months,\nall accounts.  ")
    assert (added.details, added.version) == ("Twelve months,\nall accounts.", 2)
    # Saving the form as it was is no change; an edit that leaves details out keeps them.
    with pytest.raises(CaseError, match="Nothing to change"):
        tasks.edit_task(s, team.siu, case.key, task.id, 2, title="Request bank statements", assignee_id=team.siu.id,
                        due=None, details="Twelve months,\nall accounts.")
    kept = tasks.edit_task(s, team.siu, case.key, task.id, 2, title="Request statements", assignee_id=team.siu.id,
                           due=None)
    assert kept.details == "Twelve months,\nall accounts."
    changed = tasks.edit_task(s, team.siu, case.key, task.id, 3, title="Request statements", assignee_id=team.siu.id,
                              due=None, details="Six months.")
    assert (changed.details, changed.version) == ("Six months.", 4)
    cleared = tasks.edit_task(s, team.siu, case.key, task.id, 4, title="Request statements", assignee_id=team.siu.id,
                              due=None, details="   ")
    assert (cleared.details, cleared.version) == (None, 5)
    logs = list(s.scalars(select(AuditLog).where(AuditLog.action == "siu_case.task_edited",
                                                 AuditLog.target_id == case.key).order_by(AuditLog.id)))
    assert [(log.before["details"], log.after["details"]) for log in logs] == [
        (None, "Twelve months,\nall accounts."), ("Twelve months,\nall accounts.", "Twelve months,\nall accounts."),
        ("Twelve months,\nall accounts.", "Six months."), ("Six months.", None)]
    details = [e.detail for e in views.get_case(s, team.siu, case.key).events if e.kind == "task_edited"][::-1]
    assert [d.rsplit(" · ", 1)[-1] for d in details] == [
        "details added", "Request bank statements → Request statements", "details changed", "details removed"]
    assert "Six months" not in " ".join(details)     # the text itself is the audit log's, not the timeline's
    assert tasks.tasks_of_case(s, team.siu, case.id)[0].details is None


@pytest.mark.parametrize("details, message", [
    ("d" * 5001, "details is too long"), (42, "details must be text"), (["x"], "details must be text"),
    ("a\x00b", "cannot be stored"),
])
def test_bad_details_on_edit_are_refused_and_write_nothing(db_session, team, details, message):
    s = db_session
    case = _case(s, team)
    task = tasks.add_task(s, team.siu, case.key, "Request bank statements", details="Twelve months.")
    before = _counts(s)
    with pytest.raises(CaseError, match=message):
        tasks.edit_task(s, team.siu, case.key, task.id, 1, title="Request statements", assignee_id=team.siu.id,
                        due=None, details=details)
    assert _counts(s) == before
    task = _task(s, task.id)
    assert (task.title, task.details, task.version) == ("Request bank statements", "Twelve months.", 1)


def test_remove_deletes_the_task_and_leaves_its_record_in_the_activity_and_audit(db_session, team):
    s = db_session
    case = _case(s, team)
    version = case.version
    keep = tasks.add_task(s, team.siu, case.key, "Interview the claimant", due=TODAY - dt.timedelta(days=2))
    gone = tasks.add_task(s, team.siu, case.key, "Pull the police report", due=TODAY - dt.timedelta(days=1),
                          details="Precinct 12.")
    assert tasks.my_open_task_count(s, team.siu) == (2, 2)
    with pytest.raises(CaseConflict, match="changed since you opened the case"):
        tasks.remove_task(s, team.siu2, case.key, gone.id, 2)
    title = tasks.remove_task(s, team.siu2, case.key, gone.id, 1)
    assert title == "Pull the police report" and _task(s, gone.id) is None and case.version == version
    # Counts and lists no longer have it: the case page, the cases list and My work.
    assert [t.id for t in tasks.tasks_of_case(s, team.siu, case.id)] == [keep.id]
    assert [t.id for t in tasks.my_open_tasks(s, team.siu)] == [keep.id]
    assert tasks.my_open_task_count(s, team.siu) == (1, 1)
    [summary], _ = views.list_cases(s, team.siu)
    assert (summary.open_tasks, summary.overdue_tasks) == (1, 1)
    # The audit log keeps the whole task as it was; the activity says who removed which.
    [log] = s.scalars(select(AuditLog).where(AuditLog.action == "siu_case.task_removed", AuditLog.target_id == case.key))
    assert (log.actor_id, log.after) == (team.siu2.id, None)
    assert log.before == {"task": gone.id, "title": "Pull the police report", "details": "Precinct 12.",
                          "assignee_id": team.siu.id, "due": (TODAY - dt.timedelta(days=1)).isoformat(),
                          "status": "open"}
    event = views.get_case(s, team.siu, case.key).events[0]
    assert (event.kind, event.title, event.detail, event.actor) == (
        "task_removed", "Removed task", "\u201cPull the police report\u201d", "Tess Tracer")
    # A page that still shows it is told so (and redrawn), whatever it asks of it; nothing is written.
    before = _counts(s)
    for write in (lambda: tasks.set_done(s, team.siu, case.key, gone.id, 1, True),
                  lambda: tasks.edit_task(s, team.siu, case.key, gone.id, 1, title="Other", assignee_id=team.siu.id,
                                          due=None),
                  lambda: tasks.remove_task(s, team.siu, case.key, gone.id, 1)):
        with pytest.raises(CaseConflict, match="\u201cPull the police report\u201d was removed"):
            write()
    assert _counts(s) == before


def test_a_done_task_is_reopened_before_it_is_removed(db_session, team):
    s = db_session
    case = _case(s, team)
    task = tasks.add_task(s, team.siu, case.key, "Canvass the street")
    tasks.set_done(s, team.siu, case.key, task.id, 1, True)
    before = _counts(s)
    with pytest.raises(CaseError, match="is done, so it is part of the investigation's record"):
        tasks.remove_task(s, team.manager, case.key, task.id, 2)
    assert _counts(s) == before and _task(s, task.id).status == "done"
    tasks.set_done(s, team.manager, case.key, task.id, 2, False)
    assert tasks.remove_task(s, team.manager, case.key, task.id, 3) == "Canvass the street"
    assert _task(s, task.id) is None
