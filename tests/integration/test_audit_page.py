"""Admin audit page (search, paging, export that is itself audited, chain check),
security events in the log, and personal data masked for viewers."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from auth.permissions import ROLE_PERMISSIONS, Perm
from db.models import AuditLog, Claim, Party
from services import audit
from services.privacy import mask
from tests.integration.test_api import auth, make_token
from tests.integration.test_feedback import web_claim
from tests.webutil import render_page


def _key(web_app, needle: str) -> str:
    return next(k for k in web_app.callback_map if needle in k)


def _search(client, web_app, actor="", action="", target="", date_from=None, date_to=None, page=0, trigger=None):
    inputs = [("audit-actor", "value", actor), ("audit-action", "value", action), ("audit-target", "value", target),
              ("audit-date-from", "value", date_from), ("audit-date-to", "value", date_to),
              ("audit-prev", "n_clicks", 0), ("audit-next", "n_clicks", 1 if trigger == "audit-next" else 0),
              ("audit-chain-poll", "disabled", True)]
    response = client.post("/_dash-update-component", json={
        "output": _key(web_app, "audit-entries.children"),
        "outputs": [{"id": "audit-entries", "property": "children"}, {"id": "audit-pager", "property": "children"},
                    {"id": "audit-page", "property": "data"}, {"id": "audit-search-msg", "property": "children"}],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": "audit-page", "property": "data", "value": page}],
        "changedPropIds": [(f"{trigger}.disabled" if trigger == "audit-chain-poll" else f"{trigger}.n_clicks")
                           if trigger else "audit-actor.value"],
    })
    return response.status_code, (json.loads(response.get_data(as_text=True))["response"]
                                  if response.status_code == 200 else None)


def _count(web_app, *where) -> int:
    from db.flask_db import read_session

    with web_app.server.app_context():
        return read_session().scalar(select(func.count()).select_from(AuditLog).where(*where))


@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_audit_page_only_for_roles_with_view_audit(client_for, role):
    status, body = render_page(client_for(role), "/admin/audit")
    assert status == 200
    if Perm.VIEW_AUDIT in ROLE_PERMISSIONS[role]:
        assert "Audit log" in body and "Verify now" in body
    else:
        assert "Not allowed" in body and "Verify now" not in body


def test_search_filters_and_pages_on_the_server(web_app, client_for):
    client = client_for("admin")
    marker = f"audit-test-{dt.datetime.now().strftime('%H%M%S%f')}@scope.example"
    from db.flask_db import unit_of_work

    with web_app.server.app_context():
        with unit_of_work() as s:
            for i in range(audit.PAGE_SIZE + 7):
                audit.record(s, actor=marker, action="test.paging", target_type="claim", target_id=f"P{i}")
            audit.record(s, actor=marker, action="other.thing", target_type="user", target_id="42")
    status, body = _search(client, web_app, actor=marker, action="test")
    assert status == 200
    text = json.dumps(body)
    assert body["audit-pager"]["children"] == f"1–{audit.PAGE_SIZE} of {audit.PAGE_SIZE + 7} entries"
    assert f"claim:P{audit.PAGE_SIZE + 6}" in text and "other.thing" not in text  # newest first
    status, body = _search(client, web_app, actor=marker, action="test", page=0, trigger="audit-next")
    assert body["audit-pager"]["children"] == f"{audit.PAGE_SIZE + 1}–{audit.PAGE_SIZE + 7} of {audit.PAGE_SIZE + 7} entries"
    assert body["audit-page"]["data"] == 1 and "claim:P0" in json.dumps(body)
    _, body = _search(client, web_app, actor=marker, target="user:42")
    assert body["audit-pager"]["children"] == "1–1 of 1 entries"
    today = dt.datetime.now(dt.UTC).date()
    _, body = _search(client, web_app, actor=marker, date_from=(today + dt.timedelta(days=1)).isoformat())
    assert body["audit-pager"]["children"] == "0 entries"


def test_a_finished_check_refreshes_the_list_on_the_same_page(web_app, client_for):
    """When Verify now's check ends (the poll switches off) the list reloads where the reader is,
    so its count includes the check's own audit.verify entry without a page reload."""
    client = client_for("admin")
    marker = f"audit-refresh-{dt.datetime.now().strftime('%H%M%S%f')}@scope.example"
    from db.flask_db import unit_of_work

    with web_app.server.app_context():
        with unit_of_work() as s:
            for i in range(audit.PAGE_SIZE + 2):
                audit.record(s, actor=marker, action="test.refresh", target_type="claim", target_id=f"R{i}")
    _, body = _search(client, web_app, actor=marker, page=1, trigger="audit-next")
    assert body["audit-page"]["data"] == 1
    with web_app.server.app_context():
        with unit_of_work() as s:  # stands in for the check's entry, written by the scheduler
            audit.record(s, actor=marker, action="test.refresh", target_type="claim", target_id="late")
    _, body = _search(client, web_app, actor=marker, page=1, trigger="audit-chain-poll")
    assert body["audit-page"]["data"] == 1  # not sent back to the first page
    total = audit.PAGE_SIZE + 3
    assert body["audit-pager"]["children"] == f"{audit.PAGE_SIZE + 1}–{total} of {total} entries"
    _, body = _search(client, web_app, actor=marker, page=1)  # a new filter still starts at the top
    assert body["audit-page"]["data"] == 0


def test_entries_name_their_claim_and_user_targets(web_app, client_for):
    """The log keeps ids ("claim:410"); the page shows what they are now, a claim as a link."""
    from db.flask_db import unit_of_work
    from db.models import User

    claim = web_claim(web_app)
    marker = f"audit-names-{dt.datetime.now().strftime('%H%M%S%f')}@scope.example"
    with web_app.server.app_context():
        with unit_of_work() as s:
            admin_id = s.scalar(select(User.id).where(User.email == "admin@scope.example"))
            audit.record(s, actor=marker, action="test.names", target_type="claim", target_id=claim["id"])
            audit.record(s, actor=marker, action="test.names", target_type="user", target_id=admin_id)
            audit.record(s, actor=marker, action="test.names", target_type="claim", target_id="999999999999")
    status, body = _search(client_for("admin"), web_app, actor=marker)
    assert status == 200
    text = json.dumps(body)
    assert f'"href": "/claims/{claim["number"]}"' in text and "admin@scope.example" in text
    assert "claim:999999999999" in text  # gone or never there: the bare id, no error


@pytest.mark.parametrize("bad", [dict(actor=123), dict(actor="x" * 500), dict(date_from="yesterday"),
                                 dict(date_from="2026-02-30"), dict(date_from="2026-05-02", date_to="2026-05-01"),
                                 dict(action=["a"]), dict(target={"$gt": ""}), dict(page="9" * 50)])
def test_tampered_search_values_answer_with_a_message(web_app, client_for, bad):
    status, body = _search(client_for("admin"), web_app, **bad)
    assert status == 200
    if "page" not in bad:
        assert body["audit-search-msg"]["children"]["props"]["color"] == "danger"


def test_manager_cannot_call_the_audit_callbacks(web_app, client_for):
    status, _ = _search(client_for("manager"), web_app)
    assert status == 403


def test_export_is_filtered_csv_and_itself_audited(web_app, client_for):
    client = client_for("admin")
    marker = f"export-{dt.datetime.now().strftime('%H%M%S%f')}@scope.example"
    from db.flask_db import unit_of_work

    with web_app.server.app_context():
        with unit_of_work() as s:
            audit.record(s, actor=marker, action="test.export", after={"v": "=HYPERLINK(1)"})
            audit.record(s, actor=marker, action="test.export", after={"v": 2})
    before = _count(web_app, AuditLog.action == "audit.export")
    response = client.post("/_dash-update-component", json={
        "output": _key(web_app, "audit-download.data"),
        "outputs": [{"id": "audit-download", "property": "data"}, {"id": "audit-search-msg", "property": "children"}],
        "inputs": [{"id": "audit-export", "property": "n_clicks", "value": 1}],
        "state": [{"id": "audit-actor", "property": "value", "value": marker},
                  {"id": "audit-action", "property": "value", "value": ""},
                  {"id": "audit-target", "property": "value", "value": ""},
                  {"id": "audit-date-from", "property": "value", "value": None},
                  {"id": "audit-date-to", "property": "value", "value": None}],
        "changedPropIds": ["audit-export.n_clicks"]})
    assert response.status_code == 200
    data = json.loads(response.get_data(as_text=True))["response"]["audit-download"]["data"]
    lines = data["content"].strip().splitlines()
    assert lines[0] == ",".join(audit.EXPORT_COLUMNS) and len(lines) == 3
    assert all(marker in line for line in lines[1:])
    assert _count(web_app, AuditLog.action == "audit.export") == before + 1


def _verify_now(client, web_app):
    return client.post("/_dash-update-component", json={
        "output": _key(web_app, "audit-chain-status.children...audit-chain-poll.disabled"),
        "outputs": [{"id": "audit-chain-status", "property": "children"},
                    {"id": "audit-chain-poll", "property": "disabled"}],
        "inputs": [{"id": "audit-verify", "property": "n_clicks", "value": 1}], "state": [],
        "changedPropIds": ["audit-verify.n_clicks"]})


def _follow(client, web_app):
    return client.post("/_dash-update-component", json={
        "output": next(k for k in web_app.callback_map if "audit-chain-status.children@" in k),
        "outputs": [{"id": "audit-chain-status", "property": "children"},
                    {"id": "audit-chain-poll", "property": "disabled"}],
        "inputs": [{"id": "audit-chain-poll", "property": "n_intervals", "value": 1}], "state": [],
        "changedPropIds": ["audit-chain-poll.n_intervals"]})


def _scheduler_takes_requests(web_app):
    """What the scheduler process does every two seconds (jobs.on_demand), here at once."""
    from db.flask_db import independent_sessions
    from jobs import on_demand

    with web_app.server.app_context():
        return on_demand.poll_once(independent_sessions(), web_app.server.config["SCOPE_SETTINGS"],
                                   start=lambda work: work())


def test_verify_now_asks_the_scheduler_and_the_page_follows_the_check(web_app, client_for):
    from db.models import JobRequest

    client = client_for("admin")
    _scheduler_takes_requests(web_app)  # nothing left over from another test
    before = _count(web_app, AuditLog.action == "audit.verify")
    response = _verify_now(client, web_app)
    assert response.status_code == 200
    body = json.loads(response.get_data(as_text=True))["response"]
    assert "waiting for the scheduler" in json.dumps(body["audit-chain-status"])
    assert body["audit-chain-poll"]["disabled"] is False  # the page follows the check
    # The check did not run in the request: only asked for.
    assert _count(web_app, AuditLog.action == "audit.verify") == before
    _verify_now(client, web_app)  # a second click while it waits asks nothing more
    with web_app.server.app_context():
        from db.flask_db import read_session

        waiting = read_session().scalars(select(JobRequest).where(JobRequest.picked_at.is_(None))).all()
        assert [r.requested_by for r in waiting] == ["admin@scope.example"]
    assert _scheduler_takes_requests(web_app) == 1
    body = json.loads(_follow(client, web_app).get_data(as_text=True))["response"]
    assert "Chain intact" in json.dumps(body["audit-chain-status"])
    assert body["audit-chain-poll"]["disabled"] is True  # done: the page stops asking
    assert _count(web_app, AuditLog.action == "audit.verify", AuditLog.actor == "admin@scope.example") >= 1
    assert _count(web_app, AuditLog.action == "audit.verify") == before + 1


def test_a_check_nobody_picks_up_says_the_scheduler_is_not_running(web_app, client_for):
    from sqlalchemy import text

    from db.flask_db import unit_of_work

    client = client_for("admin")
    _scheduler_takes_requests(web_app)
    assert _verify_now(client, web_app).status_code == 200
    with web_app.server.app_context():
        with unit_of_work() as s:
            s.execute(text("UPDATE job_requests SET requested_at = now() - interval '40 seconds' "
                           "WHERE picked_at IS NULL"))
    body = json.loads(_follow(client, web_app).get_data(as_text=True))["response"]
    shown = json.dumps(body["audit-chain-status"])
    assert "does not seem to be running" in shown and "scope scheduler" in shown
    assert body["audit-chain-poll"]["disabled"] is False  # it may still come
    with web_app.server.app_context():
        with unit_of_work() as s:
            s.execute(text("UPDATE job_requests SET requested_at = now() - interval '20 minutes' "
                           "WHERE picked_at IS NULL"))
    body = json.loads(_follow(client, web_app).get_data(as_text=True))["response"]
    assert "never started" in json.dumps(body["audit-chain-status"])
    assert body["audit-chain-poll"]["disabled"] is True


@pytest.mark.parametrize("role", ["manager", "adjuster", "viewer"])
def test_only_auditors_may_ask_for_or_follow_a_check(web_app, client_for, role):
    from db.models import JobRequest

    client = client_for(role)
    with web_app.server.app_context():
        from db.flask_db import read_session

        before = read_session().scalar(select(func.count()).select_from(JobRequest))
    assert _verify_now(client, web_app).status_code == 403
    assert _follow(client, web_app).status_code == 403
    with web_app.server.app_context():
        from db.flask_db import read_session

        assert read_session().scalar(select(func.count()).select_from(JobRequest)) == before


def test_logins_and_token_use_are_audited(web_app, client_for):
    from tests.conftest import login

    failed = _count(web_app, AuditLog.action == "auth.login_failed", AuditLog.actor == "viewer@scope.example")
    login(web_app.server.test_client(), "viewer@scope.example", "not-the-password-1")
    assert _count(web_app, AuditLog.action == "auth.login_failed", AuditLog.actor == "viewer@scope.example") == failed + 1
    ok = _count(web_app, AuditLog.action == "auth.login", AuditLog.actor == "viewer@scope.example")
    client_for("viewer")
    assert _count(web_app, AuditLog.action == "auth.login", AuditLog.actor == "viewer@scope.example") == ok + 1

    token = make_token(web_app, "adjuster@scope.example", ["queues:read"])
    uses = _count(web_app, AuditLog.action == "api_token.use")
    client = web_app.server.test_client()
    for _ in range(3):
        assert client.get("/api/v1/queues/AUTO_GLASS?limit=1", headers=auth(token)).status_code == 200
    assert _count(web_app, AuditLog.action == "api_token.use") == uses + 1  # first use in the hour only
    from services import audit

    with audit._denied_lock:  # forget refusals earlier tests made in this minute (same process)
        audit._denied_seen.clear()
        audit._denied_counts.clear()
    denied = (AuditLog.action == "access.denied", AuditLog.target_id == "api GET /api/v1/claims/X-1")
    before = _count(web_app, *denied)
    assert client.get("/api/v1/claims/X-1", headers=auth(token)).status_code == 403
    assert _count(web_app, *denied) == before + 1


# --- Field-level masking ----------------------------------------------------------

@pytest.fixture(scope="module")
def claim_with_parties(web_app):
    claim = web_claim(web_app)
    from db.flask_db import unit_of_work

    with web_app.server.app_context():
        with unit_of_work() as s:
            c = s.get(Claim, claim["id"])
            c.postcode = "90210"
            s.add(Party(claim_id=c.id, role="claimant", name="Harriet Quimby", phone="5551234567",
                        email="harriet@example.com", address="12 Aviation Way, Boston", bank_account="DE44500105175407324931",
                        plate="7ABC123"))
    return claim


def test_viewer_sees_personal_data_masked_on_the_claim_page(client_for, claim_with_parties):
    number = claim_with_parties["number"]
    _, adjuster = render_page(client_for("adjuster"), f"/claims/{number}")
    for value in ("Harriet Quimby", "(555) 123-4567", "harriet@example.com", "12 Aviation Way",
                  "DE44500105175407324931", "7ABC123", "90210"):
        assert value in adjuster, value
    _, viewer = render_page(client_for("viewer"), f"/claims/{number}")
    assert "Routing decision" in viewer  # the viewer reads the claim...
    for value in ("Harriet", "Quimby", "5551234567", "(555) 123-4567", "harriet@example.com", "Aviation",
                  "DE44500105175407324931", "7ABC123", "90210"):
        assert value not in viewer, value  # ...but not the people in it
    for field, value in (("name", "Harriet Quimby"), ("phone", "5551234567")):
        assert json.dumps(mask(field, value))[1:-1] in viewer, field  # as the JSON response spells it


def test_viewer_api_token_gets_masked_postcode(web_app, claim_with_parties):
    token = make_token(web_app, "viewer@scope.example", ["claims:read"])
    body = web_app.server.test_client().get(f"/api/v1/claims/{claim_with_parties['number']}",
                                            headers=auth(token)).get_json()
    assert body["postcode"] == mask("postcode", "90210") != "90210"
    manager = make_token(web_app, "manager@scope.example", ["claims:read"])
    body = web_app.server.test_client().get(f"/api/v1/claims/{claim_with_parties['number']}",
                                            headers=auth(manager)).get_json()
    assert body["postcode"] == "90210"


def _redis_client(url: str = "redis://127.0.0.1:6379/15", *, check: bool = True):
    import redis

    client = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
    if check:
        try:
            client.ping()
        except redis.RedisError as exc:
            pytest.skip(f"Redis not reachable at {url}: {exc.__class__.__name__}")
    return client


@pytest.fixture(params=["process", "redis"])
def denied_store(request):
    client = None if request.param == "process" else _redis_client()
    audit.set_denied_store(client)
    yield client
    audit.set_denied_store(None)


def test_denied_throttle_is_per_user_target_and_capped(denied_store):
    import random

    now = 1_000_000.0
    a, b = random.sample(range(10**8, 10**9), 2)  # Redis keeps keys two minutes: fresh ids per run
    assert audit.should_record_denied(a, "t1", now=now)
    assert not audit.should_record_denied(a, "t1", now=now + 5)
    assert audit.should_record_denied(a, "t1", now=now + 61)  # next minute
    recorded = sum(audit.should_record_denied(b, f"t{i}", now=now) for i in range(100))
    assert recorded == audit.DENIED_PER_USER_MINUTE


def test_denied_throttle_is_shared_by_processes_through_redis():
    """Two workers (two clients): a target one recorded is not recorded by the other,
    and the per-user cap counts both; a Redis that does not answer falls back."""
    import random

    user, now = random.randrange(10**8, 10**9), 2_000_000.0
    first, second = _redis_client(), _redis_client()
    try:
        audit.set_denied_store(first)
        assert audit.should_record_denied(user, "page x", now=now)
        audit.set_denied_store(second)
        assert not audit.should_record_denied(user, "page x", now=now)
        recorded = sum(audit.should_record_denied(user, f"t{i}", now=now) for i in range(50))
        assert recorded == audit.DENIED_PER_USER_MINUTE - 1
        audit.set_denied_store(_redis_client("redis://127.0.0.1:1/0", check=False))
        assert audit.should_record_denied(user, "page y", now=now)  # counted in this process instead
    finally:
        audit.set_denied_store(None)
