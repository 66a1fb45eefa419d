"""Usage analytics figures equal what we work out by hand from events we create,
and the /analytics page is for managers and admins only."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from db.models import RoutingFeedback, UsageClick, UsageEvent, UsageRating
from services import analytics
from services.analytics import Period, PeriodError, parse_period
from tests.integration.test_claim_workflow import make_claim, make_user
from tests.integration.test_feedback import make_decision
from tests.webutil import render_page

UTC = dt.UTC
# A period no other test writes usage into, so the figures are only ours.
DAY = dt.date(2020, 3, 10)
PERIOD = Period(DAY, DAY + dt.timedelta(days=6))


def at(hh: int, mm: int = 0, ss: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=UTC)


def ev(session, user, journey, action, when, page="/claims/<claim_number>", subject=None):
    session.add(UsageEvent(user_id=user.id, role=user.role, journey_id=journey, action=action, page=page,
                           subject=subject, at=when, duration_ms=20))


@pytest.fixture()
def people(db_session):
    return {"a": make_user(db_session, "adjuster", ("AUTO_PD",)), "b": make_user(db_session, "adjuster", ("AUTO_PD",)),
            "m": make_user(db_session, "manager")}


def test_funnel_counts_ordered_steps_per_journey(db_session, people):
    a, b, m = people["a"], people["b"], people["m"]
    # J1: queue, claim, decision: the whole funnel.
    ev(db_session, a, "J1", "page_view", at(9), page="/queues")
    ev(db_session, a, "J1", "claim_opened", at(9, 1), subject="s1")
    ev(db_session, a, "J1", "decision_recorded", at(9, 3), subject="s1")
    # J2: queue, claim, then nothing.
    ev(db_session, b, "J2", "page_view", at(9), page="/queues")
    ev(db_session, b, "J2", "claim_opened", at(9, 2), subject="s2")
    # J3: a claim opened *before* the queue view does not count as the next step.
    ev(db_session, a, "J3", "claim_opened", at(10), subject="s3")
    ev(db_session, a, "J3", "page_view", at(10, 5), page="/queues")
    # J4: a manager from My work to a status change.
    ev(db_session, m, "J4", "page_view", at(11), page="/my-work")
    ev(db_session, m, "J4", "claim_opened", at(11, 1), subject="s4")
    ev(db_session, m, "J4", "status_changed", at(11, 2), subject="s4")
    # J5: never saw a queue; J6: decided without queue or claim page; J7: outside the period.
    ev(db_session, m, "J5", "page_view", at(12), page="/dashboard")
    ev(db_session, b, "J6", "decision_recorded", at(12), subject="s5")
    ev(db_session, a, "J7", "page_view", at(9, day=DAY - dt.timedelta(days=1)), page="/queues")
    db_session.flush()

    f = analytics.funnel(db_session, PERIOD)
    assert f["total"] == [4, 3, 2]
    assert f["by_role"] == {"adjuster": [3, 2, 1], "manager": [1, 1, 1]}
    assert f["conversion"] == [1.0, 0.75, 0.5]
    only_adjusters = analytics.funnel(db_session, Period(PERIOD.start, PERIOD.end, "adjuster"))
    assert only_adjusters["total"] == [3, 2, 1] and set(only_adjusters["by_role"]) == {"adjuster"}


def test_time_to_decision_per_person(db_session, people):
    a, b, m = people["a"], people["b"], people["m"]
    # a: 2 minutes on s1; on s2 the latest opening before the first decision counts (10 minutes);
    # the later status change on s2 is not a second decision.
    ev(db_session, a, "J1", "claim_opened", at(10), subject="s1")
    ev(db_session, a, "J1", "decision_recorded", at(10, 2), subject="s1")
    ev(db_session, a, "J1", "claim_opened", at(11), subject="s2")
    ev(db_session, a, "J1", "claim_opened", at(11, 30), subject="s2")
    ev(db_session, a, "J1", "decision_recorded", at(11, 40), subject="s2")
    ev(db_session, a, "J1", "status_changed", at(11, 50), subject="s2")
    # b: 30 seconds on s3; a decision on s4 without opening it has no duration.
    ev(db_session, b, "J2", "claim_opened", at(9), subject="s3")
    ev(db_session, b, "J2", "decision_recorded", at(9, 0, 30), subject="s3")
    ev(db_session, b, "J2", "decision_recorded", at(9, 5), subject="s4")
    # m: 5 minutes to a status change; someone else's opening of s3 does not count for m.
    ev(db_session, m, "J3", "claim_opened", at(12), subject="s5")
    ev(db_session, m, "J3", "status_changed", at(12, 5), subject="s5")
    ev(db_session, m, "J3", "status_changed", at(12, 10), subject="s3")
    db_session.flush()

    rows = {r["user_id"]: r for r in analytics.time_to_decision(db_session, PERIOD)}
    assert set(rows) == {a.id, b.id, m.id}
    assert (rows[a.id]["decisions"], rows[a.id]["median_s"], rows[a.id]["mean_s"]) == (2, 360.0, 360.0)
    assert (rows[b.id]["decisions"], rows[b.id]["median_s"]) == (1, 30.0)
    assert (rows[m.id]["decisions"], rows[m.id]["median_s"]) == (1, 300.0)
    assert [r["user_id"] for r in analytics.time_to_decision(db_session, PERIOD)] == [b.id, m.id, a.id]


def test_page_views_journeys_clicks_and_summary(db_session, people):
    a, m = people["a"], people["m"]
    for i, page in enumerate(["/", "/queues", "/queues", "/claims/<claim_number>", "/queues"]):
        ev(db_session, a, "J1", "page_view", at(9, i), page=page)
    for i, page in enumerate(["/", "/queues", "/claims/<claim_number>"]):
        ev(db_session, a, "J2", "page_view", at(13, i), page=page)
    ev(db_session, m, "J3", "page_view", at(10), page="/dashboard")
    ev(db_session, a, "J1", "time_on_page", at(9, 10), page="/queues")
    for x, y in ((0.1, 0.2), (0.5, 0.5), (0.9, 0.9)):
        db_session.add(UsageClick(user_id=a.id, role="adjuster", page="/queues", x=x, y=y, viewport_w=1440,
                                  viewport_h=900, at=at(9)))
    db_session.add(UsageClick(user_id=m.id, role="manager", page="/dashboard", x=0.3, y=0.3, viewport_w=1440,
                              viewport_h=900, at=at(10)))
    db_session.flush()

    views = {(r["page"], r["role"]): r["views"] for r in analytics.page_views(db_session, PERIOD)}
    assert views == {("/", "adjuster"): 2, ("/queues", "adjuster"): 4, ("/claims/<claim_number>", "adjuster"): 2,
                     ("/dashboard", "manager"): 1}
    j = analytics.journeys(db_session, PERIOD)
    assert j["journeys"] == 3 and j["median_pages"] == 3
    paths = {p["path"]: p["journeys"] for p in j["paths"]}
    # Repeated pages collapse; only the first four steps name a path.
    assert paths == {"/ → /queues → /claims/<claim_number> → /queues": 1, "/ → /queues → /claims/<claim_number>": 1,
                     "/dashboard": 1}
    assert j["median_minutes"] == pytest.approx(2.0)
    assert analytics.click_pages(db_session, PERIOD) == [("/queues", 3), ("/dashboard", 1)]
    assert sorted(analytics.clicks(db_session, PERIOD, "/queues")) == [(0.1, 0.2), (0.5, 0.5), (0.9, 0.9)]
    s = analytics.summary(db_session, PERIOD)
    assert (s["page_views"], s["journeys"], s["users"], s["clicks"]) == (9, 3, 2, 4)
    s = analytics.summary(db_session, Period(PERIOD.start, PERIOD.end, "manager"))
    assert (s["page_views"], s["journeys"], s["users"], s["clicks"]) == (1, 1, 1, 1)


def test_satisfaction_per_week_uses_current_verdicts_and_ratings(db_session, people):
    a, b = people["a"], people["b"]
    claim1, claim2 = make_claim(db_session), make_claim(db_session)
    d1, d2 = make_decision(db_session, claim1), make_decision(db_session, claim2)
    monday = DAY - dt.timedelta(days=DAY.weekday())
    # a changes their mind on d1 (disagree, then agree: the agree counts); b disagrees on d2.
    for user, decision, agrees, when in ((a, d1, False, at(9)), (a, d1, True, at(10)), (b, d2, False, at(11)),
                                         (a, d2, True, at(9, day=DAY + dt.timedelta(days=7)))):
        db_session.add(RoutingFeedback(claim_id=decision.claim_id, decision_id=decision.id, user_id=user.id,
                                       agrees=agrees, created_at=when))
    db_session.add_all([UsageRating(user_id=a.id, role="adjuster", asked_at=at(9), answered_at=at(9, 1), rating=4),
                        UsageRating(user_id=b.id, role="adjuster", asked_at=at(9), answered_at=at(9, 2), rating=2),
                        UsageRating(user_id=b.id, role="adjuster", asked_at=at(9))])  # shown, not answered
    db_session.flush()

    weeks = analytics.satisfaction(db_session, Period(DAY, DAY + dt.timedelta(days=13)))
    assert [w["week"] for w in weeks] == [monday, monday + dt.timedelta(days=7)]
    assert (weeks[0]["feedback"], weeks[0]["agreed"], weeks[0]["agreement"]) == (2, 1, 0.5)
    assert (weeks[0]["avg_rating"], weeks[0]["ratings"]) == (3.0, 2)
    assert (weeks[1]["feedback"], weeks[1]["agreement"], weeks[1]["avg_rating"]) == (1, 1.0, None)


def test_empty_period_gives_zeros_not_errors(db_session):
    p = Period(dt.date(2001, 1, 1), dt.date(2001, 1, 31))
    assert analytics.funnel(db_session, p)["total"] == [0, 0, 0]
    assert analytics.funnel(db_session, p)["conversion"] == [None, None, None]
    assert analytics.time_to_decision(db_session, p) == []
    assert analytics.journeys(db_session, p)["journeys"] == 0
    assert analytics.satisfaction(db_session, p) == [] and analytics.page_views(db_session, p) == []
    assert analytics.summary(db_session, p)["avg_rating"] is None


@pytest.mark.parametrize("raw", [{"start": "2026-13-01"}, {"start": "2026-02-01", "end": "2026-01-01"},
                                 {"start": "2024-01-01", "end": "2026-01-01"}, {"role": "owner"},
                                 {"start": "x" * 40}])
def test_bad_periods_are_refused(raw):
    with pytest.raises(PeriodError):
        parse_period(raw, today=dt.date(2026, 11, 28))


def test_default_period_is_last_30_days():
    p = parse_period({}, today=dt.date(2026, 11, 28))
    assert (p.start, p.end, p.role) == (dt.date(2026, 10, 30), dt.date(2026, 11, 28), None)


# ---- the page and its callbacks -------------------------------------------------

def _render_key(web_app) -> str:
    return next(k for k in web_app.callback_map if "analytics-summary.children" in k)


def call_render(client, web_app, search: str):
    outputs = [{"id": i, "property": p} for i, p in (
        ("analytics-status", "children"), ("analytics-summary", "children"), ("analytics-funnel", "children"),
        ("analytics-funnel-roles", "children"), ("analytics-ttd", "children"), ("analytics-journeys", "children"),
        ("analytics-satisfaction", "children"), ("analytics-pages", "children"),
        ("analytics-heatmap-page", "options"), ("analytics-heatmap-page", "value"))]
    return client.post("/_dash-update-component", json={
        "output": _render_key(web_app), "outputs": outputs,
        "inputs": [{"id": "analytics-url", "property": "search", "value": search}],
        "state": [], "changedPropIds": ["analytics-url.search"]})


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_open_analytics(client_for, web_app, role):
    client = client_for(role)
    status, body = render_page(client, "/analytics")
    assert status == 200 and "Usage analytics" in body and "analytics-range" in body
    response = call_render(client, web_app, "")
    assert response.status_code == 200
    # The page views made just now are in today's figures.
    cards = json.loads(response.get_data(as_text=True))["response"]["analytics-summary"]["children"]
    assert "usage-page-views" in json.dumps(cards)


@pytest.mark.parametrize("role", ["adjuster", "viewer"])
def test_adjusters_and_viewers_get_no_analytics(client_for, web_app, role):
    client = client_for(role)
    status, body = render_page(client, "/analytics")
    assert status == 200 and "Not allowed" in body and "analytics-range" not in body
    response = call_render(client, web_app, "")
    assert response.status_code == 403 and "usage-page-views" not in response.get_data(as_text=True)


def test_empty_period_shows_clear_empty_states(client_for, web_app):
    response = call_render(client_for("manager"), web_app, "?start=2001-01-01&end=2001-01-31")
    body = json.loads(response.get_data(as_text=True))["response"]
    text = json.dumps(body)
    assert "Nobody used SCOPE between 2001-01-01 and 2001-01-31" in text
    for panel in ("analytics-funnel", "analytics-ttd", "analytics-journeys", "analytics-satisfaction",
                  "analytics-pages"):
        assert "empty-state" in json.dumps(body[panel]), panel
    assert body["analytics-heatmap-page"]["options"] == [] and body["analytics-heatmap-page"]["value"] is None


@pytest.mark.parametrize("search", ["?start=nope", "?start=2026-02-01&end=2026-01-01", "?role=owner", 5,
                                    "?" + "a" * 3000])
def test_tampered_filters_get_a_message(client_for, web_app, search):
    response = call_render(client_for("manager"), web_app, search)
    assert response.status_code == 200
    assert "Invalid filter" in json.dumps(json.loads(response.get_data(as_text=True))["response"])
