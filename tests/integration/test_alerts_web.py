"""The alerts page and banners through the Dash endpoints, as the browser calls
them: permissions on every callback, tampered payloads answered with a message."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from db.models import AlertEvent, AlertRule, AuditLog
from services import alerts
from tests.webutil import render_page

FIELDS = ("metric", "comparison", "threshold", "period", "department", "severity", "enabled", "name")
PREFIX = "WEBTEST alert"


@pytest.fixture(autouse=True)
def cleanup(app_session):
    yield
    # Delete what these tests created, so no banner of theirs shows in other tests.
    def drop(session):
        for rule_id in session.scalars(select(AlertRule.id).where(AlertRule.name.like(f"{PREFIX}%"))).all():
            alerts.delete_rule(session, rule_id, actor="test-cleanup")
    app_session(drop)


def _key(web_app, prefix: str) -> str:
    keys = [k for k in web_app.callback_map if k.startswith(prefix)]
    assert len(keys) == 1, keys
    return keys[0]


def _post(client, key, outputs, inputs, state=(), changed=None):
    return client.post("/_dash-update-component", json={
        "output": key,
        "outputs": [{"id": i, "property": p} for i, p in outputs] if len(outputs) > 1
        else {"id": outputs[0][0], "property": outputs[0][1]},
        "inputs": inputs, "state": list(state),
        "changedPropIds": changed or [f"{inputs[0]['id']}.{inputs[0]['property']}"],
    })


def _save(web_app, client, raw: dict, editing=None):
    key = _key(web_app, "..alert-form.is_open@")
    outputs = [("alert-form", "is_open"), ("alert-form-error", "children"), ("alerts-status", "children"),
               ("alerts-version", "data")]
    state = [{"id": f"alert-form-{f}", "property": "value", "value": raw.get(f)} for f in FIELDS]
    state += [{"id": "alert-form-rule", "property": "data", "value": editing},
              {"id": "alerts-version", "property": "data", "value": 0}]
    return _post(client, key, outputs, [{"id": "alert-form-save", "property": "n_clicks", "value": 1}], state)


def _banners(client):
    return _post(client, "alert-banners.children", [("alert-banners", "children")],
                 [{"id": "alerts-banner-url", "property": "pathname", "value": "/dashboard"}])


def _act(web_app, client, *, toggle=None, ack=None):
    """Enable/Disable or Acknowledge as the page's script posts them (assets/62-row-actions.js):
    what the button says in the page's store."""
    key = _key(web_app, "..alerts-status.children@")
    inputs = [{"id": "alert-toggle-ask", "property": "data", "value": toggle},
              {"id": "alert-ack-ask", "property": "data", "value": ack},
              {"id": "alerts-check", "property": "n_clicks", "value": 0}]
    return _post(client, key, [("alerts-status", "children"), ("alerts-version", "data")], inputs,
                 [{"id": "alerts-version", "property": "data", "value": 0}],
                 changed=["alert-toggle-ask.data" if toggle is not None else "alert-ack-ask.data"])


def _ack(web_app, client, event_id):
    return _act(web_app, client, ack={"id": event_id, "at": 1})


def _ask(web_app, client, store: str, prefix: str, outputs, value):
    """A rule's Edit or Delete: its id in the page's store."""
    return _post(client, _key(web_app, prefix), outputs, [
        *([{"id": "alerts-new", "property": "n_clicks", "value": None}] if store == "alert-edit-ask" else []),
        {"id": store, "property": "data", "value": value},
        *([{"id": "alert-form-cancel", "property": "n_clicks", "value": None}] if store == "alert-edit-ask" else [])],
        changed=[f"{store}.data"])


def breaching_rule(**kw) -> dict:
    # Demo claims are all reported before today, so PROPERTY's open backlog today is above 0.
    raw = {"metric": "backlog", "comparison": "above", "threshold": 0, "period": "today", "department": "PROPERTY",
           "severity": "critical", "enabled": True, "name": f"{PREFIX} {uuid.uuid4().hex[:8]}"}
    raw.update(kw)
    return raw


def _count(app_session, model):
    if model is AuditLog:  # logins are audited too: count only what alerts write
        return app_session(lambda s: s.scalar(select(func.count(AuditLog.id)).where(AuditLog.action.like("alert%"))))
    return app_session(lambda s: s.scalar(select(func.count(model.id))))


@pytest.mark.parametrize("role, sees, hidden", [
    ("manager", ["Threshold alerts", "New rule", "Check now", "History"], []),
    ("admin", ["Threshold alerts", "New rule"], []),
    ("viewer", ["Threshold alerts", "Open alerts", "History"], ["New rule", "alert-form-save"]),
    ("adjuster", ["Not allowed"], ["Threshold alerts", "alerts-history"]),
])
def test_alerts_page_per_role(client_for, role, sees, hidden):
    status, body = render_page(client_for(role), "/alerts")
    assert status == 200
    assert all(s in body for s in sees), role
    assert not any(h in body for h in hidden), role


def test_threshold_field_lets_a_negative_number_reach_the_server(client_for):
    """With min=0 on the field the browser sent "no value" for -5, and the editor answered
    "Enter a threshold."; the server's own check says "must not be negative"."""
    import json as _json

    status, body = render_page(client_for("manager"), "/alerts")
    assert status == 200

    def find(node):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "alert-form-threshold":
                return node["props"]
            for v in node.values():
                if (found := find(v)) is not None:
                    return found
        elif isinstance(node, list):
            for v in node:
                if (found := find(v)) is not None:
                    return found
        return None

    props = find(_json.loads(body))
    assert props is not None and props.get("type") == "number" and "min" not in props


def test_default_rules_were_seeded_at_first_start(app_session):
    metrics = app_session(lambda s: set(s.scalars(select(AlertRule.metric).where(AlertRule.created_by == "system"))))
    assert {"reassignment_rate", "routing_accuracy", "agreement_rate", "backlog"} <= metrics


def test_manager_creates_a_rule_and_a_viewer_sees_its_banner(web_app, client_for, app_session):
    raw = breaching_rule()
    response = _save(web_app, client_for("manager"), raw)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert "created" in response.get_data(as_text=True)
    rule = app_session(lambda s: s.scalar(select(AlertRule).where(AlertRule.name == raw["name"])))
    assert rule is not None and rule.created_by == "manager@scope.example" and rule.last_value > 0
    events = app_session(lambda s: s.scalars(select(AlertEvent).where(AlertEvent.rule_id == rule.id)).all())
    assert len(events) == 1 and events[0].resolved_at is None

    viewer = _banners(client_for("viewer"))
    assert viewer.status_code == 200
    text = json.dumps(json.loads(viewer.get_data(as_text=True)))  # undo Dash's escaping of "/"
    assert raw["name"] in text and "/alerts" in text and "Review alerts" in text
    # The rules table is readable by the viewer, without edit buttons.
    render = _post(client_for("viewer"), "..alerts-open.children...alerts-rules.children..",
                   [("alerts-open", "children"), ("alerts-rules", "children")],
                   [{"id": "alerts-version", "property": "data", "value": 0}])
    assert render.status_code == 200 and raw["name"] in render.get_data(as_text=True)
    assert "alert-edit-ask" not in render.get_data(as_text=True)
    assert "alert-ack-ask" not in render.get_data(as_text=True)


def test_banner_slot_and_callback_only_for_roles_that_see_alerts(client_for):
    assert b"alerts-banner-url" in client_for("viewer").get("/_dash-layout").data
    adjuster = client_for("adjuster")
    assert b"alerts-banner-url" not in adjuster.get("/_dash-layout").data
    assert _banners(adjuster).status_code == 403


def test_viewer_and_adjuster_cannot_write(web_app, client_for, app_session):
    rules, audits = _count(app_session, AlertRule), _count(app_session, AuditLog)
    for role in ("viewer", "adjuster"):
        client = client_for(role)
        assert _save(web_app, client, breaching_rule()).status_code == 403
        assert _ack(web_app, client, 1).status_code == 403
        confirm = _post(client, _key(web_app, "..alert-delete.is_open@"),
                        [("alert-delete", "is_open"), ("alerts-status", "children"), ("alerts-version", "data")],
                        [{"id": "alert-delete-confirm", "property": "n_clicks", "value": 1},
                         {"id": "alert-delete-cancel", "property": "n_clicks", "value": 0}],
                        [{"id": "alert-delete-rule", "property": "data", "value": 1},
                         {"id": "alerts-version", "property": "data", "value": 0}])
        assert confirm.status_code == 403
    adjuster = client_for("adjuster")
    assert _post(adjuster, "alerts-history.children", [("alerts-history", "children")],
                 [{"id": "alerts-filter-status", "property": "value", "value": "all"},
                  {"id": "alerts-filter-severity", "property": "value", "value": None},
                  {"id": "alerts-filter-metric", "property": "value", "value": None},
                  {"id": "alerts-version", "property": "data", "value": 0}]).status_code == 403
    assert _count(app_session, AlertRule) == rules and _count(app_session, AuditLog) == audits


@pytest.mark.parametrize("change, editing, message", [
    ({"metric": "salary"}, None, "Choose a metric"),
    ({"threshold": "NaN"}, None, "finite"),
    ({"threshold": 1e308}, None, "at most"),
    ({"department": "NOPE"}, None, "Unknown department"),
    ({"severity": ["critical"]}, None, "severity"),
    ({}, 999_999_999, "no longer exists"),
    ({}, "1; DROP TABLE alert_rules", "no longer exists"),
    ({}, {"id": 1}, "no longer exists"),
])
def test_tampered_rule_payloads_get_a_message_and_write_nothing(web_app, client_for, app_session, change,
                                                                editing, message):
    rules, audits = _count(app_session, AlertRule), _count(app_session, AuditLog)
    response = _save(web_app, client_for("manager"), breaching_rule(**change), editing=editing)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_data(as_text=True)
    assert message in body and "Traceback" not in body
    assert _count(app_session, AlertRule) == rules and _count(app_session, AuditLog) == audits


def test_manager_acknowledges_an_alert_and_it_leaves_the_banners(web_app, client_for, app_session):
    raw = breaching_rule()
    assert _save(web_app, client_for("manager"), raw).status_code == 200
    event_id = app_session(lambda s: s.scalar(select(AlertEvent.id).join(AlertRule, AlertRule.id == AlertEvent.rule_id)
                                              .where(AlertRule.name == raw["name"])))
    response = _ack(web_app, client_for("manager"), event_id)
    assert response.status_code == 200 and "acknowledged" in response.get_data(as_text=True)
    event = app_session(lambda s: s.get(AlertEvent, event_id))
    assert event.acknowledged_by == "manager@scope.example" and event.acknowledged_at is not None
    assert raw["name"] not in _banners(client_for("viewer")).get_data(as_text=True)
    # A made-up event id is a message, not an error.
    bad = _ack(web_app, client_for("manager"), 987_654_321)
    assert bad.status_code == 200 and "no longer exists" in bad.get_data(as_text=True)


@pytest.mark.parametrize("status, severity, metric", [("gone", None, None), ("all", "x", None),
                                                      ("all", None, "DROP"), (["open"], None, None)])
def test_history_rejects_tampered_filters(client_for, status, severity, metric):
    response = _post(client_for("viewer"), "alerts-history.children", [("alerts-history", "children")],
                     [{"id": "alerts-filter-status", "property": "value", "value": status},
                      {"id": "alerts-filter-severity", "property": "value", "value": severity},
                      {"id": "alerts-filter-metric", "property": "value", "value": metric},
                      {"id": "alerts-version", "property": "data", "value": 0}])
    assert response.status_code == 200 and "Unknown" in response.get_data(as_text=True)


def test_viewers_find_alerts_in_the_navbar_and_managers_in_the_admin_menu(client_for):
    import json as _json

    def nav(role):
        layout = client_for(role).get("/_dash-layout")
        assert layout.status_code == 200
        return _json.dumps(layout.get_json())

    viewer, manager, adjuster = nav("viewer"), nav("manager"), nav("adjuster")
    assert '"children": "Alerts"' in viewer and '"href": "/alerts"' in viewer
    assert '"children": "Alert rules"' in manager and '"children": "Alerts"' not in manager
    assert '"href": "/alerts"' not in adjuster


def test_the_rules_buttons_ask_through_the_pages_stores(web_app, client_for, app_session):
    """The rules and alerts are redrawn after each change and filter: buttons with pattern-matching
    ids were posted, every one, at each redraw, and Enable/Disable (its id lacked the "enable" its
    callback matched) did nothing at all. The buttons now carry what they do; the stores are the inputs."""
    assert not [k for k, entry in web_app.callback_map.items()
                if any(t in str(i.get("id")) for i in entry["inputs"]
                       for t in ('"alert-rule-edit"', '"alert-rule-toggle"', '"alert-rule-delete"', '"alert-ack"'))]
    manager = client_for("manager")
    raw = breaching_rule()
    assert _save(web_app, manager, raw).status_code == 200
    rule_id = app_session(lambda s: s.scalar(select(AlertRule.id).where(AlertRule.name == raw["name"])))
    render = _post(manager, "..alerts-open.children...alerts-rules.children..",
                   [("alerts-open", "children"), ("alerts-rules", "children")],
                   [{"id": "alerts-version", "property": "data", "value": 0}]).get_data(as_text=True).replace(" ", "")
    assert '{\\"id\\":%d,\\"enable\\":false}' % rule_id in render and '"data-ask":"alert-toggle-ask"' in render

    # Disable: done, and its open alert resolved; the same (stale) button again changes nothing.
    response = _act(web_app, manager, toggle={"id": rule_id, "enable": False, "at": 1})
    assert response.status_code == 200 and "disabled" in response.get_data(as_text=True)
    assert app_session(lambda s: s.get(AlertRule, rule_id).enabled) is False
    _act(web_app, manager, toggle={"id": rule_id, "enable": False, "at": 2})
    assert app_session(lambda s: s.get(AlertRule, rule_id).enabled) is False
    for tampered in ({"id": rule_id, "enable": "yes", "at": 3}, {"id": rule_id, "enable": True},
                     {"id": str(rule_id), "enable": True, "at": 3}, "x"):
        response = _act(web_app, manager, toggle=tampered)
        assert response.status_code in (200, 204) and "Traceback" not in response.get_data(as_text=True)
        assert app_session(lambda s: s.get(AlertRule, rule_id).enabled) is False, tampered
    response = _act(web_app, manager, toggle={"id": rule_id, "enable": True, "at": 4})
    assert "enabled" in response.get_data(as_text=True) and app_session(lambda s: s.get(AlertRule, rule_id).enabled)

    # Edit opens the form with the rule; Delete asks (confirm_delete deletes).
    edit_outputs = [("alert-form", "is_open"), ("alert-form-title", "children"),
                    *[(f"alert-form-{f}", "value") for f in FIELDS], ("alert-form-rule", "data"),
                    ("alert-form-error", "children")]
    body = _ask(web_app, manager, "alert-edit-ask", "..alert-form.is_open...alert-form-title", edit_outputs,
                {"id": rule_id, "at": 1}).get_data(as_text=True)
    assert raw["name"] in body and "Edit rule" in body
    delete_outputs = [("alert-delete", "is_open"), ("alert-delete-text", "children"), ("alert-delete-rule", "data")]
    body = _ask(web_app, manager, "alert-delete-ask", "..alert-delete.is_open...alert-delete-text", delete_outputs,
                {"id": rule_id, "at": 1}).get_data(as_text=True)
    assert raw["name"] in body and "stops being checked" in body
    for store, prefix, outputs in (("alert-edit-ask", "..alert-form.is_open...alert-form-title", edit_outputs),
                                   ("alert-delete-ask", "..alert-delete.is_open...alert-delete-text",
                                    delete_outputs)):
        assert _ask(web_app, manager, store, prefix, outputs, {"id": rule_id}).status_code == 204
    assert _ask(web_app, client_for("viewer"), "alert-delete-ask", "..alert-delete.is_open...alert-delete-text",
                delete_outputs, {"id": rule_id, "at": 1}).status_code == 403


def test_delete_question_names_a_rule_whose_name_was_written_from_its_terms(web_app, client_for, app_session):
    # The editor shows such a name empty; the question asked “” stops being checked.
    manager = client_for("manager")
    raw = breaching_rule(name="", threshold=987654)
    assert _save(web_app, manager, raw).status_code == 200
    rule = app_session(lambda s: s.scalars(select(AlertRule).where(AlertRule.threshold == 987654)).one())
    rule_id, name = rule.id, rule.name
    assert name
    try:
        delete_outputs = [("alert-delete", "is_open"), ("alert-delete-text", "children"),
                          ("alert-delete-rule", "data")]
        response = _ask(web_app, manager, "alert-delete-ask", "..alert-delete.is_open...alert-delete-text",
                        delete_outputs, {"id": rule_id, "at": 1})
        assert response.status_code == 200
        body = response.get_json()["response"]
        assert json.dumps(name) in json.dumps(body["alert-delete-text"]["children"])
        assert body["alert-delete-rule"]["data"] == rule_id
    finally:
        app_session(lambda s: alerts.delete_rule(s, rule_id, actor="test-cleanup"))
