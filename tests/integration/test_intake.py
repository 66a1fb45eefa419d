"""The FNOL form and the tokens page through the Dash endpoint, as the browser calls them."""
from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import func, select

from components.intake_parties import input_id as party_input, input_ids
from db.models import ApiToken, Claim, ClaimEvent
from services.geography import region_of
from services.intake import FIELDS
from tests.webutil import render_page

NAMES = [f.name for f in FIELDS]
PARTY_INPUTS = input_ids()


def _key(web_app, fragment: str) -> str:
    return next(k for k in web_app.callback_map if fragment in k)


def submit_form(web_app, client, values: dict, parties: dict | None = None):
    """``parties``: {(slot, key): value} for the People and businesses inputs (slot 0's role
    starts as "claimant" on the page, so it does here)."""
    parties = {(0, "role"): "claimant", **(parties or {})}
    key = _key(web_app, "intake-result.children")
    outputs = ([{"id": f"intake-{n}", "property": "invalid"} for n in NAMES]
               + [{"id": f"intake-{n}-feedback", "property": "children"} for n in NAMES]
               + [{"id": "intake-result", "property": "children"}]
               + [{"id": f"intake-{n}", "property": "value"} for n in NAMES]
               + [{"id": party_input(s, k), "property": "invalid"} for s, k in PARTY_INPUTS]
               + [{"id": party_input(s, k), "property": "value"} for s, k in PARTY_INPUTS]
               + [{"id": "intake-parties-feedback", "property": "children"},
                  {"id": "intake-parties-more", "property": "open"}])
    response = client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs,
        "inputs": [{"id": "intake-submit", "property": "n_clicks", "value": 1}],
        "state": ([{"id": f"intake-{n}", "property": "value", "value": values.get(n)} for n in NAMES]
                  + [{"id": party_input(s, k), "property": "value", "value": parties.get((s, k))}
                     for s, k in PARTY_INPUTS]),
        "changedPropIds": ["intake-submit.n_clicks"],
    })
    if response.status_code != 200:
        return response.status_code, None
    return 200, json.loads(response.get_data(as_text=True))["response"]


def form_values(**changes) -> dict:
    values = {"policy_number": "PWC-2468135", "line_of_business": "workers_comp",
              "loss_date": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
              "report_date": dt.date.today().isoformat(),
              "description": "Warehouse worker slipped on a wet floor and hurt his back lifting a box.",
              "claimed_amount": 12500, "state": "TX", "postcode": "75001", "injury_reported": "true",
              "loss_location": "workplace", "witness_count": 2}
    values.update(changes)
    return values


def test_pages_render_for_adjuster_and_refuse_viewer(client_for):
    status, body = render_page(client_for("adjuster"), "/intake")
    assert status == 200 and "intake-submit" in body and "Claimed amount" in body and "intake-tokens-link" in body
    status, body = render_page(client_for("viewer"), "/intake")
    assert status == 200 and "Not allowed" in body and "intake-submit" not in body
    status, body = render_page(client_for("adjuster"), "/tokens")
    assert status == 200 and "token-create" in body
    status, body = render_page(client_for("viewer"), "/tokens")
    assert "Not allowed" in body and "token-create" not in body


def test_invalid_form_marks_the_fields_and_stores_nothing(web_app, client_for):
    client = client_for("adjuster")
    status, response = submit_form(web_app, client, form_values(claimed_amount=-3, policy_number="x",
                                                                description="short", policy_tenure_days="<script>"))
    assert status == 200
    assert response["intake-claimed_amount"]["invalid"] is True
    assert response["intake-claimed_amount-feedback"]["children"] == "Claimed amount must be greater than 0"
    assert response["intake-policy_number"]["invalid"] is True
    assert response["intake-description"]["invalid"] is True
    assert response["intake-policy_tenure_days"]["invalid"] is True
    assert response["intake-state"]["invalid"] is False
    assert "nothing was stored" in json.dumps(response["intake-result"])
    with web_app.server.app_context():
        from db.flask_db import read_session
        assert read_session().scalar(select(func.count()).select_from(Claim)
                                     .where(Claim.policy_number == "PWC-2468135")) == 0


def test_valid_form_is_stored_routed_and_explained(web_app, client_for):
    client = client_for("adjuster")
    status, response = submit_form(web_app, client, form_values(policy_number="PWC-1357913"))
    assert status == 200
    result = json.dumps(response["intake-result"])
    assert "was stored and routed to" in result and "decision-reasons" in result
    # A stored claim empties the form (report date back to today), so a second click cannot store it twice.
    assert response["intake-description"]["value"] is None
    assert response["intake-report_date"]["value"] == dt.date.today().isoformat()
    number = re.search(r"FNOL-\d{8}", result).group(0)
    with web_app.server.app_context():
        from db.flask_db import read_session
        s = read_session()
        claim = s.scalar(select(Claim).where(Claim.claim_number == number))
        assert claim.policy_number == "PWC-1357913" and claim.extra["injury_reported"] is True
        assert claim.department_id is not None and claim.routing_confidence is not None
        # The dashboard groups by region: an entered claim gets its state's census region.
        assert (claim.state, claim.region) == (form_values()["state"], region_of(form_values()["state"]))
        assert claim.region is not None
        events = s.execute(select(ClaimEvent.kind, ClaimEvent.data).where(ClaimEvent.claim_id == claim.id)).all()
        assert ("intake", {"via": "form"}) in [(k, d) for k, d in events]
        # Its history shows the intake, not a status step from New to New.
        from services.workflow import timeline
        items = timeline(s, claim)
        titles = [i["title"] for i in items]
        assert "New → New" not in titles, titles
        intake = next(i for i in items if i["title"] == "Intake")
        assert intake["detail"] == "entered on the New claim form"
        assert titles[-1].startswith("New for ")


def test_an_entered_claims_page_says_where_it_came_from(web_app, client_for):
    client = client_for("adjuster")
    _, response = submit_form(web_app, client, form_values())
    number = re.search(r"FNOL-\d{8}", json.dumps(response["intake-result"])).group(0)
    _, body = render_page(client_for("manager"), f"/claims/{number}")   # whichever queue it went to
    assert "Entered in SCOPE" in body


def test_viewer_cannot_call_the_intake_callback(web_app, client_for):
    status, _ = submit_form(web_app, client_for("viewer"), form_values(policy_number="PWC-9999999"))
    assert status == 403
    with web_app.server.app_context():
        from db.flask_db import read_session
        assert read_session().scalar(select(func.count()).select_from(Claim)
                                     .where(Claim.policy_number == "PWC-9999999")) == 0


def test_token_created_on_the_page_is_shown_once(web_app, client_for):
    client = client_for("adjuster")
    key = _key(web_app, "token-created.children")
    response = client.post("/_dash-update-component", json={
        "output": key,
        "outputs": [{"id": "token-created", "property": "children"}, {"id": "tokens-list", "property": "children"},
                    {"id": "token-name", "property": "invalid"}, {"id": "token-name-feedback", "property": "children"}],
        "inputs": [{"id": "token-create", "property": "n_clicks", "value": 1}],
        "state": [{"id": "token-name", "property": "value", "value": "form test token"},
                  {"id": "token-scopes", "property": "value", "value": ["claims:read", "models:manage"]},
                  {"id": "token-expiry", "property": "value", "value": "90"},
                  []],   # the For select (admins only): none on an adjuster's page
        "changedPropIds": ["token-create.n_clicks"],
    })
    body = json.loads(response.get_data(as_text=True))["response"]
    assert body["token-name"]["invalid"] is True and "Unknown scope" in body["token-name-feedback"]["children"]
    response = client.post("/_dash-update-component", json={
        "output": key,
        "outputs": [{"id": "token-created", "property": "children"}, {"id": "tokens-list", "property": "children"},
                    {"id": "token-name", "property": "invalid"}, {"id": "token-name-feedback", "property": "children"}],
        "inputs": [{"id": "token-create", "property": "n_clicks", "value": 2}],
        "state": [{"id": "token-name", "property": "value", "value": "form test token"},
                  {"id": "token-scopes", "property": "value", "value": ["claims:read"]},
                  {"id": "token-expiry", "property": "value", "value": "90"},
                  []],   # the For select (admins only): none on an adjuster's page
        "changedPropIds": ["token-create.n_clicks"],
    })
    text = response.get_data(as_text=True)
    token = re.search(r"scope_[A-Za-z0-9_-]{40,}", text).group(0)
    assert "shown only once" in text
    api = web_app.server.test_client()
    assert api.get("/api/v1/queues/AUTO_PD", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    status, page = render_page(client, "/tokens")
    assert "form test token" in page and token not in page
    with web_app.server.app_context():
        from db.flask_db import read_session
        assert read_session().scalar(select(func.count()).select_from(ApiToken)
                                     .where(ApiToken.token_hash == token)) == 0
