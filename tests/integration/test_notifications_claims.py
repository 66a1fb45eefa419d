"""Emails about one's claims against the real database: claims someone else assigned (one
email per batch, never for claims a person took themselves, each claim mailed once however
often the job runs) and the morning digest of claims past the service level (the same claims
as My work's past-service-level filter, oldest first, none → no mail); who gets them by role,
choice, activity and verified address at send time; the jobs are registered."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from db.models import Claim, Department, User
from jobs.registry import JOBS
from services import notifications, queues
from services.reassignment import move_claims
from services.workflow import assign_to_me
from tests.integration.test_notifications import SETTINGS, Outbox, _person, _prefs, _sends
from tests.mailsink import mail_sink_server  # noqa: F401  (fixture)
from tests.siuutil import claim as _claim

def today() -> dt.date:
    """My work's filter counts from the server's today, so the digest is compared with the same day, read
    when each test runs (a module-level date, read at collection, was yesterday for a run crossing midnight)."""
    return dt.date.today()


@pytest.fixture()
def people(db_session):
    """Only this test's people are active (others' rows stay, switched off in this transaction)."""
    s = db_session
    s.execute(update(User).values(is_active=False))
    made = SimpleNamespace(
        admin=_person(s, "admin", name="Ada Admin"),
        manager=_person(s, "manager", "AUTO_PD", "PROPERTY", name="Max Manager"),
        boss=_person(s, "manager", "AUTO_PD", name="Bea Boss"),
        adjuster=_person(s, "adjuster", "AUTO_PD", name="Otto Auto"),
        colleague=_person(s, "adjuster", "AUTO_PD", name="Cleo Colleague"),
        viewer=_person(s, "viewer", name="Vic Viewer"),
    )
    return made


def _claims(s, n, *, amount=1234.5, department="AUTO_PD", status="new"):
    made = [_claim(s, department=department, status=status, amount=amount) for _ in range(n)]
    for c in made:
        c.line_of_business = "auto"
    return made


def _move(s, by, claims, to, reason="WORKLOAD_BALANCE", comment=None):
    s.flush()
    for c in claims:
        s.refresh(c)
    return move_claims(s, by, [{"claim_id": c.id, "version": c.version} for c in claims], adjuster_id=to.id,
                       reason=reason, comment=comment)


def _take(s, who, claim):
    s.flush()
    s.refresh(claim)
    assign_to_me(s, who, claim.claim_number, expected_version=claim.version)


def _numbers(body: str, claims) -> list[str]:
    """The claim numbers of ``claims`` in the order the email lists them."""
    found = [(body.find(f"\n{c.claim_number} · "), c.claim_number) for c in claims]
    return [number for at, number in sorted(found) if at >= 0]


# --- Claims assigned to you ------------------------------------------------------------------------


def test_three_claims_reassigned_in_one_go_make_one_email_listing_the_three(db_session, people):
    s, p = db_session, people
    claims = _claims(s, 3)
    _move(s, p.manager, claims, p.adjuster, comment="Cleo is on leave\n  until Friday.")
    outbox = Outbox()
    result = notifications.notify_assignments(s, SETTINGS, sender=outbox)
    [mail] = outbox.mails
    assert mail.to == p.adjuster.email and result["detail"]["sent"] == 1 and "status" not in result
    assert mail.subject == "SCOPE: 3 claims assigned to you"
    body = mail.body
    assert "Hello Otto Auto,\n\nMax Manager assigned 3 claims to you in SCOPE Assistant." in body
    assert sorted(_numbers(body, claims)) == sorted(c.claim_number for c in claims)
    first = claims[0].claim_number
    # The line, the department, the amount in the deployment's currency, who, why and the link.
    assert f"{first} · Auto · Auto Physical Damage · €1,234.50\n  assigned by Max Manager, " in body
    assert "Balancing workload · “Cleo is on leave until Friday.”" in body
    assert f"https://scope.test.example/claims/{first}" in body
    assert "https://scope.test.example/my-work" in body and "https://scope.test.example/profile" in body
    assert _sends(s, "claims_assigned") == 3   # one row per claim told


def test_claims_a_person_took_themselves_are_not_mailed(db_session, people):
    s, p = db_session, people
    _prefs(s, p.manager, claims_assigned=True)
    taken = _claims(s, 1)[0]
    _take(s, p.adjuster, taken)
    _move(s, p.manager, _claims(s, 2), p.manager)          # a manager moving claims to themselves
    given = _claims(s, 1)
    _move(s, p.boss, given, p.manager)                      # ...and one given to them by another
    outbox = Outbox()
    notifications.notify_assignments(s, SETTINGS, sender=outbox)
    [mail] = outbox.mails
    assert mail.to == p.manager.email and mail.subject == f"SCOPE: claim {given[0].claim_number} assigned to you"
    assert "Bea Boss assigned 1 claim to you" in mail.body and taken.claim_number not in mail.body


def test_a_claim_taken_back_or_moved_on_before_the_job_goes_only_to_who_holds_it(db_session, people):
    s, p = db_session, people
    _prefs(s, p.boss, claims_assigned=True)
    moved_on, taken_back, closed = _claims(s, 3)
    _move(s, p.manager, [moved_on, taken_back, closed], p.adjuster)
    _move(s, p.manager, [moved_on], p.colleague)
    _move(s, p.manager, [taken_back], p.boss)
    _take(s, p.manager, taken_back)
    s.execute(update(Claim).where(Claim.id == closed.id).values(status="closed"))
    outbox = Outbox()
    notifications.notify_assignments(s, SETTINGS, sender=outbox)
    # The colleague holds the claim moved on; nobody holds an open claim given by someone else otherwise.
    assert [(m.to, m.subject) for m in outbox.mails] == [
        (p.colleague.email, f"SCOPE: claim {moved_on.claim_number} assigned to you")]


def test_running_the_job_twice_mails_once_and_a_later_batch_lists_only_the_new_claims(db_session, people):
    s, p = db_session, people
    first = _claims(s, 2)
    _move(s, p.manager, first, p.adjuster)
    outbox = Outbox()
    notifications.notify_assignments(s, SETTINGS, sender=outbox)
    again = notifications.notify_assignments(s, SETTINGS, sender=outbox)
    assert len(outbox.mails) == 1 and again["detail"]["sent"] == 0
    later = _claims(s, 1)
    _move(s, p.manager, later, p.adjuster)
    notifications.notify_assignments(s, SETTINGS, sender=outbox)
    assert len(outbox.mails) == 2
    assert _numbers(outbox.mails[1].body, first + later) == [later[0].claim_number]


def test_a_failed_send_claims_nothing_and_the_batch_goes_whole_at_the_next_run(db_session, people):
    s, p = db_session, people
    claims = _claims(s, 2)
    _move(s, p.manager, claims, p.adjuster)
    failed = notifications.notify_assignments(s, SETTINGS, sender=Outbox(failing={p.adjuster.email}))
    assert failed["status"] == "failed" and _sends(s, "claims_assigned") == 0
    outbox = Outbox()
    notifications.notify_assignments(s, SETTINGS, sender=outbox)
    assert len(outbox.mails) == 1 and sorted(_numbers(outbox.mails[0].body, claims)) == sorted(
        c.claim_number for c in claims)


def test_who_gets_assignment_emails_by_role_choice_and_account_at_send_time(db_session, people):
    s, p = db_session, people
    quiet = _person(s, "adjuster", "AUTO_PD", name="Quinn Quiet")
    gone = _person(s, "adjuster", "AUTO_PD", name="Gus Gone")
    unverified = _person(s, "adjuster", "AUTO_PD", name="Una Unverified", verified=False)
    demoted = _person(s, "adjuster", "AUTO_PD", name="Dee Demoted")
    keen = _person(s, "manager", "AUTO_PD", name="Kim Keen")
    _prefs(s, quiet, claims_assigned=False)
    _prefs(s, keen, claims_assigned=True)
    for who in (gone, unverified, demoted):
        _prefs(s, who, claims_assigned=True)
    for who in (p.adjuster, quiet, gone, unverified, demoted, p.boss, keen):
        _move(s, p.manager, _claims(s, 1), who)
    # After the moves: deactivated, and demoted to a role without My work (a stored "yes" mails nothing).
    s.execute(update(User).where(User.id == gone.id).values(is_active=False))
    s.execute(update(User).where(User.id == demoted.id).values(role="viewer"))
    outbox = Outbox()
    notifications.notify_assignments(s, SETTINGS, sender=outbox)
    # Adjusters by default, a manager who asked; not the manager on defaults, nor who switched it off.
    assert sorted(m.to for m in outbox.mails) == sorted([p.adjuster.email, keen.email])


def test_a_big_batch_lists_fifty_and_counts_the_rest_with_a_link_to_my_work(db_session, people):
    s, p = db_session, people
    claims = _claims(s, 53)
    _move(s, p.manager, claims, p.adjuster)
    outbox = Outbox()
    notifications.notify_assignments(s, SETTINGS, sender=outbox)
    [mail] = outbox.mails
    assert mail.subject == "SCOPE: 53 claims assigned to you"
    assert len(_numbers(mail.body, claims)) == 50
    assert "…and 3 more, on My work:\nhttps://scope.test.example/my-work\n" in mail.body
    assert _sends(s, "claims_assigned") == 53   # the three counted were told too: not listed again later


# --- My claims past their service level -------------------------------------------------------------


def _sla(s, code="AUTO_PD") -> int:
    return s.scalar(select(Department.sla_days).where(Department.code == code))


def _held(s, who, *, reported_days_ago, department="AUTO_PD", status="assigned", amount=2500):
    made = _claim(s, department=department, status=status, amount=amount,
                  report=today() - dt.timedelta(days=reported_days_ago))
    made.adjuster_id, made.line_of_business = who.id, "auto"
    s.flush()
    return made


def test_the_digest_lists_the_claims_my_work_marks_past_service_level_oldest_first(db_session, people):
    s, p = db_session, people
    sla = _sla(s)
    late = _held(s, p.adjuster, reported_days_ago=sla + 3)
    oldest = _held(s, p.adjuster, reported_days_ago=sla + 40, amount=99)
    on_the_day = _held(s, p.adjuster, reported_days_ago=sla)            # due today: not late yet
    recent = _held(s, p.adjuster, reported_days_ago=2)
    closed = _held(s, p.adjuster, reported_days_ago=sla + 90, status="closed")
    # Not in their departments: My work does not list it, so neither does the email.
    elsewhere = _held(s, p.adjuster, reported_days_ago=_sla(s, "PROPERTY") + 5, department="PROPERTY")
    _held(s, p.colleague, reported_days_ago=sla + 5)
    outbox = Outbox()
    result = notifications.overdue_claims_digest(s, SETTINGS, today=today(), sender=outbox)
    mine = outbox.to(p.adjuster.email)
    assert len(mine) == 1 and result["detail"]["sent"] == 2          # the colleague gets their own
    mail = mine[0]
    assert mail.subject == "SCOPE: 2 open claims past the service level"
    body = mail.body
    assert _numbers(body, [late, oldest, on_the_day, recent, closed, elsewhere]) == [
        oldest.claim_number, late.claim_number]
    # The same claims My work shows with its past-service-level filter.
    shown = queues.my_work(s, p.adjuster, filters=queues.QueueFilters(overdue=True))
    assert sorted(r["claim_number"] for r in shown.rows) == sorted([oldest.claim_number, late.claim_number])
    assert (f"{late.claim_number} · Auto · Auto Physical Damage · €2,500.00\n  reported "
            f"{(today() - dt.timedelta(days=sla + 3)).day} ") in body
    assert f"past its {sla}-day service level by 3 days" in body and "by 40 days" in body
    assert f"https://scope.test.example/claims/{late.claim_number}" in body
    link = next(u for u in body.split() if "/my-work?" in u)
    assert parse_qs(urlsplit(link).query) == {"f": ['{"overdue":true}']}


def test_nothing_past_the_service_level_no_digest_and_one_a_day(db_session, people):
    s, p = db_session, people
    _held(s, p.adjuster, reported_days_ago=1)
    outbox = Outbox()
    result = notifications.overdue_claims_digest(s, SETTINGS, today=today(), sender=outbox)
    assert outbox.mails == [] and result["detail"]["sent"] == 0 and _sends(s, "overdue_digest") == 0
    _held(s, p.adjuster, reported_days_ago=_sla(s) + 1)
    notifications.overdue_claims_digest(s, SETTINGS, today=today(), sender=outbox)
    second = notifications.overdue_claims_digest(s, SETTINGS, today=today(), sender=outbox)
    assert len(outbox.mails) == 1 and second["detail"]["skipped"] == 1
    assert outbox.mails[0].subject == "SCOPE: 1 open claim past the service level"
    assert "1 open claim of yours is past its department's service level" in outbox.mails[0].body
    notifications.overdue_claims_digest(s, SETTINGS, today=today() + dt.timedelta(days=1), sender=outbox)
    assert len(outbox.mails) == 2


def test_the_digest_goes_to_who_wants_it_by_role_choice_and_account(db_session, people):
    s, p = db_session, people
    quiet = _person(s, "adjuster", "AUTO_PD", name="Quinn Quiet")
    gone = _person(s, "adjuster", "AUTO_PD", name="Gus Gone", active=False)
    unverified = _person(s, "adjuster", "AUTO_PD", name="Una Unverified", verified=False)
    keen = _person(s, "manager", name="Kim Keen")
    _prefs(s, quiet, overdue_digest=False)
    _prefs(s, keen, overdue_digest=True)
    _prefs(s, p.viewer, overdue_digest=True)
    for who in (p.adjuster, quiet, gone, unverified, p.manager, keen, p.viewer):
        _held(s, who, reported_days_ago=_sla(s) + 10)
    outbox = Outbox()
    notifications.overdue_claims_digest(s, SETTINGS, today=today(), sender=outbox)
    # A manager sees every department, so a claim of theirs anywhere is on their My work.
    assert sorted(m.to for m in outbox.mails) == sorted([p.adjuster.email, keen.email])


def test_a_long_digest_lists_fifty_oldest_and_links_the_rest_on_my_work_filtered(db_session, people):
    s, p = db_session, people
    sla = _sla(s)
    claims = [_held(s, p.adjuster, reported_days_ago=sla + 1 + i) for i in range(52)]
    outbox = Outbox()
    notifications.overdue_claims_digest(s, SETTINGS, today=today(), sender=outbox)
    [mail] = outbox.mails
    assert mail.subject == "SCOPE: 52 open claims past the service level"
    listed = _numbers(mail.body, claims)
    assert listed == [c.claim_number for c in reversed(claims)][:50]   # the oldest first
    assert "…and 2 more, on My work with the past-service-level filter:\nhttps://scope.test.example/my-work?f=" \
        in mail.body


# --- The jobs ----------------------------------------------------------------------------------------


def test_the_jobs_are_registered_every_ten_minutes_and_in_the_morning():
    assert JOBS["notify_assignments"].schedule == "*/10 * * * *" and JOBS["notify_assignments"].description
    assert JOBS["overdue_claims_digest"].schedule == "5 7 * * *" and JOBS["overdue_claims_digest"].description


def test_the_jobs_run_through_the_runner_and_report_their_counts(session_factory, mail_sink_server):  # noqa: F811
    from config import Settings
    from jobs.runner import run_job

    settings = Settings(smtp_host=mail_sink_server.host, smtp_port=mail_sink_server.port, smtp_starttls=False)
    for name in ("notify_assignments", "overdue_claims_digest"):
        run = run_job(session_factory, name, triggered_by="test", settings=settings)
        assert run["status"] == "succeeded", run
        assert {"sent", "skipped", "failed"} <= set(run["detail"])


def test_both_emails_really_go_through_smtp_to_the_sink(db_session, people, mail_sink_server):  # noqa: F811
    from config import Settings

    s, p = db_session, people
    _move(s, p.manager, _claims(s, 2), p.adjuster, reason="SPECIALIST_NEEDED", comment="Glass and frame damage.")
    _held(s, p.adjuster, reported_days_ago=_sla(s) + 12)
    settings = Settings(public_url="https://scope.test.example", currency="EUR", smtp_host=mail_sink_server.host,
                        smtp_port=mail_sink_server.port, smtp_starttls=False)
    notifications.notify_assignments(s, settings)
    notifications.overdue_claims_digest(s, settings, today=today())
    given = mail_sink_server.wait_for(p.adjuster.email, "2 claims assigned to you")
    late = mail_sink_server.wait_for(p.adjuster.email, "1 open claim past the service level")
    assert "Needs a specialist · “Glass and frame damage.”" in given["body"] and given["from"] == settings.mail_from
    assert "past its" in late["body"] and "/my-work?f=" in late["body"]


def test_two_schedulers_at_once_mail_an_assignment_once(session_factory):
    """The second process's claims on the same events wait for the first's transaction, then find them taken."""
    import threading
    import time

    from sqlalchemy import delete

    from db.models import NotificationSend

    with session_factory() as s:
        boss = _person(s, "manager", "AUTO_PD", name="Con Current Boss")
        given = _person(s, "adjuster", "AUTO_PD", name="Con Current")
        claims = _claims(s, 2)
        _move(s, boss, claims, given)
        s.commit()
        ids = ([boss.id, given.id], [c.id for c in claims])
    first, second = Outbox(), {}
    try:
        with session_factory() as a:
            notifications.notify_assignments(a, SETTINGS, sender=first)
            assert [m.subject for m in first.to(given.email)] == ["SCOPE: 2 claims assigned to you"]

            def other_process():
                with session_factory() as b:
                    outbox = Outbox()
                    notifications.notify_assignments(b, SETTINGS, sender=outbox)
                    b.commit()
                    second["mails"] = outbox.to(given.email)

            thread = threading.Thread(target=other_process)
            thread.start()
            time.sleep(1.0)
            assert thread.is_alive(), "the second run did not wait for the first's claims"
            a.commit()
        thread.join(30)
        assert second["mails"] == []
    finally:
        with session_factory() as s:
            s.execute(delete(Claim).where(Claim.id.in_(ids[1])))
            s.execute(delete(NotificationSend).where(NotificationSend.user_id.in_(ids[0])))
            s.execute(update(User).where(User.id.in_(ids[0])).values(is_active=False))
            s.commit()
