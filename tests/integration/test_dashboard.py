"""Executive dashboard: drill-down from every chart (paged, equal to the raw claims),
tampered clicks, CSV/Excel exports (audited, capped), the printable report,
reads through the cache, and who may do what."""
from __future__ import annotations

import base64
import csv
import dataclasses
import datetime as dt
import io
import json
import re
import zipfile

import pytest
from sqlalchemy import select, text

from db.models import AuditLog
from services import aggregates, dashboard
from services.aggregates import FilterError
from tests.webutil import component_texts, render_page

RDAY = "coalesce(c.report_date, c.created_at::date)"
CDAY = "coalesce(c.closed_at::date, c.report_date, c.created_at::date)"


@pytest.fixture()
def web_session(web_app):
    """Rollups rebuilt inside the test's transaction, so raw and rollup agree exactly."""
    from db.flask_db import unit_of_work

    with web_app.server.app_context():
        with unit_of_work() as session:
            aggregates.refresh(session)
            yield session


@pytest.fixture()
def refreshed(web_app):
    """Rollups rebuilt and committed; no app context is held while the test client runs."""
    from db.flask_db import unit_of_work

    with web_app.server.app_context():
        with unit_of_work() as session:
            aggregates.refresh(session)


def _raw_numbers(session, start, end, where: str = "", **params) -> list[str]:
    sql = (f"SELECT c.claim_number FROM claims c LEFT JOIN departments d ON d.id = c.department_id "
           f"WHERE {RDAY} BETWEEN :a AND :b {where} ORDER BY {RDAY} DESC, c.id DESC")
    return [r[0] for r in session.execute(text(sql), dict(a=start, b=end, **params))]


def _raw_closed(session, start, end, where: str = "", **params) -> list[str]:
    sql = (f"SELECT c.claim_number FROM claims c WHERE c.status = 'closed' AND {CDAY} BETWEEN :a AND :b {where} "
           f"ORDER BY {CDAY} DESC, c.id DESC")
    return [r[0] for r in session.execute(text(sql), dict(a=start, b=end, **params))]


def _check_drill(session, f, opts, click, raw: list[str]):
    d = dashboard.parse_drill(session, f, opts, click)
    first = dashboard.drill_page(session, d, opts, 0)
    assert first["total"] == len(raw) > 0, click
    assert [r["claim_number"] for r in first["rows"]] == raw[:dashboard.PAGE_SIZE]
    if len(raw) > dashboard.PAGE_SIZE:
        second = dashboard.drill_page(session, d, opts, 1)
        assert [r["claim_number"] for r in second["rows"]] == raw[dashboard.PAGE_SIZE:2 * dashboard.PAGE_SIZE]
    last = dashboard.drill_page(session, d, opts, 10**6)  # clamped to the last page
    assert last["page"] == first["pages"] - 1
    assert [r["claim_number"] for r in dashboard.drill_all(session, d, opts)] == raw
    return d


def test_drill_down_from_every_chart_equals_the_raw_claims(web_session):
    s = web_session
    f, opts = dashboard.parse(s, {})
    dept = max(aggregates.breakdown(s, f, "department"), key=lambda r: r.received if r.key else -1)
    _check_drill(s, f, opts, {"dimension": "department", "value": dept.key},
                 _raw_numbers(s, f.start, f.end, "AND d.code = :v", v=dept.key))
    line = max(aggregates.breakdown(s, f, "line"), key=lambda r: r.received)
    _check_drill(s, f, opts, {"dimension": "line", "value": line.key},
                 _raw_numbers(s, f.start, f.end, "AND c.line_of_business = :v", v=line.key))
    region = max((r for r in aggregates.breakdown(s, f, "region") if r.key), key=lambda r: r.received)
    _check_drill(s, f, opts, {"dimension": "region", "value": region.key},
                 _raw_numbers(s, f.start, f.end, "AND c.region = :v", v=region.key))
    series = aggregates.series(s, f)
    assert series["grain"] == "day"
    busiest = series["periods"][max(range(len(series["periods"])), key=lambda i: series["received"][i])]
    d = _check_drill(s, f, opts, {"dimension": "period", "value": busiest.isoformat()},
                     _raw_numbers(s, busiest, busiest))
    assert (d.start, d.end) == (busiest, busiest)


def test_drill_down_from_the_closed_line_lists_the_claims_closed_then(web_session):
    s = web_session
    f, opts = dashboard.parse(s, {})
    series = aggregates.series(s, f)
    busiest = series["periods"][max(range(len(series["periods"])), key=lambda i: series["closed"][i])]
    raw = _raw_closed(s, busiest, busiest)
    assert len(raw) == max(series["closed"]) > 0  # the list is what the point showed
    d = _check_drill(s, f, opts, {"dimension": "period", "value": busiest.isoformat(), "measure": "closed"}, raw)
    assert d.measure == "closed" and d.spec()["measure"] == "closed"
    rows = dashboard.drill_page(s, d, opts)["rows"]
    assert all(r["status"] == "closed" for r in rows)
    assert all(r["closed_date"] in (busiest, None) for r in rows)
    # weeks, under a line-of-business filter
    line = max(aggregates.breakdown(s, f, "line"), key=lambda r: r.closed).key
    year, _ = dashboard.parse(s, {"start": (f.end - dt.timedelta(days=364)).isoformat(), "end": f.end.isoformat(),
                                  "line": line})
    weekly = aggregates.series(s, year)
    week = weekly["periods"][max(range(len(weekly["periods"])), key=lambda i: weekly["closed"][i])]
    lo, hi = max(week, year.start), min(week + dt.timedelta(days=6), year.end)
    _check_drill(s, year, opts, {"dimension": "period", "value": week.isoformat(), "measure": "closed"},
                 _raw_closed(s, lo, hi, "AND c.line_of_business = :l", l=line))


def test_drill_down_keeps_the_page_filters_and_weeks(web_session):
    s = web_session
    base, _ = dashboard.parse(s, {})
    start = base.end - dt.timedelta(days=364)
    line = max(aggregates.breakdown(s, base, "line"), key=lambda r: r.received).key
    f, opts = dashboard.parse(s, {"start": start.isoformat(), "end": base.end.isoformat(), "line": line})
    assert dashboard.grain(f) == "week"
    series = aggregates.series(s, f)
    week = series["periods"][max(range(len(series["periods"])), key=lambda i: series["received"][i])]
    assert week.weekday() == 0
    lo, hi = max(week, f.start), min(week + dt.timedelta(days=6), f.end)
    _check_drill(s, f, opts, {"dimension": "period", "value": week.isoformat()},
                 _raw_numbers(s, lo, hi, "AND c.line_of_business = :l", l=line))
    dept = next(r for r in aggregates.breakdown(s, f, "department") if r.key and r.received)
    d = _check_drill(s, f, opts, {"dimension": "department", "value": dept.key},
                     _raw_numbers(s, f.start, f.end, "AND c.line_of_business = :l AND d.code = :c", l=line,
                                  c=dept.key))
    assert all(r["line_of_business"] == line for r in dashboard.drill_page(s, d, opts)["rows"])
    # under a line filter the line chart keeps every line (the chosen one highlighted): a grey
    # bar lists its own line's claims, like a grey department bar under a department filter
    other = next(r for r in aggregates.breakdown(s, dataclasses.replace(f, line_of_business=None), "line")
                 if r.key and r.key != line and r.received)
    _check_drill(s, f, opts, {"dimension": "line", "value": other.key},
                 _raw_numbers(s, f.start, f.end, "AND c.line_of_business = :l", l=other.key))
    v = dashboard.view(s, f)
    assert v["selected_line"] == line and {r.key for r in v["line_chart"]} >= {line, other.key}
    assert {r.key for r in v["breakdowns"]["line"] if r.received} == {line}


@pytest.mark.parametrize("click, message", [
    ("junk", "not valid"), ({"dimension": "claims", "value": "x"}, "Unknown chart"),
    ({"dimension": "department", "value": ["AUTO"]}, "not valid"),
    ({"dimension": "department", "value": "NOPE"}, "Unknown department"),
    ({"dimension": "line", "value": "<script>"}, "Unknown line"),
    ({"dimension": "region", "value": "Atlantis"}, "Unknown region"),
    ({"dimension": "region", "value": "x" * 500}, "not valid"),
    ({"dimension": "period", "value": "2026-02-30"}, "date is not valid"),
    ({"dimension": "period", "value": "1999-01-01"}, "outside the period"),
    ({"dimension": "department", "value": "PROPERTY", "measure": "closed"}, "not valid"),
    ({"dimension": "period", "value": "2026-10-01", "measure": "paid"}, "not valid"),
])
def test_tampered_clicks_are_refused_with_a_message(web_session, click, message):
    f, opts = dashboard.parse(web_session, {})
    with pytest.raises(FilterError, match=message):
        dashboard.parse_drill(web_session, f, opts, click)


def test_a_week_click_must_be_a_monday_of_the_period(web_session):
    s = web_session
    base, _ = dashboard.parse(s, {})
    f, opts = dashboard.parse(s, {"start": (base.end - dt.timedelta(days=200)).isoformat(),
                                  "end": base.end.isoformat()})
    monday = f.end - dt.timedelta(days=f.end.weekday())
    assert dashboard.parse_drill(s, f, opts, {"dimension": "period", "value": monday.isoformat()}).end <= f.end
    with pytest.raises(FilterError, match="outside"):
        dashboard.parse_drill(s, f, opts, {"dimension": "period",
                                           "value": (monday + dt.timedelta(days=1)).isoformat()})


# ---------------------------------------------------------------- through the Dash endpoint

RENDER_OUTPUTS = [("dashboard-status", "children"), ("dashboard-cards", "children"), ("dashboard-trend", "figure"),
                  ("dashboard-departments", "figure"), ("dashboard-lines", "figure"),
                  ("dashboard-regions", "figure"), ("dashboard-table", "children")]
DRILL_OUTPUTS = [("dashboard-drill", "is_open"), ("dashboard-drill-title", "children"),
                 ("dashboard-drill-body", "children"), ("dashboard-drill-pager", "children"),
                 ("dashboard-drill-spec", "data"), ("dashboard-drill-page", "data"),
                 ("dashboard-drill-prev", "disabled"), ("dashboard-drill-next", "disabled"),
                 ("dashboard-drill-export-status", "children")]
CLICK_INPUTS = ("dashboard-trend", "dashboard-departments", "dashboard-lines", "dashboard-regions")


def _post(client, outputs, inputs, state=(), changed=None):
    return client.post("/_dash-update-component", json={
        "output": (f"{outputs[0][0]}.{outputs[0][1]}" if len(outputs) == 1
                   else ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."),
        "outputs": ({"id": outputs[0][0], "property": outputs[0][1]} if len(outputs) == 1
                    else [{"id": i, "property": p} for i, p in outputs]),
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [changed or f"{inputs[0][0]}.{inputs[0][1]}"],
    })


def _render(client, search):
    response = _post(client, RENDER_OUTPUTS, [("dashboard-url", "search", search)])
    return response.status_code, response.get_data(as_text=True)


def _drill(client, trigger, value=None, *, search="", spec=None, page=0):
    inputs = [(g, "clickData", value if g == trigger else None) for g in CLICK_INPUTS]
    inputs += [("dashboard-drill-prev", "n_clicks", 1 if trigger == "dashboard-drill-prev" else None),
               ("dashboard-drill-next", "n_clicks", 1 if trigger == "dashboard-drill-next" else None)]
    state = [("dashboard-url", "search", search), ("dashboard-drill-spec", "data", spec),
             ("dashboard-drill-page", "data", page)]
    prop = "clickData" if trigger in CLICK_INPUTS else "n_clicks"
    response = _post(client, DRILL_OUTPUTS, inputs, state, changed=f"{trigger}.{prop}")
    body = response.get_data(as_text=True)
    return response.status_code, (json.loads(body)["response"] if response.status_code == 200 else body)


@pytest.mark.parametrize("role", ["viewer", "manager", "admin"])
def test_dashboard_renders_for_allowed_roles(refreshed, client_for, role):
    client = client_for(role)
    status, body = render_page(client, "/dashboard")
    assert status == 200 and "Executive dashboard" in body and "dashboard-range" in body
    status, body = _render(client, "")
    assert status == 200, body[:300]
    assert "kpi-received" in body and "Invalid filter" not in body


def test_dashboard_refused_for_adjusters(client_for):
    client = client_for("adjuster")
    status, body = render_page(client, "/dashboard")
    assert status == 200 and "Executive dashboard" not in body and "does not give access" in body
    assert _render(client, "")[0] == 403
    assert _drill(client, "dashboard-departments", {"points": [{"customdata": "PROPERTY"}]})[0] == 403
    status, body = render_page(client, "/dashboard/report")
    assert status == 200 and "SCOPE executive report" not in body and "does not give access" in body


@pytest.mark.parametrize("search", ["?start=2026-99-01", "?department=NOPE", "?line=%3Cscript%3E",
                                    "?start=2026-10-31&end=2026-01-01", "?department=" + "A" * 3000, 12345])
def test_dashboard_rejects_tampered_filters_with_a_message(refreshed, client_for, search):
    status, body = _render(client_for("manager"), search)
    assert status == 200, body[:300]
    assert "Invalid filter" in body and "Traceback" not in body


def _texts(component) -> list[str]:
    """Every string inside a serialised Dash component tree."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, list):
        return [t for c in component for t in _texts(c)]
    if isinstance(component, dict):
        return [t for v in component.values() for t in _texts(v)]
    return []


def test_drill_down_from_each_chart_through_the_callback(refreshed, client_for, web_app):
    client = client_for("manager")
    with web_app.server.app_context():
        from db.flask_db import read_session

        f, opts = dashboard.parse(read_session(), {})
        series = aggregates.series(read_session(), f)
        # The busiest day, not the last: other tests add and remove claims of today after the rollup.
        day = series["periods"][max(range(len(series["periods"])), key=lambda i: series["received"][i])].isoformat()
        closed_day = series["periods"][max(range(len(series["periods"])), key=lambda i: series["closed"][i])]
        region = next(v for v in opts["regions"])
    clicks = {"dashboard-trend": {"points": [{"customdata": day, "curveNumber": 0}]},
              "dashboard-departments": {"points": [{"customdata": "PROPERTY"}]},
              "dashboard-lines": {"points": [{"customdata": opts["lines"][0]}]},
              "dashboard-regions": {"points": [{"customdata": region}]}}
    for trigger, click in clicks.items():
        status, out = _drill(client, trigger, click)
        assert status == 200, out
        assert out["dashboard-drill"]["is_open"] is True
        assert out["dashboard-drill-spec"]["data"] == {"dimension": dashboard_dim(trigger),
                                                       "value": click["points"][0]["customdata"],
                                                       "measure": "received"}
        body = json.dumps(out["dashboard-drill-body"]["children"])
        assert '"href": "/claims/' in body, (trigger, body[:300])
        assert "of" in out["dashboard-drill-pager"]["children"]
    # a point on the Closed line (trace 1) lists the claims closed that day
    closed_day = closed_day.isoformat()
    status, out = _drill(client, "dashboard-trend", {"points": [{"customdata": closed_day, "curveNumber": 1}]})
    assert status == 200, out
    assert out["dashboard-drill-spec"]["data"] == {"dimension": "period", "value": closed_day, "measure": "closed"}
    assert out["dashboard-drill-title"]["children"] == f"Claims closed · {closed_day}"
    assert "Closed" in _texts(out["dashboard-drill-body"]["children"])
    # the next page continues where the first stopped: over the year to the end of the data, so
    # Property has more than a page of claims whatever other tests have added lately
    end = dt.date.fromisoformat(opts["bounds"][1])
    year = f"?start={end - dt.timedelta(days=364)}&end={end}"
    spec = {"dimension": "department", "value": "PROPERTY"}
    _, first = _drill(client, "dashboard-departments", clicks["dashboard-departments"], search=year)
    assert int(re.search(r"of ([\d,]+)", first["dashboard-drill-pager"]["children"]).group(1).replace(",", "")) \
        > dashboard.PAGE_SIZE
    status, second = _drill(client, "dashboard-drill-next", spec=spec, page=0, search=year)
    assert status == 200 and second["dashboard-drill-page"]["data"] == 1
    links = lambda out: re.findall(r'/claims/([A-Z0-9-]+)', json.dumps(out["dashboard-drill-body"]["children"]))  # noqa: E731
    assert links(first) and links(second) and not set(links(first)) & set(links(second))


def dashboard_dim(trigger: str) -> str:
    return {"dashboard-trend": "period", "dashboard-departments": "department", "dashboard-lines": "line",
            "dashboard-regions": "region"}[trigger]


@pytest.mark.parametrize("trigger, click, spec, page", [
    ("dashboard-departments", {"points": [{"customdata": "NOPE"}]}, None, 0),
    ("dashboard-departments", {"points": "x"}, None, 0),
    ("dashboard-lines", "junk", None, 0),
    ("dashboard-regions", {"points": [{"customdata": [1]}]}, None, 0),
    ("dashboard-trend", {"points": [{"customdata": "1999-01-01", "curveNumber": 0}]}, None, 0),
    ("dashboard-trend", {"points": [{"customdata": "1999-01-01", "curveNumber": 1}]}, None, 0),
    ("dashboard-drill-next", None, {"dimension": "region", "value": "CA", "measure": "closed"}, 0),
    ("dashboard-drill-next", None, {"dimension": "department", "value": "NOPE"}, 0),
    ("dashboard-drill-next", None, {"dimension": "department", "value": "PROPERTY"}, "7"),
    ("dashboard-drill-prev", None, "junk", -5),
])
def test_tampered_drill_requests_get_a_message_not_a_500(refreshed, client_for, trigger, click, spec, page):
    status, out = _drill(client_for("manager"), trigger, click, spec=spec, page=page)
    assert status == 200, out
    assert out["dashboard-drill"]["is_open"] is True
    words = " ".join(_texts(out["dashboard-drill-body"]["children"]))
    assert "Traceback" not in words
    assert re.search(r"not valid|could not be read|Unknown|outside", words), words


EXPORT_INPUTS = ("dashboard-export-csv", "dashboard-export-xlsx", "dashboard-drill-csv", "dashboard-drill-xlsx")
EXPORT_OUTPUTS = [("dashboard-download", "data"), ("dashboard-export-status", "children"),
                  ("dashboard-drill-export-status", "children")]


def _export(client, trigger, *, search="", spec=None):
    inputs = [(i, "n_clicks", 1 if i == trigger else None) for i in EXPORT_INPUTS]
    state = [("dashboard-url", "search", search), ("dashboard-drill-spec", "data", spec)]
    # allow_duplicate outputs are addressed with Dash's hashed suffix: take the key Dash registered
    from dash import get_app

    key = next(k for k in get_app().callback_map if "dashboard-download.data" in k)
    response = client.post("/_dash-update-component", json={
        "output": key, "outputs": [{"id": i, "property": p} for i, p in EXPORT_OUTPUTS],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{trigger}.n_clicks"]}, headers={"Referer": "http://localhost/dashboard"})
    body = response.get_data(as_text=True)
    return response.status_code, (json.loads(body)["response"] if response.status_code == 200 else body)


def _xlsx_parts(data: dict) -> dict[str, str]:
    assert data["base64"] is True
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(data["content"]))) as z:
        return {n: z.read(n).decode() for n in z.namelist() if n.endswith(".xml")}


def _audits(web_app, since_id: int) -> list[AuditLog]:
    from db.flask_db import read_session

    with web_app.server.app_context():
        return read_session().scalars(select(AuditLog).where(AuditLog.id > since_id,
                                                             AuditLog.action == "dashboard.export")
                                      .order_by(AuditLog.id)).all()


def _last_audit_id(web_app) -> int:
    from sqlalchemy import func

    from db.flask_db import read_session

    with web_app.server.app_context():
        return read_session().scalar(select(func.coalesce(func.max(AuditLog.id), 0)))


def _exports_used(web_app, email: str) -> int:
    """Usage "export" actions recorded for this user so far."""
    from db.flask_db import read_session

    with web_app.server.app_context():
        return read_session().scalar(text(
            "SELECT count(*) FROM usage_events e JOIN users u ON u.id = e.user_id "
            "WHERE u.email = :e AND e.action = 'export' AND e.page = '/dashboard'"), {"e": email})


def test_breakdown_exports_csv_and_excel_and_audits_them(refreshed, client_for, web_app):
    client = client_for("viewer")
    before = _last_audit_id(web_app)
    used = _exports_used(web_app, "viewer@scope.example")
    status, out = _export(client, "dashboard-export-csv", search="?department=PROPERTY")
    assert status == 200, out
    data = out["dashboard-download"]["data"]
    assert data["filename"].startswith("scope-breakdown-") and data["filename"].endswith(".csv")
    # The file says what it covers: a CSV has no sheet for the filters.
    assert re.fullmatch(r"scope-breakdown-\d{8}-\d{8}-property-exported-\d{8}-\d{4}\.csv", data["filename"]), \
        data["filename"]
    lines = data["content"].splitlines()
    assert lines[0] == "table,Figure,Value,Previous period,Change,Unit,Definition"  # the headline figures first
    assert "table,Group,Received,Closed,Reserve ($),Paid ($),Routing accuracy,Routed automatically,SLA breaches" \
        in lines
    assert any(line.startswith("By department,Property,") for line in lines[1:])
    assert any(line.startswith("By region,") for line in lines[1:])

    status, out = _export(client, "dashboard-export-xlsx", search="?department=PROPERTY")
    assert status == 200, out
    data = out["dashboard-download"]["data"]
    assert data["filename"].endswith(".xlsx")
    parts = _xlsx_parts(data)
    sheets = re.findall(r'<sheet name="([^"]+)"', parts["xl/workbook.xml"])
    assert sheets == ["Headline figures", "By department", "By line of business", "By region", "Filters"]
    strings = parts["xl/sharedStrings.xml"]
    assert "Department" in strings and "Property" in strings and "Received" in strings
    assert 'formatCode="0.0%"' in parts["xl/styles.xml"] and 'formatCode="#,##0.00"' in parts["xl/styles.xml"]
    assert "<cols>" in parts["xl/worksheets/sheet2.xml"]  # column widths set

    audits = _audits(web_app, before)
    assert [(a.after["format"], a.target_id) for a in audits] == [("csv", "breakdown"), ("xlsx", "breakdown")]
    assert all(a.actor == "viewer@scope.example" and a.after["filters"]["Department"] == "Property" for a in audits)
    assert _exports_used(web_app, "viewer@scope.example") == used + 2  # a key action for the usage analytics


def test_drill_export_lists_every_claim_and_is_capped(refreshed, client_for, web_app, monkeypatch):
    client = client_for("manager")
    spec = {"dimension": "department", "value": "PROPERTY"}
    with web_app.server.app_context():
        from db.flask_db import read_session

        f, opts = dashboard.parse(read_session(), {})
        expected = dashboard.drill_total(read_session(), dashboard.parse_drill(read_session(), f, opts, spec))
    status, out = _export(client, "dashboard-drill-csv", spec=spec)
    assert status == 200, out
    rows = out["dashboard-download"]["data"]["content"].splitlines()
    assert re.fullmatch(r"scope-claims-\d{8}-\d{8}-received-property-exported-\d{8}-\d{4}\.csv",
                        out["dashboard-download"]["data"]["filename"]), out["dashboard-download"]["data"]["filename"]
    assert rows[0].startswith("Claim,Reported,Loss date,Closed,Line of business,Department")
    assert len(rows) - 1 == expected > 0
    status, out = _export(client, "dashboard-drill-xlsx", spec=spec)
    parts = _xlsx_parts(out["dashboard-download"]["data"])
    assert re.findall(r'<sheet name="([^"]+)"', parts["xl/workbook.xml"]) == ["Filters", "Claims"]
    assert "department: Property" in parts["xl/sharedStrings.xml"]
    assert 'formatCode="yyyy-mm-dd"' in parts["xl/styles.xml"]

    # the claims behind a point of the Closed line, with their closing dates
    with web_app.server.app_context():
        from db.flask_db import read_session

        series = aggregates.series(read_session(), f)
        i = max(range(len(series["periods"])), key=lambda k: series["closed"][k])
        day = series["periods"][i]
    status, out = _export(client, "dashboard-drill-csv", spec={"dimension": "period", "value": day.isoformat(),
                                                               "measure": "closed"})
    assert status == 200, out
    rows = list(csv.DictReader(io.StringIO(out["dashboard-download"]["data"]["content"])))
    assert len(rows) == series["closed"][i] > 0
    assert {r["Status"] for r in rows} == {"Closed"} and {r["Closed"] for r in rows} <= {day.isoformat(), ""}

    before = _last_audit_id(web_app)
    monkeypatch.setattr(dashboard, "EXPORT_LIMIT", 3)
    status, out = _export(client, "dashboard-drill-csv", spec=spec)
    assert status == 200 and "dashboard-download" not in out
    assert "More than 3 claims" in json.dumps(out["dashboard-drill-export-status"]["children"])
    assert _audits(web_app, before) == []  # nothing exported, nothing recorded

    status, out = _export(client, "dashboard-drill-csv", spec={"dimension": "region", "value": "<x>"})
    assert status == 200 and "Unknown region" in json.dumps(out)
    assert _export(client_for("adjuster"), "dashboard-export-csv")[0] == 403


def _sheet(parts: dict, n: int) -> dict[str, str]:
    """Cell reference -> value (shared strings resolved) of the n-th worksheet."""
    strings = [re.sub(r"<[^>]+>", "", si) for si in re.findall(r"<si>(.*?)</si>", parts["xl/sharedStrings.xml"])]
    out = {}
    for ref, attrs, value in re.findall(r'<c r="([A-Z]+\d+)"([^>]*)><v>([^<]*)</v></c>',
                                        parts[f"xl/worksheets/sheet{n}.xml"]):
        out[ref] = strings[int(value)] if 't="s"' in attrs else value
    return out


def test_breakdown_export_leads_with_the_headline_figures_of_the_cards(refreshed, client_for, web_app):
    """The file had the breakdowns only: not the volume, backlog, cycle time, accuracy, fraud and money
    figures the cards show, nor which period they compare with."""
    from components.kpis import CARDS, kpi_cards

    search = "?department=PROPERTY&line=property"
    with web_app.server.app_context():
        from db.flask_db import read_session

        f, opts = dashboard.parse(read_session(), {"department": "PROPERTY", "line": "property"})
        k = dashboard.view(read_session(), f)["kpis"]
    before = f.previous()
    shown = {c.key: component_texts(col) for c, col in zip(CARDS, kpi_cards(k["current"], k["previous"], "USD")
                                                             .children)}
    for client in (client_for("viewer"), client_for("manager")):
        status, out = _export(client, "dashboard-export-csv", search=search)
        assert status == 200, out
        rows = list(csv.reader(io.StringIO(out["dashboard-download"]["data"]["content"])))
        head = {r[1]: r for r in rows[1:] if r[0] == "Headline figures"}
        assert head["Period"][2] == f"{f.start} to {f.end} ({f.days} days)"
        assert head["Department"][2] == "Property" and head["Line of business"][2] == "Property"
        assert head["Compared with"][2] == f"{before.start} to {before.end} (previous period)"
        assert [r[1] for r in rows[1:] if r[0] == "Headline figures"][4:] == [c.label for c in CARDS]
        received = head["Claims received"]
        assert int(received[2]) == k["current"]["received"] > 0 and received[5] == "claims"
        for card in CARDS:
            row = head[card.label]
            value = k["current"][card.key]
            if value is None:
                assert row[2] == ""
            elif card.kind == "pct":
                assert row[2] == f"{value:.4f}" and row[5].startswith("share (0-1)")
            elif card.kind == "money":
                assert row[2] == f"{value:.2f}" and row[5] == "USD"
            else:
                assert float(row[2]) == value
            # the change reads as on the card ("▲ +3% vs prev.", "no comparison", "still being paid")
            assert row[4] and any(t.startswith(row[4]) for t in shown[card.key]), (card.key, row[4], shown[card.key])
            assert not row[4].startswith(("=", "+", "-", "@"))  # formula-safe: the arrow leads
        assert head["Total paid"][3] == "" and head["Total paid"][4] == "still being paid"
        assert float(head["Open backlog"][3]) == k["previous"]["backlog"]

    status, out = _export(client_for("viewer"), "dashboard-export-xlsx", search=search)
    parts = _xlsx_parts(out["dashboard-download"]["data"])
    sheet = _sheet(parts, 1)
    assert [sheet[f"{c}1"] for c in "ABCDEF"] == ["Figure", "Value", "Previous period", "Change", "Unit",
                                                  "Definition"]
    assert (sheet["A2"], sheet["B2"]) == ("Period", f"{f.start} to {f.end} ({f.days} days)")
    assert (sheet["A6"], float(sheet["B6"])) == ("Claims received", k["current"]["received"])
    row = next(r for r in range(6, 20) if sheet.get(f"A{r}") == "Routing accuracy")
    if k["current"]["routing_accuracy"] is not None:
        assert float(sheet[f"B{row}"]) == pytest.approx(k["current"]["routing_accuracy"])  # a number, 0.0% format
    assert "Headline figures" in _sheet(parts, 5).values()  # the Filters sheet lists it


def test_drill_export_names_lines_and_statuses_as_the_screen_does(refreshed, client_for, web_app):
    """The CSV said "auto" and "new" where the drill-down shows "Auto" and "New"."""
    from components.kpis import drill_table

    client = client_for("viewer")
    with web_app.server.app_context():
        from db.flask_db import read_session

        f, opts = dashboard.parse(read_session(), {})
        # a two-word line if there is one: "workers_comp" reads "Workers Comp"
        line = max(opts["lines"], key=lambda v: ("_" in v, v))
        spec = {"dimension": "line", "value": line}
        d = dashboard.parse_drill(read_session(), f, opts, spec)
        page = dashboard.drill_page(read_session(), d, opts)
    screen = component_texts(drill_table(page["rows"], "USD"))
    status, out = _export(client, "dashboard-drill-csv", spec=spec)
    assert status == 200, out
    rows = list(csv.DictReader(io.StringIO(out["dashboard-download"]["data"]["content"])))
    assert len(rows) == page["total"] > 0
    assert {r["Line of business"] for r in rows} == {line.replace("_", " ").title()} != {line}
    assert all(r["Status"][:1].isupper() and "_" not in r["Status"] for r in rows)
    for r in rows[:len(page["rows"])]:  # the newest rows are the screen's first page: in the same words
        assert {r["Claim"], r["Status"], r["Line of business"]} <= set(screen), r
    status, out = _export(client, "dashboard-drill-xlsx", spec=spec)
    sheet = _sheet(_xlsx_parts(out["dashboard-download"]["data"]), 2)
    assert sheet["E1"] == "Line of business" and sheet["E2"] == rows[0]["Line of business"]
    assert sheet["G1"] == "Status" and sheet["G2"] == rows[0]["Status"]


def test_printable_report_shows_filters_kpis_and_static_charts(refreshed, client_for):
    client = client_for("viewer")
    status, body = render_page(client, "/dashboard/report", "?department=PROPERTY")
    assert status == 200
    assert "SCOPE executive report" in body and "report-kpi-received" in body and "Property" in body
    assert body.count('"staticPlot": true') + body.count('"staticPlot":true') == 4
    # The screen's SIU strip is on paper too; paper has no "Click a bar" hints or wrapped titles.
    assert "report-siu" in body and "cases opened" in body
    assert "the department filter does not apply to these" in body  # ?department=PROPERTY
    assert "Click a bar" not in body and "click a bar" not in body
    # the breakdown tables, by department, line and region, on their own sheet
    assert "dashboard-report-breakdowns" in body and body.count("report-table-block") == 3
    assert "By line of business" in body and "Routed automatically" in body
    status, body = render_page(client, "/dashboard/report", "?start=2026-99-99")
    assert status == 200 and "Invalid filter" in body and "Traceback" not in body


def test_dashboard_reads_go_through_the_cache_and_a_refresh_invalidates(web_app, monkeypatch):
    from db.flask_db import unit_of_work
    from services import cache

    monkeypatch.setattr(cache, "_cache", cache.MemoryCache(prefix="test-dashboard:"))
    calls = []
    real = aggregates.kpis_with_previous
    monkeypatch.setattr(aggregates, "kpis_with_previous", lambda s, f: calls.append(f) or real(s, f))
    with web_app.server.app_context():
        with unit_of_work() as session:
            aggregates.refresh(session)
        with unit_of_work() as session:
            f, _ = dashboard.parse(session, {})
            first = dashboard.view(session, f)
            again = dashboard.view(session, f)
            assert len(calls) == 1 and again["kpis"] == first["kpis"]
            assert again["series"]["periods"] == first["series"]["periods"]
            assert again["breakdowns"]["department"] == first["breakdowns"]["department"]
            old = dashboard.stamp(session)
        with unit_of_work() as session:
            aggregates.refresh(session)
        with unit_of_work() as session:
            assert dashboard.stamp(session) != old
            dashboard.view(session, f)
            assert len(calls) == 2  # the refresh made the old entry unreachable


def test_the_dashboard_says_when_its_figures_were_last_refreshed(client_for, app_session):
    import datetime as dt

    from sqlalchemy import delete

    from db.models import JobRun

    at = dt.datetime(2031, 1, 2, 3, 4, tzinfo=dt.timezone.utc)   # later than any real run of the suite

    def run(status, finished):
        return lambda s: s.add(JobRun(job="refresh_aggregates", slot=f"test-{status}", status=status,
                                      started_at=finished, finished_at=finished))
    app_session(run("succeeded", at))
    app_session(run("failed", at + dt.timedelta(hours=1)))   # a failed run refreshed nothing
    try:
        _, body = render_page(client_for("viewer"), "/dashboard")
        assert "refreshed every 5 minutes, last at 2031-01-02 03:04 UTC" in body
    finally:
        app_session(lambda s: s.execute(delete(JobRun).where(JobRun.slot.like("test-%"))))
