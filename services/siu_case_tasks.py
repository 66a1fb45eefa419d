"""Tasks on an SIU case: the to-do list of an investigation ("Request the claimant's
bank statements"), each assigned to someone who works cases, optionally due on a
day, open or done.

Who: exactly those who work cases (services.siu_cases.may_work: managers, admins,
and Special Investigations' adjusters); others, viewers included, neither read nor
change them. A closed case's tasks are its record: read-only until a manager
reopens the case.

Every change locks the case, then the task, checks the task's version where the
change depends on what the caller saw (edit, done, reopen, remove), writes the case's
activity and the audit log, and never commits. A removed task is deleted: the activity
(its title) and the audit log (the whole task, before) are its record, and no count or
list has to remember to leave it out. Task changes do not move the
case's version: like a note, a task conflicts with no decision on the case.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import and_, case as sql_case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, aliased

from auth.permissions import Perm, role_has
from db.models import SiuCase, SiuCaseEvent, SiuCaseTask, User, user_departments
from services import audit
from services.access import AccessDenied
from services.siu_cases import NOTE_MAX, TITLE_MAX, CaseConflict, CaseError, _locked_case, _text, may_work, siu_id

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
EARLIEST_DUE = dt.date(2000, 1, 1)
DUE_YEARS_AHEAD = 5          # a due date is weeks ahead, not a decade: a typo'd year is refused
EVENT_TITLES = {"task_added": "Task added", "task_edited": "Task changed", "task_done": "Task done",
                "task_reopened": "Task reopened", "task_removed": "Removed task"}
_KEEP = object()   # edit_task without details: what the task says stays (callers from before details)


def today_utc() -> dt.date:
    # The app counts days in UTC (dashboards, SLAs): a task is overdue the UTC day after its due date.
    return dt.datetime.now(dt.timezone.utc).date()


def _require(session: Session, user) -> None:
    if not may_work(session, user):
        raise AccessDenied("Only Special Investigations and managers work SIU cases.")


def _task_id(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise CaseError("No such task on this case; reload the page.")
    return value


def _due(value, today: dt.date | None = None) -> dt.date | None:
    """A due date: None or empty for none, a date, or text as the date field sends it (2026-12-31)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        raise CaseError("The due date must be a day, e.g. 2026-12-31.")
    if isinstance(value, str):
        text = value.strip()
        if not DATE_RE.fullmatch(text):
            raise CaseError("The due date must be a date like 2026-12-31.")
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            raise CaseError(f"There is no day {text}.") from None
    if not isinstance(value, dt.date):
        raise CaseError("The due date must be a date like 2026-12-31.")
    today = today or today_utc()
    latest = today + dt.timedelta(days=366 * DUE_YEARS_AHEAD)
    if not EARLIEST_DUE <= value <= latest:
        raise CaseError(f"The due date must be between {EARLIEST_DUE:%Y} and {latest:%Y-%m-%d}.")
    return value


def works_cases(session: Session, user_id: int) -> bool | None:
    """Whether the user works cases (as may_work says of a signed-in user): None when there
    is no such active user."""
    row = session.execute(select(User.role).where(User.id == user_id, User.is_active)).first()
    if row is None:
        return None
    if not role_has(row.role, Perm.WORK_SIU_CASES):
        return False
    if role_has(row.role, Perm.VIEW_ALL_DEPARTMENTS):
        return True
    siu = siu_id(session)
    return siu is not None and session.scalar(select(func.count()).select_from(user_departments).where(
        user_departments.c.user_id == user_id, user_departments.c.department_id == siu)) > 0


def _assignee(session: Session, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise CaseError("Choose who does the task.")
    works = works_cases(session, value)
    if works is None:
        raise CaseError("There is no such active user to give the task to.")
    if not works:
        raise CaseError("That person does not work SIU cases: give the task to a member of Special "
                        "Investigations, the case's lead or a manager.")
    return value


def _open_case(session: Session, key) -> SiuCase:
    case = _locked_case(session, key)
    if case.status != "open":
        raise CaseError(f"Case {case.key} is closed, so its tasks are read-only; a manager can reopen it.")
    return case


def _locked_task(session: Session, case: SiuCase, task_id, version) -> SiuCaseTask:
    task = session.scalar(select(SiuCaseTask).where(SiuCaseTask.id == _task_id(task_id),
                                                    SiuCaseTask.case_id == case.id)
                          .with_for_update().execution_options(populate_existing=True))
    if task is None:
        removed = session.scalar(select(SiuCaseEvent.data["title"].astext).where(
            SiuCaseEvent.case_id == case.id, SiuCaseEvent.kind == "task_removed",
            SiuCaseEvent.data["task"].astext == str(task_id)).limit(1))
        if removed is not None:
            # A conflict, not an error: the page still shows the task and is redrawn without it.
            raise CaseConflict(f"The task \u201c{removed}\u201d was removed since you opened the case; "
                               "it is shown as it is now.")
        raise CaseError("No such task on this case; reload the page.")
    if isinstance(version, bool) or not isinstance(version, int) or task.version != version:
        raise CaseConflict(f"The task \u201c{task.title}\u201d changed since you opened the case (someone edited, "
                           "finished or reopened it); it is shown as it is now.")
    return task


def _snapshot(task: SiuCaseTask) -> dict:
    return {"task": task.id, "title": task.title, "details": task.details, "assignee_id": task.assignee_id,
            "due": task.due_date.isoformat() if task.due_date else None, "status": task.status}


def _record(session: Session, user, case: SiuCase, kind: str, task: SiuCaseTask, *, before=None,
            data: dict | None = None, gone: bool = False) -> None:
    """The case's activity and the audit log, in the caller's transaction; ``gone``: the task
    is being removed, so the audit has no after image."""
    case.updated_at = dt.datetime.now(dt.timezone.utc)
    session.execute(insert(SiuCaseEvent), [dict(case_id=case.id, kind=kind, actor_id=user.id, note=None,
                                                data={"task": task.id, "title": task.title, **(data or {})})])
    audit.record(session, actor=user.email, actor_id=user.id, action=f"siu_case.{kind}", target_type="siu_case",
                 target_id=case.key, before=before, after=None if gone else _snapshot(task))


def add_task(session: Session, user, key, title, assignee_id=None, due=None, details=None) -> SiuCaseTask:
    """A new open task on an open case; its assignee is the adder unless named."""
    _require(session, user)
    title = _text(title, what="task", required=True, limit=TITLE_MAX)
    details = _text(details, what="details", required=False, limit=NOTE_MAX)
    due = _due(due)
    assignee = _assignee(session, user.id if assignee_id is None else assignee_id)
    case = _open_case(session, key)
    task = SiuCaseTask(case_id=case.id, title=title, details=details, assignee_id=assignee, due_date=due,
                       status="open", created_by=user.id, version=1)
    session.add(task)
    session.flush()
    _record(session, user, case, "task_added", task,
            data={"assignee": assignee, "due": due.isoformat() if due else None})
    session.flush()
    return task


def edit_task(session: Session, user, key, task_id, version, *, title, assignee_id, due,
              details=_KEEP) -> SiuCaseTask:
    """Change a task's title, details, assignee and due date (the whole of what the edit form shows)."""
    _require(session, user)
    title = _text(title, what="task", required=True, limit=TITLE_MAX)
    if details is not _KEEP:
        details = _text(details, what="details", required=False, limit=NOTE_MAX)
    due = _due(due)
    case = _open_case(session, key)
    task = _locked_task(session, case, task_id, version)
    details = task.details if details is _KEEP else details
    # The assignee it already has stays allowed (someone who since left SIU keeps their task until moved).
    assignee = task.assignee_id if assignee_id == task.assignee_id else _assignee(session, assignee_id)
    if (title, details, assignee, due) == (task.title, task.details, task.assignee_id, task.due_date):
        raise CaseError("Nothing to change: the task already says that.")
    before = _snapshot(task)
    task.title, task.details, task.assignee_id, task.due_date = title, details, assignee, due
    task.version += 1
    session.flush()
    after = _snapshot(task)
    # What changed, from and to: the activity says "due 2026-12-03 → 2026-12-10", not just "changed".
    changes = {f: [before[k], after[k]] for f, k in (("title", "title"), ("assignee", "assignee_id"), ("due", "due"))
               if before[k] != after[k]}
    # Details can run to pages: the activity says that they changed, the audit log keeps both texts.
    if before["details"] != after["details"]:
        changes["details"] = "added" if not before["details"] else "removed" if not after["details"] else "changed"
    _record(session, user, case, "task_edited", task, before=before, data={"changes": changes})
    session.flush()
    return task


def set_done(session: Session, user, key, task_id, version, done: bool) -> SiuCaseTask:
    """Mark an open task done (who and when), or reopen a done one."""
    _require(session, user)
    if not isinstance(done, bool):
        raise CaseError("Say whether the task is done.")
    case = _open_case(session, key)
    task = _locked_task(session, case, task_id, version)
    if (task.status == "done") == done:
        raise CaseError(f"The task \u201c{task.title}\u201d is already {'done' if done else 'open'}.")
    before = _snapshot(task)
    if done:
        task.status, task.done_by, task.done_at = "done", user.id, dt.datetime.now(dt.timezone.utc)
    else:
        task.status, task.done_by, task.done_at = "open", None, None
    task.version += 1
    session.flush()
    _record(session, user, case, "task_done" if done else "task_reopened", task, before=before)
    session.flush()
    return task


def remove_task(session: Session, user, key, task_id, version) -> str:
    """Take an open task off an open case (added by mistake, or no longer wanted); its title.
    A done task stays: it is what the investigation did, so it is reopened first."""
    _require(session, user)
    case = _open_case(session, key)
    task = _locked_task(session, case, task_id, version)
    if task.status != "open":
        raise CaseError(f"The task \u201c{task.title}\u201d is done, so it is part of the investigation's record; "
                        "reopen it first if it should go.")
    before = _snapshot(task)
    _record(session, user, case, "task_removed", task, before=before, gone=True)
    session.delete(task)
    session.flush()
    return before["title"]


# --- Reading ------------------------------------------------------------------


@dataclass
class TaskView:
    id: int
    title: str
    details: str | None
    assignee_id: int
    assignee: str
    due: dt.date | None
    status: str
    created_by: str | None
    created_at: dt.datetime
    done_by: str | None
    done_at: dt.datetime | None
    version: int
    overdue: bool
    case_key: str | None = None
    case_title: str | None = None


def _order():
    """Open first: the soonest due (so the overdue) first, then the undated, oldest first;
    then the done ones, the latest done first."""
    is_open = SiuCaseTask.status == "open"
    return (sql_case((is_open, 0), else_=1), sql_case((is_open, SiuCaseTask.due_date)).asc().nulls_last(),
            SiuCaseTask.done_at.desc().nulls_last(), SiuCaseTask.created_at, SiuCaseTask.id)


def _views(session: Session, where, today: dt.date, *, limit: int, with_case: bool = False) -> list[TaskView]:
    who, by, done = aliased(User), aliased(User), aliased(User)
    rows = session.execute(
        select(SiuCaseTask, who.name, who.email, by.name, by.email, done.name, done.email, SiuCase.key, SiuCase.title)
        .join(SiuCase, SiuCase.id == SiuCaseTask.case_id)
        .outerjoin(who, who.id == SiuCaseTask.assignee_id).outerjoin(by, by.id == SiuCaseTask.created_by)
        .outerjoin(done, done.id == SiuCaseTask.done_by)
        .where(where).order_by(*_order()).limit(limit)).all()
    return [TaskView(t.id, t.title, t.details, t.assignee_id, an or ae or "someone", t.due_date, t.status, bn or be,
                     t.created_at, dn or de, t.done_at, t.version,
                     t.status == "open" and t.due_date is not None and t.due_date < today,
                     key if with_case else None, title if with_case else None)
            for t, an, ae, bn, be, dn, de, key, title in rows]


TASKS_SHOWN = 200   # a case's list: investigations have tens of steps, not thousands


def tasks_of_case(session: Session, user, case_id: int, *, today: dt.date | None = None) -> list[TaskView]:
    """A case's tasks (open first, overdue first) for those who work cases; [] for anyone else."""
    if not may_work(session, user):
        return []
    return _views(session, SiuCaseTask.case_id == case_id, today or today_utc(), limit=TASKS_SHOWN)


def my_open_tasks(session: Session, user, *, limit: int = 20, today: dt.date | None = None) -> list[TaskView]:
    """The user's open tasks on open cases (a closed case's are read-only), overdue and soonest due first."""
    if not may_work(session, user):
        return []
    return _views(session, and_(SiuCaseTask.assignee_id == user.id, SiuCaseTask.status == "open",
                                SiuCase.status == "open"), today or today_utc(), limit=limit, with_case=True)


def my_open_task_count(session: Session, user, *, today: dt.date | None = None) -> tuple[int, int]:
    """(open, overdue) tasks of the user on open cases."""
    if not may_work(session, user):
        return 0, 0
    today = today or today_utc()
    row = session.execute(
        select(func.count(), func.count().filter(SiuCaseTask.due_date < today))
        .select_from(SiuCaseTask).join(SiuCase, SiuCase.id == SiuCaseTask.case_id)
        .where(SiuCaseTask.assignee_id == user.id, SiuCaseTask.status == "open", SiuCase.status == "open")).one()
    return row[0], row[1]


def assignee_choices(session: Session, user, case_lead_id: int | None,
                     current: int | None = None) -> list[tuple[int, str]]:
    """Whom the add form offers: Special Investigations' members, the case's lead and the
    person adding (a manager outside SIU may take a task); the service checks again."""
    from services.siu_cases import lead_choices

    choices = dict(lead_choices(session))
    extra = [i for i in (user.id if user is not None else None, case_lead_id, current) if i and i not in choices]
    if extra:
        choices |= {r.id: r.name or r.email for r in session.execute(
            select(User.id, User.name, User.email).where(User.id.in_(extra)))}
    return sorted(choices.items(), key=lambda kv: (kv[0] != getattr(user, "id", None), kv[1].lower()))
