"""The weekly KPI summary against the real database: its figures are the dashboard's for the
last full week (services.aggregates, the same reads /dashboard makes), each change worded as
the cards word it, money in the deployment's currency; who gets it by role, choice and account
at send time; once a week however often the job runs; a word when the rollups are stale; no
mail for a week the rollups hold nothing of; and the job is registered for Monday morning."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, func, select, update

from components.kpis import CARDS, fmt
from config import Settings
from db.models import AlertRule, JobRun, KpiCycleHistogram, KpiDaily, NotificationPreference, NotificationSend, User
from jobs.registry import JOBS
from services import aggregates, notifications
from services import notification_mail as wording
from services.mail import MailNotSent
from tests.mailsink import mail_sink_server  # noqa: F401  (fixture)
from tests.siuutil import user as _user

NOW = dt.datetime(2026, 12, 7, 7, 10, tzinfo=dt.timezone.utc)  # a Monday
WEEK = aggregates.Filters(dt.date(2026, 11, 30), dt.date(2026, 12, 6))
SETTINGS = Settings(public_url="https://scope.test.example", currency="EUR")


class Outbox:
    def __init__(self, failing=()):
        self.mails, self.failing, self.tried = [], set(failing), []

    def __call__(self, settings, mail):
        self.tried.append(mail.to)
        if mail.to in self.failing or "*" in self.failing:
            raise MailNotSent("The mail server did not accept the message; try again later.")
        self.mails.append(mail)

    def to(self, address):
        return [m for m in self.mails if m.to == address]


def _person(s, role, name, *, verified=True, active=True, **prefs):
    made = _user(s, role, *(("AUTO_PD",) if role == "adjuster" else ()), name=name)
    s.execute(update(User).where(User.id == made.id).values(
        email_verified_at=NOW - dt.timedelta(days=30) if verified else None, is_active=active))
    if prefs:
        s.merge(NotificationPreference(user_id=made.id, **prefs))
    s.flush()
    return made


def _day(s, day, received, closed, correct, *, paid=1000, sla=2, reassigned=3, cycle=(10, 20)):
    s.add(KpiDaily(day=day, received=received, closed=closed, routed=received, auto_routed=received - 5,
                   reassigned=reassigned, closed_routed=80, routed_correct=correct, feedback_total=10,
                   feedback_agree=9, fraud_flagged=1, sla_breaches=sla, paid_sum=paid, reserve_sum=5000,
                   cycle_days_sum=sum(cycle), cycle_count=len(cycle)))
    for days in cycle:
        s.add(KpiCycleHistogram(day=day, cycle_days=days, claims=1))


def _refreshed(s, at):
    s.execute(delete(JobRun).where(JobRun.job == "refresh_aggregates"))
    s.add(JobRun(job="refresh_aggregates", slot=f"test-{at.isoformat()}", status="succeeded", started_at=at,
                 finished_at=at))
    s.flush()


@pytest.fixture()
def week(db_session):
    """Rollups of two weeks (and a backlog from before), the product targets as alert rules,
    a refresh three minutes ago; only this test's people are active."""
    s = db_session
    s.execute(update(User).values(is_active=False))
    s.execute(delete(KpiDaily))
    s.execute(delete(KpiCycleHistogram))
    s.execute(delete(AlertRule))
    _day(s, dt.date(2026, 11, 1), 1000, 0, 0)
    for i in range(7):
        _day(s, dt.date(2026, 11, 23) + dt.timedelta(days=i), 100, 90, 78)                    # the week before
        _day(s, WEEK.start + dt.timedelta(days=i), 110, 85, 74, paid=1500, reassigned=4)      # last week
    s.add_all([AlertRule(name="Accuracy", metric="routing_accuracy", comparison="below", threshold=0.95,
                         period="last_7_days", severity="warning"),
               AlertRule(name="Accuracy low", metric="routing_accuracy", comparison="below", threshold=0.90,
                         period="last_7_days", severity="critical"),
               AlertRule(name="Moves", metric="reassignment_rate", comparison="above", threshold=0.05,
                         period="this_week", severity="warning"),
               AlertRule(name="Off", metric="agreement_rate", comparison="below", threshold=0.99,
                         period="last_7_days", severity="warning", enabled=False)])
    _refreshed(s, NOW - dt.timedelta(minutes=3))
    return SimpleNamespace(
        viewer=_person(s, "viewer", "Vic Viewer"),
        manager=_person(s, "manager", "Max Manager"),
        quiet_manager=_person(s, "manager", "Quinn Quiet", kpi_weekly=False),
        admin=_person(s, "admin", "Ada Admin"),
        keen_admin=_person(s, "admin", "Kit Keen", kpi_weekly=True),
        adjuster=_person(s, "adjuster", "Otto Auto", kpi_weekly=True),  # a stored choice from before a demotion
        unverified=_person(s, "viewer", "Una Unverified", verified=False),
        gone=_person(s, "manager", "Gus Gone", active=False),
    )


def _run(s, sender, **kw):
    return notifications.kpi_weekly_summary(s, SETTINGS, now=kw.pop("now", NOW), sender=sender, **kw)


def test_the_figures_are_the_dashboards_for_the_week_worded_as_its_cards(db_session, week):
    s = db_session
    outbox = Outbox()
    _run(s, outbox)
    [mail] = outbox.to(week.viewer.email)
    expected = aggregates.kpis(s, WEEK)
    labels = {c.key: c for c in CARDS}
    for key in ("received", "backlog", "cycle_median", "sla_breaches", "routing_accuracy", "reassignment_rate",
                "agreement_rate", "fraud_flagged", "paid"):
        card = labels[key]
        label = "Open backlog at week end" if key == "backlog" else card.label
        assert f"\n{label}: {fmt(expected[key], card.kind, 'EUR')} (" in mail.body, key
    assert f"\nClaims closed: {expected['closed']:,} (" in mail.body
    # The week's own figures, worked out by hand from the rows above.
    assert expected["received"] == 770 and expected["backlog"] == 1245 and expected["paid"] == 10500
    body = mail.body
    assert "Claims received: 770 (▲ +10%)" in body
    assert "Claims closed: 595 (▼ -6%)" in body
    assert "Open backlog at week end: 1,245 (▲ +16%)" in body
    assert "SLA breaches: 14 (■ ±0%)" in body
    assert "Routing accuracy: 92.5% (▼ -5.0 pts; target 95%)" in body           # the milder rule is the target
    assert "Reassignment rate: 3.6% (▲ +0.6 pts; target at most 5%)" in body
    assert "Adjuster agreement: 90.0% (no comparison)" not in body and "Adjuster agreement: 90.0% (■ ±0.0 pts)" in body
    assert "Total paid: €10,500 (still being paid)" in body                       # the currency, no comparison
    assert "Median cycle time: 10 d (■ ±0%)" in body
    first = body.split("\n\n")[1]
    assert first == "Open backlog at week end up 16% to 1,245; routing accuracy 92.5% (target 95%)."
    assert "Last week (30 Nov – 6 Dec 2026) against the week before (23 – 29 Nov 2026)" in body
    assert "https://scope.test.example/dashboard?start=2026-11-30&end=2026-12-06" in body
    assert "https://scope.test.example/dashboard/report?start=2026-11-30&end=2026-12-06" in body
    assert "https://scope.test.example/profile" in body and "not up to date" not in body
    assert mail.subject == "SCOPE weekly summary, 30 Nov – 6 Dec 2026"


def test_it_goes_by_role_choice_and_account_at_send_time(db_session, week):
    s = db_session
    outbox = Outbox()
    result = _run(s, outbox)
    # Viewers and managers by default, admins who asked; never an adjuster (no dashboard), whatever
    # was stored, nor the unverified or deactivated.
    assert sorted(m.to for m in outbox.mails) == sorted([week.viewer.email, week.manager.email,
                                                         week.keen_admin.email])
    assert result["rows"] == 3 and result["detail"]["week"] == "2026-11-30"
    # A viewer promoted to admin keeps nothing of the viewer's default: admins opt in.
    s.execute(update(User).where(User.id == week.viewer.id).values(role="admin"))
    s.execute(delete(NotificationSend))
    again = Outbox()
    _run(s, again)
    assert week.viewer.email not in [m.to for m in again.mails]


def test_running_twice_mails_once_per_person_and_week(db_session, week):
    s = db_session
    first, second = Outbox(), Outbox()
    _run(s, first)
    result = _run(s, second, now=NOW + dt.timedelta(hours=5))
    assert len(first.mails) == 3 and second.mails == []
    assert result["detail"]["skipped"] == 3
    refs = s.execute(select(NotificationSend.ref, func.count()).where(NotificationSend.kind == "kpi_weekly")
                     .group_by(NotificationSend.ref)).all()
    assert refs == [("2026-11-30", 3)]
    # The next Monday is another week: mailed again.
    later = Outbox()
    _day(s, dt.date(2026, 12, 7), 100, 90, 78)
    _run(s, later, now=NOW + dt.timedelta(days=7))
    assert len(later.mails) == 3 and "7 – 13 Dec 2026" in later.mails[0].subject


def test_stale_rollups_are_said_in_the_mail(db_session, week):
    s = db_session
    _refreshed(s, NOW - dt.timedelta(hours=2))
    outbox = Outbox()
    result = _run(s, outbox)
    [mail] = outbox.to(week.manager.email)
    assert mail.subject.endswith("(figures not up to date)")
    assert "\n\nFigures not up to date. These figures are from 2026-12-07 05:10 UTC" in mail.body
    assert "has not succeeded for 2 h." in mail.body
    assert result["detail"]["stale"] is True


def test_a_week_the_rollups_hold_nothing_of_is_not_mailed(db_session, week):
    s = db_session
    s.execute(delete(KpiDaily).where(KpiDaily.day >= WEEK.start))
    outbox = Outbox()
    result = _run(s, outbox)
    assert outbox.mails == [] and result["detail"]["no_data"] is True
    assert s.scalar(select(func.count()).select_from(NotificationSend)
                    .where(NotificationSend.kind == "kpi_weekly")) == 0
    s.execute(delete(KpiDaily))
    assert _run(s, outbox)["detail"]["no_data"] is True and outbox.mails == []


def test_rollups_ending_inside_the_week_say_so(db_session, week):
    s = db_session
    s.execute(delete(KpiDaily).where(KpiDaily.day > dt.date(2026, 12, 3)))
    outbox = Outbox()
    _run(s, outbox)
    [mail] = outbox.to(week.viewer.email)
    assert "The figures hold claims up to 3 Dec only" in mail.body
    assert f"Claims received: {aggregates.kpis(s, WEEK)['received']:,} (" in mail.body


def test_a_mail_server_that_is_down_is_given_up_on_after_three_failures(db_session, week):
    s = db_session
    outbox = Outbox(failing={"*"})
    result = _run(s, outbox)
    assert len(outbox.tried) == notifications.GIVE_UP_AFTER == 3
    assert result["status"] == "failed" and result["detail"]["failed"] == 3 and result["detail"]["not_tried"] == 0
    assert s.scalar(select(func.count()).select_from(NotificationSend)
                    .where(NotificationSend.kind == "kpi_weekly")) == 0
    # One more who wants it: the fourth is not tried, and is counted.
    _person(s, "viewer", "Val Fourth")
    outbox = Outbox(failing={"*"})
    result = _run(s, outbox)
    assert len(outbox.tried) == 3 and result["detail"]["not_tried"] == 1
    retry = Outbox()
    assert _run(s, retry)["rows"] == 4


def test_a_week_across_a_new_year_names_both_years():
    assert wording._week_words(dt.date(2026, 12, 28), dt.date(2027, 1, 3)) == "28 Dec 2026 – 3 Jan 2027"


def test_a_thin_rate_is_worded_as_the_card_and_misses_no_target():
    current = {"received": 12, "closed": 10, "backlog": 40, "cycle_median": 3.0, "sla_breaches": 0,
               "routing_accuracy": 0.5, "closed_routed": 6, "routed_siu_later": 0,
               "routing_accuracy_without_siu_later": 0.5, "reassignment_rate": 0.1, "routed": 10,
               "agreement_rate": None, "feedback_total": 0, "fraud_flagged": 0, "paid": 250.0}
    previous = dict.fromkeys(current)
    summary = wording.KpiWeek(WEEK.start, WEEK.end, {"current": current, "previous": previous},
                              {"routing_accuracy": wording.Target("below", 0.95)}, None, None)
    mail = wording.kpi_weekly("a@x.example", None, summary, base_url="https://s.example", currency="JPY")
    assert "Routing accuracy: 50.0% (only 6 closed claims; target 95%)" in mail.body
    assert "Claims received: 12 (no comparison)" in mail.body and "Total paid: ¥250 (still being paid)" in mail.body
    assert "Adjuster agreement: — (no comparison)" in mail.body
    assert mail.body.split("\n\n")[1] == ("No figures for the week before to compare with; 12 claims received, 40 open "
                                          "at week end.")
    same = wording.KpiWeek(WEEK.start, WEEK.end, {"current": current, "previous": dict(current)}, {}, None, None)
    assert wording.kpi_headline(same, "JPY") == "Little changed on the week before."
    slower = {**current, "cycle_median": 4.0}
    moved = wording.KpiWeek(WEEK.start, WEEK.end, {"current": slower, "previous": dict(current)}, {}, None, None)
    assert wording.kpi_headline(moved, "JPY") == "Median cycle time up 33% to 4 days."


def test_the_mail_really_goes_through_smtp_to_the_sink(db_session, week, mail_sink_server):  # noqa: F811
    settings = Settings(public_url="https://scope.test.example", currency="EUR", smtp_host=mail_sink_server.host,
                        smtp_port=mail_sink_server.port, smtp_starttls=False)
    notifications.kpi_weekly_summary(db_session, settings, now=NOW)
    mail = mail_sink_server.wait_for(week.manager.email, "SCOPE weekly summary")
    assert "Claims received: 770 (▲ +10%)" in mail["body"] and "€10,500" in mail["body"]


def test_the_job_is_registered_for_monday_morning():
    from jobs.schedule_words import schedule_in_words
    from jobs.scheduler import trigger_for

    job = JOBS["kpi_weekly_summary"]
    assert job.schedule == "10 7 * * mon" and job.description
    assert schedule_in_words(job.schedule) == "Mondays at 07:10 UTC"
    fires = trigger_for(job.schedule).get_next_fire_time(None, dt.datetime(2026, 12, 8, tzinfo=dt.timezone.utc))
    assert fires == dt.datetime(2026, 12, 14, 7, 10, tzinfo=dt.timezone.utc) and fires.weekday() == 0
