"""The queue grid's server side: paging, sorting, filtering, access, tampering."""
from __future__ import annotations

import pytest

from tests.webutil import outputs_of, queue_rows, render_page


def test_pages_through_a_department_queue(client_for):
    client = client_for("manager")
    # The page size follows the queue's length: the small test demo holds about a dozen
    # open AUTO_PD claims, more when other tests have added theirs.
    _, probe, _ = queue_rows(client, "AUTO_PD", {"startRow": 0, "endRow": 1})
    total = probe["rowCount"]
    assert total >= 4
    size = total // 2
    status, first, text = queue_rows(client, "AUTO_PD", {"startRow": 0, "endRow": size})
    assert status == 200 and first["rowCount"] == total and len(first["rowData"]) == size
    assert text == f"{total:,} open claims"
    _, second, _ = queue_rows(client, "AUTO_PD", {"startRow": size, "endRow": 2 * size})
    assert len(second["rowData"]) == size
    assert not {r["claim_number"] for r in first["rowData"]} & {r["claim_number"] for r in second["rowData"]}
    assert all(r["status"] != "closed" for r in first["rowData"] + second["rowData"])
    dates = [r["report_date"] for r in first["rowData"]]
    assert dates == sorted(dates, reverse=True)


def test_sort_and_filter_are_applied_on_the_server(client_for):
    client = client_for("manager")
    _, page, _ = queue_rows(client, "AUTO_PD", {"startRow": 0, "endRow": 50,
                                                "sortModel": [{"colId": "claimed_amount", "sort": "asc"}]})
    amounts = [r["claimed_amount"] for r in page["rowData"]]
    assert amounts == sorted(amounts)
    state = page["rowData"][0]["state"]
    _, filtered, _ = queue_rows(client, "AUTO_PD", {"startRow": 0, "endRow": 100,
                                                    "filterModel": {"state": {"filter": state, "type": "contains"}}})
    assert filtered["rowCount"] >= 1 and all(state in r["state"] for r in filtered["rowData"])


def test_adjuster_cannot_read_a_queue_outside_their_departments(client_for):
    status, rows, text = queue_rows(client_for("adjuster"), "WORKERS_COMP", {"startRow": 0, "endRow": 20})
    assert status == 200
    assert rows == {"rowData": [], "rowCount": 0}
    assert "no access" in text


@pytest.mark.parametrize("request_body,department", [
    ({"startRow": "abc", "endRow": 10}, "AUTO_PD"),
    ("not a dict", "AUTO_PD"),
    ({"startRow": 0, "endRow": 10}, {"code": "AUTO_PD"}),
    ({"startRow": 0, "endRow": 10, "sortModel": [{"colId": "password_hash"}],
      "filterModel": {"extra": {"filter": "x"}}}, "AUTO_PD"),
    ({"startRow": 0, "endRow": 10}, "NO_SUCH_DEPT"),
])
def test_tampered_requests_get_an_answer_not_an_error(client_for, request_body, department):
    status, rows, text = queue_rows(client_for("manager"), department, request_body)
    assert status == 200
    assert text


def test_page_size_is_capped(client_for):
    _, rows, _ = queue_rows(client_for("manager"), "AUTO_PD", {"startRow": 0, "endRow": 10_000_000})
    assert len(rows["rowData"]) <= 500


def test_queue_page_lists_only_visible_departments(client_for):
    status, body = render_page(client_for("adjuster"), "/queues", "?department=WORKERS_COMP")
    assert status == 200
    assert "Workers" not in body and "Auto Physical Damage" in body


# --- filter panel, My work, saved filters ---------------------------------

import datetime as dt  # noqa: E402
import json  # noqa: E402
from decimal import Decimal  # noqa: E402

from sqlalchemy import select  # noqa: E402

from components.queue_filters import PANEL_COLUMN, panel_filter_model  # noqa: E402
from services.queues import MY_WORK_SCOPE, OPEN_STATUSES  # noqa: E402


def filtered_rows(client, scope, filters, request=None):
    """The grid callback with the panel's filters, exactly as the browser sends
    them (inside the grid's filter model)."""
    request = dict(request or {"startRow": 0, "endRow": 500})
    request["filterModel"] = panel_filter_model(1, filters)
    status, rows, text = queue_rows(client, scope, request)
    assert status == 200
    return rows, text


@pytest.fixture(scope="module")
def web_session(web_database_url):
    from db.session import make_engine, make_session_factory, normalise_url

    engine = make_engine(normalise_url(web_database_url))
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


def _department_claims(session, code):
    from db.models import Claim, Department

    session.rollback()  # a fresh snapshot: other tests commit through the app
    return session.scalars(select(Claim).join(Department, Department.id == Claim.department_id)
                           .where(Department.code == code)).all()


def _expected(claims, f):
    """The filters computed in Python, independently of the service's SQL."""
    out = []
    for c in claims:
        statuses = f.get("statuses") or list(OPEN_STATUSES)
        if c.status not in statuses:
            continue
        if f.get("lines") and c.line_of_business not in f["lines"]:
            continue
        amount = c.claimed_amount
        if f.get("amount_min") is not None and (amount is None or amount < Decimal(str(f["amount_min"]))):
            continue
        if f.get("amount_max") is not None and (amount is None or amount > Decimal(str(f["amount_max"]))):
            continue
        day = c.loss_date if f.get("date_field") == "loss_date" else c.report_date
        if f.get("date_from") and (day is None or day < dt.date.fromisoformat(f["date_from"])):
            continue
        if f.get("date_to") and (day is None or day > dt.date.fromisoformat(f["date_to"])):
            continue
        if f.get("confidence"):
            conf = c.routing_confidence
            band = ("unscored" if conf is None else "low" if conf < 0.5 else "medium" if conf < 0.8 else "high")
            if band not in f["confidence"]:
                continue
        if f.get("search"):
            words = f["search"].lower().split()
            tokens = set("".join(ch if ch.isalnum() else " " for ch in (c.description or "").lower()).split())
            if not (c.claim_number.startswith(f["search"].upper()) or all(w in tokens for w in words)):
                continue
        out.append(c.claim_number)
    return set(out)


@pytest.mark.parametrize("filters", [
    {"statuses": ["new"]},
    {"statuses": ["assigned", "in_review"], "amount_min": 1000},
    {"amount_min": 2000, "amount_max": 8000},
    {"lines": ["auto"], "confidence": ["high"]},
    {"confidence": ["low", "medium"]},
    {"date_field": "report_date", "date_from": "2026-09-15", "date_to": "2026-10-15"},
    {"date_field": "loss_date", "date_from": "2026-09-01"},
    {"search": "windshield"},
    {"search": "rear bumper", "statuses": ["new", "assigned"]},
    {"statuses": ["closed"], "amount_max": 300},
])
def test_panel_filters_return_exactly_the_matching_claims(client_for, web_session, filters):
    rows, text = filtered_rows(client_for("manager"), "AUTO_PD", filters)
    expected = _expected(_department_claims(web_session, "AUTO_PD"), filters)
    assert len(expected) <= 500, "choose a narrower filter for this test"
    assert rows["rowCount"] == len(expected)
    assert {r["claim_number"] for r in rows["rowData"]} == expected
    assert text.startswith(f"{len(expected):,} ")


def test_claim_number_prefix_search(client_for, web_session):
    claims = [c for c in _department_claims(web_session, "AUTO_PD") if c.status in OPEN_STATUSES]
    prefix = claims[0].claim_number[:-2]
    rows, _ = filtered_rows(client_for("manager"), "AUTO_PD", {"search": prefix.lower()})
    expected = {c.claim_number for c in claims if c.claim_number.startswith(prefix)}
    assert expected and {r["claim_number"] for r in rows["rowData"]} >= expected


def test_sort_by_confidence_on_the_server(client_for):
    rows, _ = filtered_rows(client_for("manager"), "AUTO_PD", {},
                            {"startRow": 0, "endRow": 100, "sortModel": [{"colId": "confidence", "sort": "asc"}]})
    conf = [r["confidence"] for r in rows["rowData"] if r["confidence"] is not None]
    assert conf and conf == sorted(conf)


@pytest.mark.parametrize("filters", [
    "not a dict",
    [1, 2],
    {"statuses": ["hacked"]},
    {"statuses": [{"$ne": None}]},
    {"statuses": ["new"] * 50},
    {"amount_min": "lots"},
    {"amount_min": -5},
    {"amount_min": 10**20},
    {"amount_min": 900, "amount_max": 100},
    {"date_from": "2026-13-45"},
    {"date_from": 20260101},
    {"date_field": "password_hash"},
    {"search": "x" * 5000},
    {"search": {"q": 1}},
    {"confidence": ["certain"]},
    {"no_such_filter": 1},
    {"lines": ["auto'; DROP TABLE claims; --"]},
    {"overdue": "yes"},
    {"overdue": 1},
])
def test_tampered_filters_get_a_message_not_an_error(client_for, filters):
    rows, text = filtered_rows(client_for("manager"), "AUTO_PD", filters)
    assert rows == {"rowData": [], "rowCount": 0}
    assert text and "Traceback" not in text


def test_my_work_lists_only_my_open_claims_in_my_departments(client_for, web_session):
    from db.models import Claim, User

    rows, text = filtered_rows(client_for("adjuster"), MY_WORK_SCOPE, {})
    web_session.rollback()
    me = web_session.scalar(select(User).where(User.email == "adjuster@scope.example"))
    mine = web_session.scalars(select(Claim).where(Claim.adjuster_id == me.id)).all()
    dept_ids = {d.id for d in me.departments}
    expected = {c.claim_number for c in mine if c.status in OPEN_STATUSES and c.department_id in dept_ids}
    assert expected, "the demo adjuster should have assigned claims"
    assert {r["claim_number"] for r in rows["rowData"]} == expected
    assert all(r["adjuster"] == me.name for r in rows["rowData"])
    assert "assigned to you" in text
    # One claim left by a search: "1 open claim assigned to you", not "1 open claims".
    one = sorted(expected)[0]
    rows, text = filtered_rows(client_for("adjuster"), MY_WORK_SCOPE, {"search": one})
    assert rows["rowCount"] == 1 and text.startswith("1 open claim assigned to you"), text


def test_my_work_shows_department_names_and_keeps_codes(client_for, web_session):
    """People read the department's name; the code stays in the row for links and the API."""
    from components.queue_filters import queue_columns
    from db.models import Department

    rows, _ = filtered_rows(client_for("adjuster"), MY_WORK_SCOPE, {})
    names = dict(web_session.execute(select(Department.code, Department.name)).all())
    assert rows["rowData"]
    assert all(r["department_name"] == names[r["department"]] for r in rows["rowData"])
    shown = [c["field"] for c in queue_columns(currency="USD", with_department=True)]
    assert "department_name" in shown and "department" not in shown
    status, body = render_page(client_for("adjuster"), "/queues", "?department=AUTO_PD")
    assert status == 200 and _badges(json.loads(body)) == ["Auto Physical Damage"]


def _badges(node) -> list:
    """The text of every department badge in a rendered layout (a component's props hold its class)."""
    if isinstance(node, list):
        return [b for n in node for b in _badges(n)]
    if not isinstance(node, dict):
        return []
    own = [node.get("children")] if node.get("className") == "dept-badge" else []
    return own + [b for v in node.values() for b in _badges(v)]


def test_my_work_refuses_closed_status_and_viewers(client_for):
    rows, text = filtered_rows(client_for("adjuster"), MY_WORK_SCOPE, {"statuses": ["closed"]})
    assert rows["rowCount"] == 0 and "open claims only" in text
    rows, text = filtered_rows(client_for("viewer"), MY_WORK_SCOPE, {})
    assert rows["rowCount"] == 0 and "My work" in text
    status, page = render_page(client_for("viewer"), "/my-work")
    assert status == 200 and "Not allowed" in page


def test_adjuster_my_work_and_queue_pages_render(client_for):
    for path, search in (("/my-work", ""), ("/queues", "?department=AUTO_PD")):
        status, body = render_page(client_for("adjuster"), path, search)
        assert status == 200 and "qf-apply" in body and "queue-grid" in body


FORM_IDS = ["qf-search", "qf-statuses", "qf-lines", "qf-confidence", "qf-amount-min", "qf-amount-max",
            "qf-date-field", "qf-date-from", "qf-date-to", "qf-overdue"]


def manage_saved(client, trigger, *, name=None, saved_id=None, page_key="queues", form=None):
    form = form or {}
    outputs = [{"id": "qf-saved", "property": "options"}, {"id": "qf-saved-message", "property": "children"},
               {"id": "qf-save-name", "property": "value"}]
    response = client.post("/_dash-update-component", json={
        "output": "..qf-saved.options...qf-saved-message.children...qf-save-name.value..",
        "outputs": outputs,
        "inputs": [{"id": "qf-save", "property": "n_clicks", "value": 1 if trigger == "qf-save" else None},
                   {"id": "qf-save-name", "property": "n_submit", "value": None},
                   {"id": "qf-delete", "property": "n_clicks", "value": 1 if trigger == "qf-delete" else None}],
        "state": [{"id": "qf-save-name", "property": "value", "value": name},
                  {"id": "qf-saved", "property": "value", "value": saved_id},
                  {"id": "queue-page-key", "property": "data", "value": page_key}]
                 + [{"id": i, "property": "value", "value": form.get(i)} for i in FORM_IDS],
        "changedPropIds": [f"{trigger}.n_clicks"],
    })
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:500]
    if response.status_code == 204:
        return None
    return json.loads(response.get_data(as_text=True))["response"]


def apply_saved(web_app, client, saved_id, page_key="queues"):
    key = next(k for k in web_app.callback_map if "queue-filters.data" in k)
    response = client.post("/_dash-update-component", json={
        "output": key,
        "outputs": outputs_of(key),
        "inputs": [{"id": "qf-apply", "property": "n_clicks", "value": None},
                   {"id": "qf-search", "property": "n_submit", "value": None},
                   {"id": "qf-clear", "property": "n_clicks", "value": None},
                   {"id": "qf-saved", "property": "value", "value": saved_id}],
        "state": [{"id": "queue-revision", "property": "data", "value": 3},
                  {"id": "queue-page-key", "property": "data", "value": page_key}]
                 + [{"id": i, "property": "value", "value": None} for i in FORM_IDS],
        "changedPropIds": ["qf-saved.value"],
    })
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:500]
    return json.loads(response.get_data(as_text=True))["response"] if response.status_code == 200 else None


def test_saved_filters_through_the_app(web_app, client_for):
    manager, adjuster = client_for("manager"), client_for("adjuster")
    body = manage_saved(manager, "qf-save", name="  Big   new claims ",
                        form={"qf-statuses": ["new"], "qf-amount-min": 5000})
    assert "Saved" in json.dumps(body["qf-saved-message"])
    option = next(o for o in body["qf-saved"]["options"] if o["label"] == "Big new claims")
    applied = apply_saved(web_app, manager, option["value"])
    assert applied["queue-filters"]["data"]["statuses"] == ["new"]
    assert applied["queue-filters"]["data"]["amount_min"] == 5000
    assert applied["qf-statuses"]["value"] == ["new"]
    assert applied["queue-revision"]["data"] == 4
    assert applied["queue-grid"]["filterModel"]  # a new filter model makes the grid reload
    assert applied["qf-saved-message"]["children"] == ""  # "Saved …" was about the save, not this
    assert "Applied" in json.dumps(applied["qf-message"])

    # Another user cannot apply or delete it, and does not see it.
    foreign = apply_saved(web_app, adjuster, option["value"])
    assert "does not exist" in json.dumps(foreign["qf-message"])
    gone = manage_saved(adjuster, "qf-delete", saved_id=option["value"])
    assert "does not exist" in json.dumps(gone["qf-saved-message"])
    other = manage_saved(adjuster, "qf-save", name="mine", form={"qf-statuses": ["assigned"]})
    assert all(o["label"] != "Big new claims" for o in other["qf-saved"]["options"])

    deleted = manage_saved(manager, "qf-delete", saved_id=option["value"])
    assert all(o["value"] != option["value"] for o in deleted["qf-saved"]["options"])
    manage_saved(adjuster, "qf-delete", saved_id=next(o["value"] for o in other["qf-saved"]["options"]
                                                         if o["label"] == "mine"))


@pytest.mark.parametrize("name,page_key,form,saved_id", [
    ("", "queues", {}, None),
    ("x" * 81, "queues", {}, None),
    (["list"], "queues", {}, None),
    ("ok", "admin", {}, None),
    ("ok", "queues", {"qf-amount-min": "abc"}, None),
])
def test_saving_bad_input_gives_a_message(client_for, name, page_key, form, saved_id):
    body = manage_saved(client_for("adjuster"), "qf-save", name=name, page_key=page_key, form=form)
    assert "qf-saved" not in body and body["qf-saved-message"]


@pytest.mark.parametrize("saved_id", ["abc", -1, 10**30, {"id": 1}, True])
def test_applying_a_tampered_saved_filter_id_gives_a_message(web_app, client_for, saved_id):
    body = apply_saved(web_app, client_for("adjuster"), saved_id)
    assert "does not exist" in json.dumps(body["qf-message"])


@pytest.mark.parametrize("spec", ["not a dict", {"filter": "{not json"}, {"filter": "[1]"}, {"filter": 5},
                                  {"filter": "x" * 9000}])
def test_tampered_panel_payload_gets_a_message(client_for, spec):
    status, rows, text = queue_rows(client_for("manager"), "AUTO_PD",
                                    {"startRow": 0, "endRow": 10, "filterModel": {PANEL_COLUMN: spec}})
    assert status == 200 and rows == {"rowData": [], "rowCount": 0}
    assert "could not be read" in text


def test_saved_filters_service_crud_isolation_and_revalidation(db_session):
    from auth.current import SessionUser
    from db.models import AuditLog, SavedFilter
    from services.access import NotFound
    from services.queues import InvalidFilter, parse_filters
    from services.saved_filters import delete_filter, list_saved, load_filter, save_filter
    from services.users import create_user

    users = [SessionUser.from_model(create_user(db_session, email=f"sf{i}@example.test", role="adjuster",
                                                password="long-enough-password-1", actor="test"))
             for i in range(2)]
    alice, bob = users
    first = save_filter(db_session, alice, "queues", "New", parse_filters({"statuses": ["new"]}))
    save_filter(db_session, alice, "my_work", "New", parse_filters({"statuses": ["new"]}))
    again = save_filter(db_session, alice, "queues", "New", parse_filters({"statuses": ["assigned"]}))
    assert again.id == first.id  # saving under the same name overwrites
    assert [s.name for s in list_saved(db_session, alice, "queues")] == ["New"]
    assert list_saved(db_session, bob, "queues") == []
    assert load_filter(db_session, alice, first.id)[1].statuses == ("assigned",)
    for action in (lambda: load_filter(db_session, bob, first.id), lambda: delete_filter(db_session, bob, first.id)):
        with pytest.raises(NotFound):
            action()

    # A stored filter that no longer passes validation is refused when applied.
    db_session.get(SavedFilter, first.id).filters = {"statuses": ["deleted"], "amount_min": "x"}
    db_session.flush()
    with pytest.raises(InvalidFilter):
        load_filter(db_session, alice, first.id)

    assert delete_filter(db_session, alice, first.id) == "New"
    assert list_saved(db_session, alice, "queues") == []
    actions = db_session.scalars(select(AuditLog.action).where(AuditLog.actor == alice.email)).all()
    assert actions.count("saved_filter.save") == 3 and "saved_filter.delete" in actions


def test_rows_say_when_an_open_claim_is_past_its_service_level(db_session):
    """Auto Glass's level is 14 days: its open claims reported 20+ days ago are overdue
    (the grid paints their Reported cell red); a closed claim never is."""
    import datetime as dt

    from services.queues import QueueFilters, department_queue
    from tests.integration.test_reassignment import actor, make_claims, make_user

    manager = make_user(db_session, "manager", [])
    open_claims = make_claims(db_session, 4, "AUTO_GLASS", prefix="SLA", lob="auto", status="assigned")
    closed = make_claims(db_session, 3, "AUTO_GLASS", prefix="SLC", lob="auto", status="closed")
    rows = {}
    for group in (open_claims, closed):  # claim-number prefix search: "SLA-<tag>-"
        page = department_queue(db_session, actor(manager), "AUTO_GLASS", include_closed=True,
                                filters=QueueFilters(search=group[0].claim_number[:-4]))
        rows.update({r["claim_number"]: r for r in page.rows})
    assert set(rows) == {c.claim_number for c in open_claims + closed}
    today = dt.date.today()
    for c in open_claims + closed:  # reported today, 10, 20, 30 days ago
        row = rows[c.claim_number]
        assert row["sla_due"] == (c.report_date + dt.timedelta(days=14)).isoformat()
        assert row["overdue"] == (c.status != "closed" and (today - c.report_date).days > 14)
    assert [rows[c.claim_number]["overdue"] for c in open_claims] == [False, False, True, True]
    assert rows[open_claims[2].claim_number]["sla_note"].startswith("Past its 14-day service level since")

    # the panel's "Past service level" switch: exactly the overdue ones, closed ones never
    late = set()
    for group in (open_claims, closed):
        page = department_queue(db_session, actor(manager), "AUTO_GLASS", include_closed=True,
                                filters=QueueFilters(search=group[0].claim_number[:-4], overdue=True))
        late |= {r["claim_number"] for r in page.rows}
        assert all(r["overdue"] for r in page.rows)
    assert late == {c.claim_number for c in open_claims[2:]}


def test_past_service_level_filter_through_the_grid(client_for, web_session):
    """The switch as the browser sends it: the manager's AUTO_PD queue and the adjuster's
    My work list exactly the open claims past their department's level, and say so."""
    from sqlalchemy import text

    rows, status = filtered_rows(client_for("manager"), "AUTO_PD", {"overdue": True})
    late = web_session.execute(text("""
        SELECT count(*) FROM claims c JOIN departments d ON d.id = c.department_id
        WHERE d.code = 'AUTO_PD' AND c.status <> 'closed' AND current_date - c.report_date > d.sla_days""")).scalar()
    assert late > 0 and rows["rowCount"] == late
    assert all(r["overdue"] for r in rows["rowData"]) and "past service level" in status
    everything, _ = filtered_rows(client_for("manager"), "AUTO_PD", {})
    assert everything["rowCount"] > late  # the test demo has recent claims too

    mine, status = filtered_rows(client_for("adjuster"), MY_WORK_SCOPE, {"overdue": True})
    assert mine["rowCount"] > 0 and all(r["overdue"] for r in mine["rowData"])
    assert "past service level" in status


def test_row_confidence_is_rounded_down_so_triage_claims_stay_under_the_threshold(db_session):
    """A Triage claim at 0.49985 came back as 0.5: the grid read "50%" (medium band)
    for a claim routed to Triage because it was under the 50% threshold."""
    from services.queues import QueueFilters, department_queue
    from tests.integration.test_reassignment import actor, make_claims, make_user

    manager = make_user(db_session, "manager", [])
    claims = make_claims(db_session, 2, "TRIAGE", prefix="CFD", lob="auto", status="new")
    claims[0].routing_confidence, claims[1].routing_confidence = 0.49985, 0.93771
    db_session.flush()
    page = department_queue(db_session, actor(manager), "TRIAGE",
                            filters=QueueFilters(search=claims[0].claim_number[:-4]))
    got = {r["claim_number"]: r["confidence"] for r in page.rows}
    assert got == {claims[0].claim_number: 0.499, claims[1].claim_number: 0.937}, got


def test_overview_counts_and_confidence_bands_equal_the_claims(web_session):
    """The Overview's cards and its confidence chart, checked against the claims table
    (latest decision's confidence, kept on the claim), for an adjuster's departments."""
    from sqlalchemy import text

    from auth.current import SessionUser
    from services.queues import confidence_distribution, overview
    from services.users import get_by_email

    user = SessionUser.from_model(get_by_email(web_session, "adjuster@scope.example"))
    cards = {q.code: q for q in overview(web_session, user)}
    raw = {code: (n, new, conf) for code, n, new, conf in web_session.execute(text("""
        SELECT d.code, count(*), count(*) FILTER (WHERE c.status = 'new'), avg(c.routing_confidence)
        FROM claims c JOIN departments d ON d.id = c.department_id
        JOIN user_departments ud ON ud.department_id = d.id JOIN users u ON u.id = ud.user_id
        WHERE u.email = 'adjuster@scope.example' AND c.status <> 'closed' GROUP BY d.code"""))}
    assert set(raw) <= set(cards) and raw
    for code, (n, new, conf) in raw.items():
        assert (cards[code].open_claims, cards[code].new_claims) == (n, new), code
        assert cards[code].avg_confidence == pytest.approx(float(conf)), code
    bands = confidence_distribution(web_session, user)
    assert sum(b["claims"] for b in bands) == web_session.execute(text("""
        SELECT count(*) FROM claims c JOIN user_departments ud ON ud.department_id = c.department_id
        JOIN users u ON u.id = ud.user_id WHERE u.email = 'adjuster@scope.example' AND c.status <> 'closed'
        AND c.routing_confidence IS NOT NULL""")).scalar()
    assert all(0 <= b["low"] < b["high"] <= 1 for b in bands)
    low = sum(b["claims"] for b in bands if b["high"] <= 0.5)
    assert low == web_session.execute(text("""
        SELECT count(*) FROM claims c JOIN user_departments ud ON ud.department_id = c.department_id
        JOIN users u ON u.id = ud.user_id WHERE u.email = 'adjuster@scope.example' AND c.status <> 'closed'
        AND c.routing_confidence < 0.5""")).scalar()


def test_a_queue_opens_with_the_filters_in_its_address(client_for):
    """The page keeps applied filters in ?f= (assets/40-queue-url.js): Back from a claim,
    a reload or a bookmark must open the list filtered as it was, panel included."""
    import urllib.parse

    f = urllib.parse.quote(json.dumps({"statuses": ["assigned"], "amount_min": 500, "search": "hail"}))
    status, body = render_page(client_for("adjuster"), "/queues", f"?department=AUTO_PD&f={f}")
    assert status == 200
    page = json.loads(body)["response"]["_pages_content"]["children"]
    props = {}

    def walk(node):
        if isinstance(node, dict):
            p = node.get("props") or {}
            if "id" in p and isinstance(p["id"], str):
                props[p["id"]] = p
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(page)
    assert props["qf-statuses"]["value"] == ["assigned"] and props["qf-amount-min"]["value"] == 500
    assert props["qf-search"]["value"] == "hail"
    assert props["queue-filters"]["data"]["statuses"] == ["assigned"]
    assert props["queue-grid"]["filterModel"]  # the first row request carries them
    # My work lists open claims only: a closed status in the address is dropped, not an error.
    f = urllib.parse.quote(json.dumps({"statuses": ["closed", "new"]}))
    status, body = render_page(client_for("adjuster"), "/my-work", f"?f={f}")
    assert status == 200 and '"value": ["new"]' in body.replace('"value":["new"]', '"value": ["new"]')
    # A tampered address opens the list unfiltered.
    for bad in ("{not json", json.dumps({"statuses": ["nope"]}), json.dumps([1]), "x" * 5000):
        status, body = render_page(client_for("adjuster"), "/queues", f"?department=AUTO_PD&f={urllib.parse.quote(bad)}")
        assert status == 200 and "queue-grid" in body and "Traceback" not in body


def test_my_work_opens_oldest_first_and_queues_newest_first():
    """An adjuster's own list leads with what has waited longest (past its service level);
    a department queue with what just arrived."""
    from components.queue_filters import queue_columns

    def reported(**kwargs):
        return next(c for c in queue_columns(currency="USD", **kwargs) if c["field"] == "report_date")["sort"]
    assert reported(with_department=True) == "asc" and reported() == "desc"
