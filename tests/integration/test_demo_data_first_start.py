"""A first start with a chosen end date: the claims and everything built from
them (history model, decisions, moves, verdicts, rollups) end on that date, and
the alert rules have data for periods ending on it."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from db.models import Claim, ClaimEvent, JobRun, KpiDaily, ModelVersion, RoutingDecision, RoutingFeedback
from tests import dbutil

END = dt.date(2026, 8, 14)  # neither the generator's default nor today
CLAIMS = 4_000


@pytest.fixture(scope="module")
def first_start():
    from config import Settings
    from db.session import make_engine, make_session_factory, normalise_url
    from jobs import bootstrap

    url, admin = dbutil.create_database("scope_first_start")
    engine = None
    try:
        dbutil.upgrade(url)
        engine = make_engine(normalise_url(url))
        factory = make_session_factory(engine)
        said: list[str] = []
        bootstrap.run(factory, Settings(database_url=url), demo_claims=CLAIMS, demo_end=END, say=said.append)
        yield factory, said
    finally:
        if engine is not None:
            engine.dispose()
        dbutil.drop_database(url, admin)


def test_claims_end_on_the_chosen_date(first_start):
    factory, said = first_start
    with factory() as s:
        last_report, first_loss, last_close = s.execute(select(
            func.max(Claim.report_date), func.min(Claim.loss_date), func.max(Claim.closed_at))).one()
        assert s.scalar(select(func.count()).select_from(Claim)) == CLAIMS
        assert s.scalar(select(func.max(KpiDaily.day))) == END
    assert last_report == END and first_loss >= END - dt.timedelta(days=729)
    assert last_close.date() <= END
    assert any(f"up to {END}" in line for line in said)


def test_the_first_refresh_is_a_recorded_job_run(first_start):
    # The dashboard's "last at ..." reads the job runs; without this it said only
    # "refreshed every 5 minutes" until the scheduler's first refresh.
    from services import aggregates

    factory, said = first_start
    with factory() as s:
        run = s.scalars(select(JobRun).where(JobRun.job == "refresh_aggregates")).one()
        assert (run.status, run.triggered_by) == ("succeeded", "first start")
        assert aggregates.refreshed_at(s) == run.finished_at
        assert "last at" in aggregates.refreshed_text(s)
    assert "computed the dashboard figures" in said


def test_history_follows_the_end_date(first_start):
    factory, _ = first_start
    day_after = dt.datetime.combine(END + dt.timedelta(days=1), dt.time(0), dt.timezone.utc)
    with factory() as s:
        history = s.scalars(select(ModelVersion).where(ModelVersion.params["demo_history"].is_not(None))).one()
        assert history.params["demo_history"]["go_live"] == (END - dt.timedelta(days=240)).isoformat()
        assert history.train_end < END - dt.timedelta(days=240)
        decided = s.execute(select(func.count(), func.min(RoutingDecision.decided_at),
                                   func.max(RoutingDecision.decided_at))
                            .where(RoutingDecision.model_version_id == history.id)).one()
        assert decided[0] > 100
        assert decided[1].date() >= END - dt.timedelta(days=240) and decided[2] < day_after
        moved = s.execute(select(func.count(), func.max(ClaimEvent.at)).where(ClaimEvent.kind == "moved")).one()
        verdicts = s.execute(select(func.count(), func.max(RoutingFeedback.created_at))).one()
    assert moved[0] > 0 and moved[1] < day_after
    assert verdicts[0] > 0 and verdicts[1] < day_after


def test_alert_rules_have_data_for_periods_ending_on_the_end_date(first_start):
    """Evaluated on the end date, the default rules see this period's claims and closings.
    (Verdicts come before a claim closes; from 4,000 claims there are one or two a day,
    so a 7-day agreement window may be empty here: not asserted.)"""
    from services import alerts

    factory, _ = first_start
    with factory() as s:
        values = {metric: alerts.rule_value(s, metric, period, None, END)
                  for metric, _, _, period, _ in alerts.DEFAULT_RULES}
    assert {m for m, *_ in alerts.DEFAULT_RULES} == {"reassignment_rate", "routing_accuracy", "backlog",
                                                     "agreement_rate", "open_past_sla_share"}
    for metric in ("reassignment_rate", "routing_accuracy", "backlog", "open_past_sla_share"):
        value, _, end = values[metric]
        assert value is not None and end == END, (metric, values[metric])
    assert values["backlog"][0] > 0.05 * CLAIMS
    assert 0 < values["open_past_sla_share"][0] < 0.2  # some late, not enough for the default warning


def test_open_claims_history_starts_on_their_report_date(first_start):
    """A demo claim arrived, was routed and (for some) assigned on its report date, not
    at the load: its history says so and "New for ... so far" counts from there, as
    the workload age buckets do (they counted months while the history said minutes)."""
    from services.workflow import timeline

    factory, _ = first_start
    loaded = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    with factory() as s:
        claims = s.scalars(select(Claim).where(Claim.status != "closed", Claim.report_date < END - dt.timedelta(days=30))
                           .order_by(Claim.id)).all()
        assert claims
        assert all(c.created_at.astimezone(dt.timezone.utc).date() == c.report_date for c in claims)
        report = {c.id: c.report_date for c in claims}
        events = s.execute(select(ClaimEvent.claim_id, ClaimEvent.kind, ClaimEvent.at)
                           .where(ClaimEvent.claim_id.in_(report), ClaimEvent.kind.in_(("routed", "status")))).all()
        kinds = {kind for _, kind, _ in events}
        assert kinds == {"routed", "status"}, kinds  # routed on the first start, some assigned by the demo team
        late = [(cid, kind, at) for cid, kind, at in events
                if at > loaded or at.astimezone(dt.timezone.utc).date() != report[cid]]
        assert not late, late[:5]
        for claim in claims[:20]:
            items = timeline(s, claim)
            assert items[0]["title"] == "Claim received" and items[0]["at"].date() == claim.report_date
            assert items[-1]["kind"] == "now" and " d" in items[-1]["title"], items[-1]["title"]
            # Queued as of arrival, but scored at this start: the step says when it was scored.
            [routed] = [i for i in items if i["kind"] == "routed"]
            assert routed["at"].date() == claim.report_date
            assert "when loaded into SCOPE, dated from its arrival" in routed["detail"]
            assert f"scored {dt.datetime.now(dt.timezone.utc):%Y-%m-%d}" in routed["detail"] or \
                f"scored {loaded:%Y-%m-%d}" in routed["detail"]
