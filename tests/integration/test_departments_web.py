"""The Departments page through the Dash endpoints, as the browser calls them:
admins only (page, navbar link, save callback), tampered payloads answered with a
message and nothing changed."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from db.models import AuditLog, Department
from tests.webutil import render_page

SAVE = "..departments-status.children...departments-list.children.."


@pytest.fixture()
def levels(app_session):
    """Every department's level now; put back after the test (the web database is shared)."""
    def read(session):
        return dict(session.execute(select(Department.code, Department.sla_days)).all())

    before = app_session(read)
    yield lambda: app_session(read)

    def restore(session):
        for code, days in before.items():
            session.execute(update(Department).where(Department.code == code).values(sla_days=days))
    app_session(restore)


def _ids(app_session) -> dict[str, int]:
    return app_session(lambda s: dict(s.execute(select(Department.code, Department.id)).all()))


def _audits(app_session) -> int:
    return app_session(lambda s: s.scalar(select(func.count()).select_from(AuditLog)
                                          .where(AuditLog.action == "department.sla")))


def _save(client, department_id, value, loaded=None):
    button = {"id": department_id, "type": "dept-sla-save"}
    return client.post("/_dash-update-component", json={
        "output": SAVE,
        "outputs": [{"id": "departments-status", "property": "children"},
                    {"id": "departments-list", "property": "children"}],
        "inputs": [[{"id": button, "property": "n_clicks", "value": 1}]],
        "state": [[{"id": {"id": department_id, "type": "dept-sla"}, "property": "value", "value": value}],
                  {"id": "departments-loaded", "property": "data", "value": loaded}],
        "changedPropIds": [json.dumps(button, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
    })


def _status_text(response) -> str:
    body = json.loads(response.get_data(as_text=True))["response"]
    return json.dumps(body["departments-status"]["children"])


def test_the_save_callback_is_registered_for_admins_only(web_app):
    from auth.guard import callback_permission
    from auth.permissions import ROLE_PERMISSIONS, Perm

    assert callback_permission(web_app, SAVE) == Perm.MANAGE_DEPARTMENTS
    assert [r for r, perms in ROLE_PERMISSIONS.items() if Perm.MANAGE_DEPARTMENTS in perms] == ["admin"]


@pytest.mark.parametrize("role", ["manager", "adjuster", "viewer"])
def test_other_roles_are_refused_the_save_callback(client_for, app_session, levels, role):
    before, audits = levels(), _audits(app_session)
    glass = _ids(app_session)["AUTO_GLASS"]
    response = _save(client_for(role), glass, before["AUTO_GLASS"] + 5)
    assert response.status_code == 403
    assert levels() == before and _audits(app_session) == audits


def test_admin_saves_a_level(client_for, app_session, levels):
    before, audits = levels(), _audits(app_session)
    glass = _ids(app_session)["AUTO_GLASS"]
    new = before["AUTO_GLASS"] + 7
    response = _save(client_for("admin"), glass, new, {str(glass): before["AUTO_GLASS"]})
    assert response.status_code == 200
    text = _status_text(response)
    assert f"Saved: Auto Glass has a service level of {new} days (was {before['AUTO_GLASS']})" in text
    assert "next aggregates refresh" in text
    assert levels() == {**before, "AUTO_GLASS": new}
    assert _audits(app_session) == audits + 1
    # the table comes back with the saved value in the row's field
    table = json.dumps(json.loads(response.get_data(as_text=True))["response"]["departments-list"])
    assert f'"value": {new}' in table


@pytest.mark.parametrize("department_id,value,message", [
    ("AUTO_GLASS", "abc", "whole number of days"),
    ("AUTO_GLASS", -5, "whole number of days"),
    ("AUTO_GLASS", 0, "whole number of days"),
    ("AUTO_GLASS", 99999, "whole number of days"),
    ("AUTO_GLASS", 12.5, "whole number of days"),
    ("AUTO_GLASS", None, "whole number of days"),
    ("AUTO_GLASS", [20], "whole number of days"),
    ("string-id", 20, "No such department"),
    (987654321, 20, "No such department"),
    (-1, 20, "No such department"),
    (True, 20, "No such department"),
    (None, 20, "No such department"),
])
def test_tampered_saves_get_a_message_and_change_nothing(client_for, app_session, levels, department_id, value,
                                                         message):
    before, audits = levels(), _audits(app_session)
    if department_id == "AUTO_GLASS":
        department_id = _ids(app_session)["AUTO_GLASS"]
    elif department_id == "string-id":
        department_id = str(_ids(app_session)["AUTO_GLASS"])
    response = _save(client_for("admin"), department_id, value)
    assert response.status_code == 200
    assert message in _status_text(response)
    assert levels() == before and _audits(app_session) == audits


def test_a_stale_page_does_not_overwrite_a_newer_level(client_for, app_session, levels):
    before, audits = levels(), _audits(app_session)
    glass = _ids(app_session)["AUTO_GLASS"]
    response = _save(client_for("admin"), glass, 20, {str(glass): before["AUTO_GLASS"] + 1})
    assert response.status_code == 200
    assert "changed by someone else" in _status_text(response)
    assert levels() == before and _audits(app_session) == audits


def _navbar(client) -> str:
    return json.dumps(client.get("/_dash-layout").get_json())  # the raw body escapes "/"


def test_page_and_menu_link_for_admins_only(client_for):
    status, body = render_page(client_for("admin"), "/admin/departments")
    assert status == 200 and "departments-table" in body and "Auto Glass" in body
    assert "next aggregates refresh, every 5 minutes" in body
    assert '"href": "/admin/departments"' in _navbar(client_for("admin"))
    for role in ("manager", "adjuster", "viewer"):
        client = client_for(role)
        status, body = render_page(client, "/admin/departments")
        assert status == 200 and "Not allowed" in body and "departments-table" not in body
        assert "/admin/departments" not in _navbar(client)


def test_operations_past_sla_follows_a_saved_level_at_once(web_app, client_for, app_session, levels):
    """Operations caches its data per rollup refresh; a save drops that cache, so
    the page counts past the new level without waiting for the next refresh."""
    import datetime as dt

    from services import operations
    from services.aggregates import Filters

    class Manager:
        def can(self, _perm):
            return True

    today = dt.date.today()
    f = Filters(today - dt.timedelta(days=30), today)

    def past() -> dict[str, int]:
        def read(session):
            data = operations.page_data(session, Manager(), f, today=today)  # through the cache
            return {d["code"]: d["past_sla"] for d in data["workload"]["departments"]}
        return app_session(read)

    code, count = max(past().items(), key=lambda kv: kv[1])
    assert count > 0, "the demo data has open claims past their level"
    response = _save(client_for("admin"), _ids(app_session)[code], 3650)
    assert response.status_code == 200 and "Saved" in _status_text(response)
    assert past()[code] == 0


def test_the_service_level_column_comes_right_after_the_department(web_app):
    """On a phone the scrolling table shows its first columns: the level is what the page is for."""
    from dash import html

    from pages.admin_departments import departments_table
    from tests.webutil import component_texts

    row = {"id": 1, "code": "X", "name": "X dept", "color": "#000", "lines_of_business": ["auto"], "active": True,
           "is_triage": False, "sla_days": 30, "open": 3, "past_sla": 1}
    table = departments_table([row]).children[0]
    head = table.children[0].children
    assert [" ".join(component_texts(th)) for th in head.children][:2] == ["Department", "Service level (days)"]
    cells = table.children[1].children[0].children
    assert isinstance(cells[1].children, html.Div)  # the input and Save
    assert cells[1].children.children[0].id == {"type": "dept-sla", "id": 1}
