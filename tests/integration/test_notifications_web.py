"""The profile's "Email notifications" card through the web app: each role sees only the
kinds it may get, a save is stored and audited, and a kind the role does not get, or values
the page never sends, are refused with a message and write nothing."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select

from db.models import AuditLog, NotificationPreference, User
from tests.conftest import login

ACTION = "account.notifications_change"
ALL_FIELDS = ("alert_emails", "alert_min_severity", "alert_resolved", "siu_digest", "claims_assigned",
              "overdue_digest", "kpi_weekly")
CLAIM_FIELDS = {"claims_assigned", "overdue_digest"}


def _signed_in(web_app, email: str, password: str):
    client = web_app.server.test_client()
    response = login(client, email, password)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


@pytest.fixture(scope="module")
def clients(web_app):
    """One signed-in client per kind of person (sign-ins are rate-limited; admins answer MFA)."""
    return {"admin": _signed_in(web_app, "admin@scope.example", "scope-demo-admin"),
            "viewer": _signed_in(web_app, "viewer@scope.example", "scope-demo-viewer"),
            "adjuster": _signed_in(web_app, "adjuster@scope.example", "scope-demo-adjuster"),
            "investigator": _signed_in(web_app, "investigator@scope.example", "scope-demo-investigator")}


@pytest.fixture(autouse=True)
def no_choices(app_session):
    """Every test starts and ends with nobody's choices stored (the demo users are shared)."""
    app_session(lambda s: s.execute(delete(NotificationPreference)))
    yield
    app_session(lambda s: s.execute(delete(NotificationPreference)))


def _profile(client) -> str:
    from tests.webutil import render_page

    status, body = render_page(client, "/profile")
    assert status == 200
    return body


def _fields_shown(body: str) -> set[str]:
    compact = body.replace(" ", "")
    return {f for f in ALL_FIELDS if f'"field":"{f}"' in compact}


def _save(web_app, client, choices: list[tuple[str, object]] | list[dict]):
    key = next(k for k in web_app.callback_map if k.startswith("profile-notify-status.children"))
    state = [c if isinstance(c, dict) else {"id": {"type": "notify-pref", "field": c[0]}, "property": "value",
                                            "value": c[1]} for c in choices]
    response = client.post("/_dash-update-component", json={
        "output": key, "outputs": {"id": "profile-notify-status", "property": "children"},
        "inputs": [{"id": "profile-notify-save", "property": "n_clicks", "value": 1}], "state": [state],
        "changedPropIds": ["profile-notify-save.n_clicks"]})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    alert = json.loads(response.get_data(as_text=True))["response"]["profile-notify-status"]["children"]
    return alert["props"]["color"], alert["props"]["children"]


def _stored(app_session, email: str):
    def read(s):
        row = s.scalar(select(NotificationPreference).join(User, User.id == NotificationPreference.user_id)
                       .where(User.email == email))
        return None if row is None else {f: getattr(row, f) for f in ALL_FIELDS}
    return app_session(read)


def _audits(app_session, email: str) -> list[AuditLog]:
    return app_session(lambda s: s.scalars(select(AuditLog).where(AuditLog.action == ACTION, AuditLog.actor == email)
                                           .order_by(AuditLog.id)).all())


@pytest.mark.parametrize("who, shown", [
    ("admin", set(ALL_FIELDS)),
    ("viewer", {"alert_emails", "alert_min_severity", "alert_resolved", "kpi_weekly"}),
    ("investigator", {"siu_digest"} | CLAIM_FIELDS),   # an SIU adjuster: no Alerts page, so no alert emails
    ("adjuster", CLAIM_FIELDS),                        # only their claims (no dashboard, so no weekly summary)
])
def test_each_role_sees_only_the_kinds_it_may_get(clients, who, shown):
    body = _profile(clients[who])
    assert "Email notifications" in body
    assert _fields_shown(body) == shown
    assert "profile-notify-save" in body and "Your role gets no email notifications" not in body


def _switch(body: str, field: str) -> bool:
    compact = body.replace(" ", "")
    at = compact.index(f'"field":"{field}"')
    near = compact[at - 300:at + 300]
    assert ('"value":true' in near) != ('"value":false' in near), near
    return '"value":true' in near


def test_claims_emails_are_on_for_adjusters_and_off_for_admins_by_default(clients):
    adjuster, admin = _profile(clients["adjuster"]), _profile(clients["admin"])
    assert _switch(adjuster, "claims_assigned") and _switch(adjuster, "overdue_digest")
    assert not _switch(admin, "claims_assigned") and not _switch(admin, "overdue_digest")


def test_the_weekly_summary_is_on_for_viewers_and_off_for_admins_by_default(clients):
    assert _switch(_profile(clients["viewer"]), "kpi_weekly")
    assert not _switch(_profile(clients["admin"]), "kpi_weekly")
    assert "Weekly summary" in _profile(clients["viewer"]) and "Weekly summary" not in _profile(clients["adjuster"])


def test_a_viewer_switches_the_weekly_summary_off_audited(web_app, clients, app_session):
    email = "viewer@scope.example"
    audited = len(_audits(app_session, email))
    color, text = _save(web_app, clients["viewer"], [("alert_emails", False), ("alert_min_severity", "critical"),
                                                     ("alert_resolved", True), ("kpi_weekly", False)])
    assert color == "success" and text.endswith("; no weekly summary.")
    assert _stored(app_session, email)["kpi_weekly"] is False
    [entry] = _audits(app_session, email)[audited:]
    assert entry.before["kpi_weekly"] is True and entry.after["kpi_weekly"] is False
    assert not _switch(_profile(clients["viewer"]), "kpi_weekly")


def test_the_defaults_by_role_show_on_the_card(clients):
    body = _profile(clients["admin"])
    # Admins and managers: critical alerts by default; viewers opt in.
    assert '"value":true' in body.replace(" ", "") and '"value":"critical"' in body.replace(" ", "")
    viewer = _profile(clients["viewer"]).replace(" ", "")
    alert_switch = viewer.index('"field":"alert_emails"')
    assert '"value":false' in viewer[alert_switch - 300:alert_switch + 300]


def test_a_save_is_stored_and_audited_and_saving_it_again_changes_nothing(web_app, clients, app_session):
    choices = [("alert_emails", True), ("alert_min_severity", "warning"), ("alert_resolved", False),
               ("siu_digest", False), ("claims_assigned", True), ("overdue_digest", False), ("kpi_weekly", True)]
    audited = len(_audits(app_session, "admin@scope.example"))
    color, text = _save(web_app, clients["admin"], choices)
    assert color == "success" and text == ("Saved: you get emails about warning and critical alerts when they "
                                           "open; no SIU task digest; emails about claims assigned to you; no "
                                           "digest of late claims; the weekly summary on Monday mornings.")
    assert _stored(app_session, "admin@scope.example") == dict(choices)
    [entry] = _audits(app_session, "admin@scope.example")[audited:]
    assert entry.target_type == "user" and entry.after == dict(choices)
    assert entry.before == {"alert_emails": True, "alert_min_severity": "critical", "alert_resolved": True,
                            "siu_digest": True, "claims_assigned": False, "overdue_digest": False,
                            "kpi_weekly": False}
    color, text = _save(web_app, clients["admin"], choices)
    assert color == "info" and "Nothing changed" in text
    assert len(_audits(app_session, "admin@scope.example")) == audited + 1


def test_an_investigator_saves_the_digest_only_and_alert_choices_stay_the_roles(web_app, clients, app_session):
    color, _ = _save(web_app, clients["investigator"], [("siu_digest", False), ("claims_assigned", True),
                                                        ("overdue_digest", True)])
    assert color == "success"
    assert _stored(app_session, "investigator@scope.example") == {
        "alert_emails": None, "alert_min_severity": None, "alert_resolved": None, "siu_digest": False,
        "claims_assigned": True, "overdue_digest": True, "kpi_weekly": None}


def test_an_adjuster_switches_the_claims_emails_off_audited(web_app, clients, app_session):
    email = "adjuster@scope.example"
    audited = len(_audits(app_session, email))
    color, text = _save(web_app, clients["adjuster"], [("claims_assigned", False), ("overdue_digest", True)])
    assert color == "success" and text == ("Saved: you get no emails about claims assigned to you; the digest of "
                                           "your claims past their service level.")
    assert _stored(app_session, email) == {f: None for f in ALL_FIELDS} | {"claims_assigned": False,
                                                                         "overdue_digest": True}
    [entry] = _audits(app_session, email)[audited:]
    assert entry.before == {"claims_assigned": True, "overdue_digest": True}
    assert entry.after == {"claims_assigned": False, "overdue_digest": True}


@pytest.mark.parametrize("who, choices, message", [
    ("adjuster", [("alert_emails", True), ("alert_min_severity", "info"), ("alert_resolved", True)],
     "Your role does not see alerts"),
    ("investigator", [("alert_emails", True), ("alert_min_severity", "info"), ("alert_resolved", True),
                      ("siu_digest", True)], "Your role does not see alerts"),
    ("viewer", [("alert_emails", True), ("alert_min_severity", "info"), ("alert_resolved", True),
                ("siu_digest", True)], "Only those who work SIU cases"),
    ("adjuster", [("siu_digest", True), ("claims_assigned", True), ("overdue_digest", True)],
     "Only those who work SIU cases"),
    ("viewer", [("alert_emails", True), ("alert_min_severity", "info"), ("alert_resolved", True),
                ("claims_assigned", True), ("overdue_digest", True)], "Your role holds no claims"),
    ("adjuster", [("claims_assigned", True), ("overdue_digest", True), ("kpi_weekly", True)],
     "Only those who see the dashboard"),
    ("investigator", [("siu_digest", True), ("claims_assigned", True), ("overdue_digest", True),
                      ("kpi_weekly", False)], "Only those who see the dashboard"),
])
def test_a_kind_the_role_does_not_get_is_refused_and_nothing_is_written(web_app, clients, app_session, who, choices,
                                                                        message):
    email = f"{who}@scope.example"
    audited = len(_audits(app_session, email))   # the log is append-only: earlier tests' entries stay
    color, text = _save(web_app, clients[who], choices)
    assert color == "danger" and message in text
    assert _stored(app_session, email) is None and len(_audits(app_session, email)) == audited


GOOD = [("alert_emails", True), ("alert_min_severity", "critical"), ("alert_resolved", True), ("siu_digest", True),
        ("claims_assigned", True), ("overdue_digest", True), ("kpi_weekly", True)]


@pytest.mark.parametrize("choices", [
    [("alert_emails", "yes")] + GOOD[1:],
    [GOOD[0], ("alert_min_severity", "loud")] + GOOD[2:],
    [GOOD[0], ("alert_min_severity", None)] + GOOD[2:],
    GOOD[:3] + [("siu_digest", 1)] + GOOD[4:],
    GOOD[:4] + [("claims_assigned", "on")] + GOOD[5:],
    GOOD[:5] + [("overdue_digest", None), GOOD[6]],
    GOOD[:6] + [("kpi_weekly", "on")],
    GOOD[:6] + [("kpi_weekly", None)],
    GOOD[:3],                                   # fields missing: the page is out of date
    GOOD[:5],
    GOOD[:6],                                   # the weekly summary missing
    GOOD + [("sms", True)],                     # a field no page has
    GOOD + [("siu_digest", False)],             # a field twice
    GOOD + [("claims_assigned", False)],
    GOOD + [("kpi_weekly", False)],
    GOOD[:3] + [{"id": "siu_digest", "property": "value", "value": True}] + GOOD[4:],   # not a pattern id
    [],
])
def test_values_the_page_never_sends_are_refused_and_nothing_is_written(web_app, clients, app_session, choices):
    audited = len(_audits(app_session, "admin@scope.example"))
    color, text = _save(web_app, clients["admin"], choices)
    assert color == "danger" and text
    assert _stored(app_session, "admin@scope.example") is None
    assert len(_audits(app_session, "admin@scope.example")) == audited
