"""Email notifications against the real database: who gets an alert email by role and
choice, each email once however often the job runs, a failed send is retried and does not
hold up the others, deactivated and unverified people get nothing, the SIU digest lists the
tasks due and nothing else (and is not sent when nothing is due), and the jobs are registered."""
from __future__ import annotations

import datetime as dt
import threading
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, func, select, update

from config import Settings
from db.models import AlertEvent, Department, NotificationPreference, NotificationSend, SiuCaseTask, User
from jobs.registry import JOBS
from services import notifications, siu_cases
from services.mail import MailNotSent
from tests.mailsink import mail_sink_server  # noqa: F401  (fixture)
from tests.siuutil import claim as _claim, small_siu as _small_siu, user as _user

NOW = dt.datetime(2026, 12, 7, 9, 3, tzinfo=dt.timezone.utc)
TODAY = NOW.date()
SETTINGS = Settings(public_url="https://scope.test.example", currency="EUR")


class Outbox:
    """A sender that keeps what it was given; ``failing`` addresses raise as an SMTP refusal would."""

    def __init__(self, failing=()):
        self.mails, self.failing = [], set(failing)

    def __call__(self, settings, mail):
        if mail.to in self.failing:
            raise MailNotSent("The mail server did not accept the message; try again later.")
        self.mails.append(mail)

    def to(self, address):
        return [m for m in self.mails if m.to == address]


def _person(s, role, *departments, name=None, verified=True, active=True):
    made = _user(s, role, *departments, name=name)
    s.execute(update(User).where(User.id == made.id).values(
        email_verified_at=NOW - dt.timedelta(days=30) if verified else None, is_active=active))
    return made


def _prefs(s, user, **values):
    s.merge(NotificationPreference(user_id=user.id, **values))
    s.flush()


@pytest.fixture()
def people(db_session):
    """Only this test's people are active (others' rows stay, switched off in this transaction)."""
    s = db_session
    _small_siu(s)
    s.execute(update(User).values(is_active=False))
    s.execute(delete(AlertEvent))
    made = SimpleNamespace(
        admin=_person(s, "admin", name="Ada Admin"),
        manager=_person(s, "manager", name="Max Manager"),
        quiet_manager=_person(s, "manager", name="Quinn Quiet"),
        viewer=_person(s, "viewer", name="Vic Viewer"),
        keen_viewer=_person(s, "viewer", name="Kim Keen"),
        adjuster=_person(s, "adjuster", "AUTO_PD", name="Otto Auto"),
        investigator=_person(s, "adjuster", "SIU", name="Sam Sleuth"),
        unverified=_person(s, "manager", name="Una Unverified", verified=False),
        gone=_person(s, "manager", name="Gus Gone", active=False),
    )
    _prefs(s, made.quiet_manager, alert_emails=False)
    return made


def _event(s, severity="critical", *, opened=NOW - dt.timedelta(minutes=2), department=None, metric="routing_accuracy",
           value=0.875, threshold=0.9, comparison="below", name="Routing accuracy below 90% in the last 7 days"):
    event = AlertEvent(rule_id=None, rule_name=name, metric=metric, comparison=comparison, threshold=threshold,
                       period="last_7_days", department_id=department, severity=severity, opened_at=opened,
                       opened_value=value, last_value=value, worst_value=value, last_checked_at=opened,
                       period_start=TODAY - dt.timedelta(days=6), period_end=TODAY)
    s.add(event)
    s.flush()
    return event


def _sends(s, kind=None) -> int:
    query = select(func.count()).select_from(NotificationSend)
    return s.scalar(query.where(NotificationSend.kind == kind) if kind else query)


def test_a_critical_alert_goes_to_admins_managers_and_who_asked_by_role_at_send_time(db_session, people):
    s, p = db_session, people
    _prefs(s, p.keen_viewer, alert_emails=True, alert_min_severity="info")
    # A row cannot widen a role: an adjuster does not see alerts, so is never mailed one.
    _prefs(s, p.adjuster, alert_emails=True, alert_min_severity="info")
    _event(s, "critical")
    outbox = Outbox()
    result = notifications.notify_alerts(s, SETTINGS, now=NOW, sender=outbox)
    assert sorted(m.to for m in outbox.mails) == sorted([p.admin.email, p.manager.email, p.keen_viewer.email])
    assert result["detail"].items() >= {"sent": 3, "skipped": 0, "failed": 0}.items() and "status" not in result
    assert _sends(s, "alert_opened") == 3


def test_the_severity_choice_narrows_or_widens_what_is_mailed(db_session, people):
    s, p = db_session, people
    _prefs(s, p.keen_viewer, alert_emails=True, alert_min_severity="warning")
    _prefs(s, p.manager, alert_min_severity="info")
    _event(s, "warning", name="Warning rule")
    _event(s, "info", name="Info rule")
    outbox = Outbox()
    notifications.notify_alerts(s, SETTINGS, now=NOW, sender=outbox)
    # The admin keeps the default (critical only); the viewer widened to warning, the manager to all.
    assert outbox.to(p.admin.email) == []
    assert [m.subject for m in outbox.to(p.keen_viewer.email)] == ["SCOPE alert (warning): Warning rule"]
    assert sorted(m.subject for m in outbox.to(p.manager.email)) == [
        "SCOPE alert (info): Info rule", "SCOPE alert (warning): Warning rule"]


def test_the_alert_email_tells_the_rule_value_threshold_department_start_and_link(db_session, people):
    s, p = db_session, people
    glass = s.scalar(select(Department).where(Department.code == "AUTO_PD"))
    _event(s, "critical", department=glass.id)
    _event(s, "critical", metric="reserve", comparison="above", value=5_250_000, threshold=5_000_000,
           name="Total reserve above €5.00M this week")
    outbox = Outbox()
    notifications.notify_alerts(s, SETTINGS, now=NOW, sender=outbox)
    accuracy, reserve = sorted(outbox.to(p.admin.email), key=lambda m: m.subject)
    assert accuracy.subject == "SCOPE alert (critical): Routing accuracy below 90% in the last 7 days"
    body = accuracy.body
    assert "Hello Ada Admin," in body
    assert "Routing accuracy is 87.5% in the last 7 days, below the 90% threshold" in body
    assert f"Department: {glass.name}" in body and "Started: 2026-12-07 09:01 UTC" in body
    assert "https://scope.test.example/alerts" in body and "https://scope.test.example/profile" in body
    assert "emails about critical alerts" in body
    # Money in the deployment's currency, as the rule names write it; no department means all.
    assert "Total reserve is €5.25M in the last 7 days, above the €5.00M threshold" in reserve.body
    assert "Department: All departments" in reserve.body


def test_running_the_job_twice_mails_once(db_session, people):
    s = db_session
    _event(s, "critical")
    outbox = Outbox()
    first = notifications.notify_alerts(s, SETTINGS, now=NOW, sender=outbox)
    second = notifications.notify_alerts(s, SETTINGS, now=NOW + dt.timedelta(minutes=5), sender=outbox)
    assert len(outbox.mails) == 2 and first["detail"]["sent"] == 2
    assert (second["detail"]["sent"], second["detail"]["skipped"], second["detail"]["failed"]) == (0, 2, 0)
    assert _sends(s) == 2


def test_a_failed_send_is_not_marked_sent_does_not_stop_the_others_and_is_retried(db_session, people):
    s, p = db_session, people
    _event(s, "critical")
    failing = Outbox(failing={p.admin.email})
    result = notifications.notify_alerts(s, SETTINGS, now=NOW, sender=failing)
    assert [m.to for m in failing.mails] == [p.manager.email]
    assert result["status"] == "failed" and (result["detail"]["sent"], result["detail"]["failed"]) == (1, 1)
    assert "1 email(s) not sent" in result["error"] and f"user {p.admin.id}" in result["error"]
    assert s.scalar(select(func.count()).select_from(NotificationSend)
                    .where(NotificationSend.user_id == p.admin.id)) == 0
    working = Outbox()
    retry = notifications.notify_alerts(s, SETTINGS, now=NOW + dt.timedelta(minutes=5), sender=working)
    assert [m.to for m in working.mails] == [p.admin.email]
    assert (retry["detail"]["sent"], retry["detail"]["skipped"], retry.get("status")) == (1, 1, None)


def test_a_mail_server_that_is_down_is_given_up_on_after_failures_in_a_row(db_session, people):
    """Each send to a server that is down fails only after its timeout: a run does not wait out
    every one of them holding its transaction; the next run mails them all."""
    s = db_session
    for i in range(4):
        _person(s, "manager", name=f"Many Manager {i}")
    _event(s, "critical")  # admin, manager and these four want it
    tried = []

    def down(settings, mail):
        tried.append(mail.to)
        raise MailNotSent("The mail server did not accept the message; try again later.")

    result = notifications.notify_alerts(s, SETTINGS, now=NOW, sender=down)
    assert len(tried) == notifications.GIVE_UP_AFTER == 3
    assert result["status"] == "failed" and (result["detail"]["failed"], result["detail"]["not_tried"]) == (3, 3)
    assert "3 more not tried after 3 failures in a row" in result["error"] and _sends(s) == 0
    working = Outbox()
    again = notifications.notify_alerts(s, SETTINGS, now=NOW + dt.timedelta(minutes=5), sender=working)
    assert len(working.mails) == 6 and again.get("status") is None and _sends(s) == 6


def test_any_exception_from_one_send_is_contained(db_session, people):
    s, p = db_session, people
    _event(s, "critical")

    def broken(settings, mail):
        if mail.to == p.manager.email:
            raise RuntimeError("boom")

    result = notifications.notify_alerts(s, SETTINGS, now=NOW, sender=broken)
    assert (result["detail"]["sent"], result["detail"]["failed"], result["status"]) == (1, 1, "failed")


def test_deactivated_and_unverified_people_never_get_mail_whatever_they_chose(db_session, people):
    s, p = db_session, people
    for who in (p.gone, p.unverified):
        _prefs(s, who, alert_emails=True, alert_min_severity="info", siu_digest=True)
    _event(s, "critical")
    outbox = Outbox()
    notifications.notify_alerts(s, SETTINGS, now=NOW, sender=outbox)
    assert outbox.to(p.gone.email) == outbox.to(p.unverified.email) == [] and outbox.mails


def test_resolution_goes_to_those_told_of_the_opening_who_want_it(db_session, people):
    s, p = db_session, people
    _prefs(s, p.manager, alert_resolved=False)
    event = _event(s, "critical")
    notifications.notify_alerts(s, SETTINGS, now=NOW, sender=Outbox())
    # Someone who switched alerts on after the opening was not told of it: no resolution either.
    _prefs(s, p.keen_viewer, alert_emails=True)
    event.resolved_at, event.resolution, event.last_value = NOW + dt.timedelta(minutes=4), "recovered", 0.93
    s.flush()
    outbox = Outbox()
    result = notifications.notify_alerts(s, SETTINGS, now=NOW + dt.timedelta(minutes=5), sender=outbox)
    assert [m.to for m in outbox.mails] == [p.admin.email] and result["detail"]["sent"] == 1
    [mail] = outbox.mails
    assert mail.subject == "SCOPE alert resolved: Routing accuracy below 90% in the last 7 days"
    assert "the figure is back within its threshold" in mail.body and "Resolved: 2026-12-07 09:07 UTC" in mail.body
    again = Outbox()
    notifications.notify_alerts(s, SETTINGS, now=NOW + dt.timedelta(minutes=10), sender=again)
    assert again.mails == []


def test_old_alerts_and_ones_resolved_before_anyone_was_told_are_not_news(db_session, people):
    s = db_session
    _event(s, "critical", opened=NOW - dt.timedelta(hours=30), name="Old")
    flicker = _event(s, "critical", name="Flicker")
    flicker.resolved_at, flicker.resolution = NOW - dt.timedelta(minutes=1), "recovered"
    s.flush()
    outbox = Outbox()
    result = notifications.notify_alerts(s, SETTINGS, now=NOW, sender=outbox)
    assert outbox.mails == [] and result["detail"]["sent"] == 0


# --- The SIU digest ---------------------------------------------------------------------------


def _task(s, case, assignee, title, due, status="open"):
    task = SiuCaseTask(case_id=case.id, title=title, assignee_id=assignee.id, due_date=due, status=status,
                       done_at=NOW if status == "done" else None, version=1)
    s.add(task)
    s.flush()
    return task


def _open_case(s, p, title="Body shop ring"):
    return siu_cases.open_case(s, p.investigator, [_claim(s).id], title)


def test_the_digest_lists_the_tasks_due_today_and_overdue_with_a_link_to_each_case(db_session, people):
    s, p = db_session, people
    case = _open_case(s, p)
    other = _open_case(s, p, "Staged collision")
    _task(s, case, p.investigator, "Pull the police report", TODAY - dt.timedelta(days=4))
    _task(s, other, p.investigator, "Call the witness", TODAY)
    _task(s, case, p.investigator, "Not yet", TODAY + dt.timedelta(days=1))
    _task(s, case, p.investigator, "Finished", TODAY - dt.timedelta(days=2), status="done")
    closed = _open_case(s, p, "Closed case")
    _task(s, closed, p.investigator, "On a closed case", TODAY - dt.timedelta(days=1))
    siu_cases.close_case(s, p.manager, closed.key, closed.version, "no_fraud", "Nothing found in the file.")
    outbox = Outbox()
    result = notifications.siu_task_reminders(s, SETTINGS, today=TODAY, sender=outbox)
    [mail] = outbox.mails
    assert mail.to == p.investigator.email and result["detail"]["sent"] == 1
    assert mail.subject == "SCOPE: your SIU tasks, 1 overdue and 1 due today"
    body = mail.body
    assert f"{case.key} · Pull the police report\n  due 3 Dec, overdue by 4 days" in body
    assert f"{other.key} · Call the witness\n  due today" in body
    assert f"https://scope.test.example/siu-cases?case={case.key}" in body
    assert f"https://scope.test.example/siu-cases?case={other.key}" in body
    assert body.index("Pull the police report") < body.index("Call the witness")  # the most overdue first
    for absent in ("Not yet", "Finished", "On a closed case"):
        assert absent not in body


def test_the_digest_goes_once_a_day_and_never_when_nothing_is_due(db_session, people):
    s, p = db_session, people
    case = _open_case(s, p)
    _task(s, case, p.manager, "Later", TODAY + dt.timedelta(days=3))
    outbox = Outbox()
    assert notifications.siu_task_reminders(s, SETTINGS, today=TODAY, sender=outbox)["detail"]["sent"] == 0
    assert outbox.mails == [] and _sends(s) == 0
    _task(s, case, p.investigator, "Today", TODAY)
    notifications.siu_task_reminders(s, SETTINGS, today=TODAY, sender=outbox)
    second = notifications.siu_task_reminders(s, SETTINGS, today=TODAY, sender=outbox)
    assert len(outbox.mails) == 1 and second["detail"]["skipped"] == 1
    notifications.siu_task_reminders(s, SETTINGS, today=TODAY + dt.timedelta(days=1), sender=outbox)
    assert len(outbox.mails) == 2 and "due 7 Dec, overdue by 1 day ·" in outbox.mails[1].body


def test_the_digest_goes_only_to_active_verified_case_workers_who_want_it(db_session, people):
    s, p = db_session, people
    case = _open_case(s, p)
    for who in (p.investigator, p.manager, p.adjuster, p.gone, p.unverified, p.quiet_manager):
        _task(s, case, who, f"Task of {who.name}", TODAY)
    _prefs(s, p.quiet_manager, siu_digest=False)
    outbox = Outbox()
    result = notifications.siu_task_reminders(s, SETTINGS, today=TODAY, sender=outbox)
    # An adjuster outside SIU cannot work cases (a task given to them before they moved stays
    # theirs): the job asks the role and department at send time.
    assert sorted(m.to for m in outbox.mails) == sorted([p.investigator.email, p.manager.email])
    assert result["detail"]["not_wanted"] == 4


def test_the_mail_really_goes_through_smtp_to_the_sink(db_session, people, mail_sink_server):  # noqa: F811
    s, p = db_session, people
    case = _open_case(s, p)
    _task(s, case, p.investigator, "Ask the bank", TODAY)
    settings = Settings(public_url="https://scope.test.example", smtp_host=mail_sink_server.host,
                        smtp_port=mail_sink_server.port, smtp_starttls=False)
    notifications.siu_task_reminders(s, settings, today=TODAY)
    mail = mail_sink_server.wait_for(p.investigator.email, "your SIU tasks")
    assert "Ask the bank" in mail["body"] and mail["from"] == settings.mail_from


def test_without_smtp_the_run_fails_and_nothing_is_marked_sent(db_session, people):
    s, p = db_session, people
    case = _open_case(s, p)
    _task(s, case, p.investigator, "Ask the bank", TODAY)
    result = notifications.siu_task_reminders(s, Settings(), today=TODAY)
    assert result["status"] == "failed" and "SCOPE_SMTP_HOST" in result["error"] and _sends(s) == 0


# --- Two schedulers at once ---------------------------------------------------------------------


def test_two_schedulers_at_once_mail_each_person_once(session_factory):
    """The second process's claim waits for the first's transaction and then finds the rows taken."""
    with session_factory() as s:
        made = SimpleNamespace(a=_person(s, "manager", name="Con Current"))
        event = _event(s, "critical", opened=dt.datetime.now(dt.timezone.utc), name="Concurrency test rule")
        s.commit()
        ids = (made.a.id, event.id)
    first_sent, second = Outbox(), {}
    try:
        with session_factory() as a:
            notifications.notify_alerts(a, SETTINGS, sender=first_sent)
            assert [m.to for m in first_sent.mails if "Concurrency" in m.subject] == [made.a.email]

            def other_process():
                with session_factory() as b:
                    outbox = Outbox()
                    notifications.notify_alerts(b, SETTINGS, sender=outbox)
                    b.commit()
                    second["mails"] = [m for m in outbox.mails if "Concurrency" in m.subject]

            thread = threading.Thread(target=other_process)
            thread.start()
            time.sleep(1.0)
            assert thread.is_alive(), "the second run did not wait for the first's claims"
            a.commit()
        thread.join(30)
        assert second["mails"] == []
    finally:
        with session_factory() as s:
            s.execute(delete(AlertEvent).where(AlertEvent.id == ids[1]))
            s.execute(delete(NotificationSend).where(NotificationSend.user_id == ids[0]))
            s.execute(update(User).where(User.id == ids[0]).values(is_active=False))
            s.commit()


def test_the_jobs_are_registered_after_evaluate_alerts_and_in_the_morning():
    assert JOBS["evaluate_alerts"].schedule == "1-59/5 * * * *"
    assert JOBS["notify_alerts"].schedule == "3-59/5 * * * *" and JOBS["notify_alerts"].description
    assert JOBS["siu_task_reminders"].schedule == "0 7 * * *" and JOBS["siu_task_reminders"].description


def test_the_job_runs_through_the_runner_and_reports_its_counts(session_factory, mail_sink_server):  # noqa: F811
    from jobs.runner import run_job

    settings = Settings(smtp_host=mail_sink_server.host, smtp_port=mail_sink_server.port, smtp_starttls=False)
    for name in ("notify_alerts", "siu_task_reminders"):
        run = run_job(session_factory, name, triggered_by="test", settings=settings)
        assert run["status"] == "succeeded", run
        assert {"sent", "skipped", "failed"} <= set(run["detail"])



def test_what_was_mailed_is_forgotten_after_90_days_and_not_before(db_session, people):
    s = db_session
    s.add_all([NotificationSend(user_id=people.admin.id, kind="alert_opened", ref="old", sent_at=NOW - dt.timedelta(days=91)),
               NotificationSend(user_id=people.admin.id, kind="alert_opened", ref="recent",
                                sent_at=NOW - dt.timedelta(days=89))])
    s.flush()
    assert notifications.purge_sent(s, now=NOW) >= 1
    left = set(s.scalars(select(NotificationSend.ref).where(NotificationSend.user_id == people.admin.id)))
    assert "recent" in left and "old" not in left
    assert JOBS["purge_notification_log"].fn(s, Settings())["rows"] == 0  # nothing more is that old
