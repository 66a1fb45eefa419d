"""Usage recording: page views and key actions are stored on the server without
claim data, recording never breaks the work it watches, and the click endpoint
takes only well-formed, same-origin batches from signed-in users."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select, text

from db.models import UsageClick, UsageEvent, UsageRating
from services import usage
from services.usage import UsageError, page_template, parse_beacon
from tests.integration.test_claim_workflow import make_user
from tests.integration.test_feedback import call_feedback, call_note, call_status, web_claim
from tests.webutil import render_page

UTC = dt.UTC
TEMPLATES = ["/", "/queues", "/my-work", "/claims/<claim_number>", "/analytics", "/admin/jobs"]
HOST = "http://localhost"


@pytest.mark.parametrize("path, expected", [
    ("/", "/"), ("/queues?department=AUTO_PD&q=Smith", "/queues"), ("/queues/", "/queues"),
    ("/claims/CLM-000123", "/claims/<claim_number>"), ("/claims/CLM-1?tab=x#notes", "/claims/<claim_number>"),
    ("/claims/a/b", "(unknown)"), ("/nowhere", "(unknown)"), (None, "(unknown)"), ("/" + "x" * 3000, "(unknown)"),
])
def test_paths_become_templates_without_values(path, expected):
    assert page_template(path, TEMPLATES) == expected


GOOD_CLICK = {"x": 0.25, "y": 0.5, "w": 1440, "h": 900, "path": "/queues"}


@pytest.mark.parametrize("data", [
    [], "clicks", {"clicks": "x"}, {"clicks": [], "views": []}, {"clicks": [GOOD_CLICK], "extra": 1},
    {"clicks": [{**GOOD_CLICK, "x": 1.5}]}, {"clicks": [{**GOOD_CLICK, "y": -0.1}]},
    {"clicks": [{**GOOD_CLICK, "x": True}]}, {"clicks": [{**GOOD_CLICK, "x": float("nan")}]},
    {"clicks": [{**GOOD_CLICK, "w": 0}]}, {"clicks": [{**GOOD_CLICK, "w": 2.5}]},
    {"clicks": [{**GOOD_CLICK, "path": "http://evil.example/"}]}, {"clicks": [GOOD_CLICK] * 51},
    {"clicks": [GOOD_CLICK, 7]}, {"views": [{"path": "/", "ms": -1}]}, {"views": [{"path": "/", "ms": 10**10}]},
    {"views": [{"path": "/", "ms": "5"}]},
])
def test_malformed_beacons_are_refused_whole(data):
    with pytest.raises(UsageError):
        parse_beacon(data)


def test_record_never_raises_and_keeps_the_transaction_usable(db_session):
    user = make_user(db_session, "adjuster")
    assert usage.record(db_session, user_id=user.id, role="adjuster", journey_id="j", action="page_view", page="/")
    assert not usage.record(db_session, user_id=user.id, role="adjuster", journey_id="j", action="bogus", page="/")
    # A failing insert (unknown user) is rolled back to its savepoint; the caller's work goes on.
    assert not usage.record(db_session, user_id=10**9, role="adjuster", journey_id="j", action="page_view", page="/")
    assert db_session.scalar(select(func.count()).select_from(UsageEvent)
                             .where(UsageEvent.user_id == user.id)) == 1


def test_purge_deletes_only_old_rows(db_session):
    user = make_user(db_session, "adjuster")
    now = dt.datetime(2026, 11, 28, tzinfo=UTC)
    old, recent = now - dt.timedelta(days=181), now - dt.timedelta(days=179)
    for when in (old, recent):
        db_session.add(UsageEvent(user_id=user.id, role="adjuster", journey_id="j", action="page_view", page="/",
                                  at=when))
        db_session.add(UsageClick(user_id=user.id, role="adjuster", page="/", x=0.1, y=0.1, viewport_w=10,
                                  viewport_h=10, at=when))
        db_session.add(UsageRating(user_id=user.id, role="adjuster", asked_at=when))
    db_session.flush()
    result = usage.purge(db_session, days=180, now=now)
    assert (result["events"], result["clicks"], result["ratings"]) == (1, 1, 1)
    for model, column in ((UsageEvent, UsageEvent.at), (UsageClick, UsageClick.at), (UsageRating, UsageRating.asked_at)):
        assert db_session.scalars(select(column).where(model.user_id == user.id)).all() == [recent]


def test_purge_job_is_registered():
    from jobs.registry import JOBS

    assert JOBS["purge_usage"].fn.__name__ == "purge_usage"


def test_rating_asked_after_some_use_at_most_weekly(db_session):
    user, other = make_user(db_session, "adjuster"), make_user(db_session, "adjuster")
    now = dt.datetime(2026, 11, 28, 15, tzinfo=UTC)
    assert not usage.rating_due(db_session, user.id, now)  # not used today yet
    for minute in range(3):
        usage.record(db_session, user_id=user.id, role="adjuster", journey_id="j", action="page_view", page="/",
                     at=now - dt.timedelta(minutes=minute))
    assert usage.rating_due(db_session, user.id, now)
    row = usage.ask_rating(db_session, user.id, "adjuster", now)
    assert not usage.rating_due(db_session, user.id, now + dt.timedelta(days=6))
    with pytest.raises(UsageError):
        usage.answer_rating(db_session, other.id, row.id, 4, now=now)  # not theirs
    for bad in (0, 6, "x", None, True, 3.5):
        with pytest.raises(UsageError):
            usage.answer_rating(db_session, user.id, row.id, bad, now=now)
    with pytest.raises(UsageError):
        usage.answer_rating(db_session, user.id, row.id, 4, "x" * 501, now=now)
    usage.answer_rating(db_session, user.id, row.id, "4", "  clear reasons  ", now=now)
    assert (row.rating, row.comment, row.answered_at) == (4, "clear reasons", now)
    with pytest.raises(UsageError):
        usage.answer_rating(db_session, user.id, row.id, 5, now=now)  # answered once only


# ---- through the web app ---------------------------------------------------------

def _db(web_app, fn):
    from db.flask_db import read_session

    with web_app.server.app_context():
        session = read_session()
        try:
            return fn(session)
        finally:
            session.close()


def _user_id(web_app, email: str) -> int:
    from db.models import User

    return _db(web_app, lambda s: s.scalar(select(User.id).where(User.email == email)))


def _events(web_app, **where):
    def q(s):
        stmt = select(UsageEvent).order_by(UsageEvent.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(UsageEvent, key) == value)
        return s.scalars(stmt).all()
    return _db(web_app, q)


def test_page_render_records_a_page_view_with_its_template(web_app, client_for):
    client = client_for("adjuster")
    uid = _user_id(web_app, "adjuster@scope.example")
    before = len(_events(web_app, user_id=uid, page="/queues", action="page_view"))
    status, _ = render_page(client, "/queues", "?department=AUTO_PD&search=Smith")
    assert status == 200
    rows = _events(web_app, user_id=uid, page="/queues", action="page_view")
    assert len(rows) == before + 1
    new = rows[-1]
    assert new.role == "adjuster" and new.duration_ms is not None and new.duration_ms >= 0 and new.journey_id
    # Refused callbacks (401/403) record nothing.
    anonymous = web_app.server.test_client()
    assert render_page(anonymous, "/queues")[0] == 401
    assert len(_events(web_app, user_id=uid, page="/queues", action="page_view")) == before + 1


def test_claim_work_is_recorded_without_claim_data(web_app, client_for):
    claim = web_claim(web_app)
    client = client_for("adjuster")
    client.environ_base["HTTP_REFERER"] = f"{HOST}/claims/{claim['number']}?from=queue"
    ref = usage.claim_ref(claim["number"], web_app.server.config["SECRET_KEY"])

    status, page = render_page(client, f"/claims/{claim['number']}")
    assert status == 200 and claim["number"] in page
    assert call_status(client, web_app, claim, "assign_me")[0] == 200
    comment, note = "Claimant Jane Roe, phone 555-0100", "called Jane Roe at home"
    assert call_feedback(client, web_app, claim, comment=comment)[0] == 200
    assert call_note(client, web_app, claim, note)[0] == 200
    # A refused verdict (no reason given for a disagreement) records no decision.
    call_feedback(client, web_app, claim, reason=None)

    rows = _events(web_app, subject=ref)
    assert [r.action for r in rows] == ["claim_opened", "claim_assigned", "decision_recorded", "note_added"]
    assert {r.page for r in rows} == {"/claims/<claim_number>"}
    assert len({r.journey_id for r in rows}) == 1 and {r.role for r in rows} == {"adjuster"}
    assert all(r.duration_ms is not None for r in rows)

    description = _db(web_app, lambda s: s.execute(text("SELECT description FROM claims WHERE id = :i"),
                                                   {"i": claim["id"]}).scalar_one())
    dump = _db(web_app, lambda s: " ".join(str(v) for table in ("usage_events", "usage_clicks", "usage_ratings")
                                           for row in s.execute(text(f"SELECT * FROM {table}")).all() for v in row))
    for secret in (claim["number"], description, comment, note, "Jane Roe", "from=queue"):
        assert secret not in dump, secret


def _post(client, body, *, origin: str | None = HOST, referer: str | None = None, raw: bytes | None = None):
    headers = {"Content-Type": "application/json"}
    client.environ_base.pop("HTTP_ORIGIN", None)  # what conftest adds for every request
    if origin:
        headers["Origin"] = origin
    if referer:
        headers["Referer"] = referer
    return client.post("/usage/clicks", data=raw if raw is not None else json.dumps(body), headers=headers)


def _clicks(web_app, uid):
    return _db(web_app, lambda s: s.scalars(select(UsageClick).where(UsageClick.user_id == uid)
                                            .order_by(UsageClick.id)).all())


def test_click_endpoint_accepts_valid_same_origin_batches(web_app, client_for):
    client = client_for("manager")
    uid = _user_id(web_app, "manager@scope.example")
    before = len(_clicks(web_app, uid))
    views_before = len(_events(web_app, user_id=uid, action="time_on_page"))
    body = {"clicks": [{**GOOD_CLICK, "path": "/claims/CLM-000042"}, {**GOOD_CLICK, "x": 1, "y": 0}],
            "views": [{"path": "/queues", "ms": 4200}]}
    response = _post(client, body)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["stored"] == {"clicks": 2, "views": 1}
    rows = _clicks(web_app, uid)[before:]
    assert [(r.page, r.x, r.y, r.viewport_w, r.role) for r in rows] == [
        ("/claims/<claim_number>", 0.25, 0.5, 1440, "manager"), ("/queues", 1.0, 0.0, 1440, "manager")]
    views = _events(web_app, user_id=uid, action="time_on_page")
    assert len(views) == views_before + 1 and (views[-1].page, views[-1].duration_ms) == ("/queues", 4200)
    # No Origin header: the Referer names our page, which is enough.
    assert _post(client, body, origin=None, referer=f"{HOST}/queues").status_code == 201


@pytest.mark.parametrize("case", ["foreign-origin", "foreign-referer", "no-origin", "null-origin", "oversized",
                                  "not-json", "bad-item", "too-many"])
def test_click_endpoint_refuses_bad_requests_and_stores_nothing(web_app, client_for, case):
    client = client_for("manager")
    uid = _user_id(web_app, "manager@scope.example")
    before = len(_clicks(web_app, uid))
    body = {"clicks": [GOOD_CLICK]}
    response = {
        "foreign-origin": lambda: _post(client, body, origin="http://evil.example"),
        "foreign-referer": lambda: _post(client, body, origin=None, referer="http://evil.example/localhost"),
        "no-origin": lambda: _post(client, body, origin=None),
        "null-origin": lambda: _post(client, body, origin="null"),
        "oversized": lambda: _post(client, None, raw=b'{"clicks": [' + b" " * 20_000 + b"]}"),
        "not-json": lambda: _post(client, None, raw=b"{clicks:"),
        "bad-item": lambda: _post(client, {"clicks": [{**GOOD_CLICK, "x": 3}]}),
        "too-many": lambda: _post(client, {"clicks": [GOOD_CLICK] * 60}),
    }[case]()
    expected = {"foreign-origin": 403, "foreign-referer": 403, "no-origin": 403, "null-origin": 403,
                "oversized": 413, "not-json": 400, "bad-item": 400, "too-many": 400}[case]
    assert response.status_code == expected
    assert len(_clicks(web_app, uid)) == before


def test_click_endpoint_needs_a_signed_in_user(web_app):
    response = _post(web_app.server.test_client(), {"clicks": [GOOD_CLICK]})
    assert response.status_code == 401
