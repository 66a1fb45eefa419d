"""SCOPE_CURRENCY through the app as the browser calls it: pages, exports, the queue
grid, intake, the API docs and alert rules show the deployment's currency, never
dollars unless it is USD."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import AlertRule, Claim
from services import alerts
from services.currency import money
from tests.integration.test_alerts_web import _key, _post, _save
from tests.integration.test_dashboard import _export, _render, _xlsx_parts
from tests.webutil import render_page

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def rollups(web_app):
    from db.flask_db import unit_of_work
    from services import aggregates

    with web_app.server.app_context(), unit_of_work() as session:
        aggregates.refresh(session)


@pytest.fixture()
def currency(web_app, monkeypatch):
    """Make the test app a deployment in another currency: pages and callbacks read it
    from the app's settings on every request."""
    def use(code: str):
        settings = web_app.server.config["SCOPE_SETTINGS"]
        monkeypatch.setitem(web_app.server.config, "SCOPE_SETTINGS", settings.with_(currency=code))
    return use


def _text(body: str) -> str:
    """A Dash response as the browser shows it (Dash escapes € as \\u20ac)."""
    return json.dumps(json.loads(body), ensure_ascii=False)


def _dicts(node, match):
    """Every dict in a JSON tree for which ``match`` holds."""
    if isinstance(node, dict):
        if match(node):
            yield node
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            yield from _dicts(item, match)


def _paid_claim(web_app):
    from db.flask_db import read_session

    with web_app.server.app_context():
        session = read_session()
        row = session.execute(select(Claim.claim_number, Claim.claimed_amount, Claim.reserve_amount)
                              .where(Claim.paid_amount.isnot(None), Claim.claimed_amount > 1000).limit(1)).first()
        session.close()
    return row


def test_dashboard_and_report_in_euros(rollups, currency, client_for):
    currency("EUR")
    client = client_for("viewer")
    status, body = _render(client, "")
    assert status == 200, body[:300]
    text = _text(body)
    assert "Reserve (€)" in text and "Paid (€)" in text  # the breakdown's headers
    assert "€" in json.dumps(json.loads(body)["response"]["dashboard-cards"], ensure_ascii=False)  # the cards
    assert "$" not in text
    status, body = render_page(client, "/dashboard/report")
    assert status == 200 and "€" in _text(body) and "$" not in _text(body)


def test_the_default_stays_dollars(rollups, client_for):
    status, body = _render(client_for("viewer"), "")
    assert status == 200 and "Reserve ($)" in body and "€" not in _text(body)


def test_exports_in_euros(rollups, currency, client_for):
    currency("EUR")
    client = client_for("viewer")
    status, out = _export(client, "dashboard-export-csv")
    assert status == 200, out
    content = out["dashboard-download"]["data"]["content"]
    lines = content.splitlines()
    assert ("table,Group,Received,Closed,Reserve (€),Paid (€),Routing accuracy,Routed automatically,SLA breaches"
            in lines)
    # the headline figures lead the file; their money is in the deployment's currency too
    assert lines[0].startswith("table,Figure,Value") and any(line.startswith("Headline figures,Total reserve,")
                                                               and ",EUR," in line for line in lines)
    assert "$" not in content
    status, out = _export(client, "dashboard-export-xlsx")
    assert status == 200, out
    parts = _xlsx_parts(out["dashboard-download"]["data"])
    strings = parts["xl/sharedStrings.xml"]
    assert "Reserve (€)" in strings and "<t>EUR</t>" in strings  # headers; the Filters sheet names the currency
    assert "$" not in strings


def test_claim_page_in_euros_and_yen(currency, client_for, web_app):
    claim = _paid_claim(web_app)
    client = client_for("viewer")
    currency("EUR")
    _, body = render_page(client, f"/claims/{claim.claim_number}")
    text = _text(body)
    assert money(claim.claimed_amount, "EUR") in text and money(claim.reserve_amount, "EUR") in text
    assert "$" not in text
    currency("JPY")
    _, body = render_page(client, f"/claims/{claim.claim_number}")
    shown = money(claim.claimed_amount, "JPY")
    assert shown.startswith("¥") and "." not in shown and shown in _text(body)


def test_queue_grid_intake_and_api_docs_name_the_currency(currency, client_for, web_app):
    currency("EUR")
    _, body = render_page(client_for("adjuster"), "/queues")
    claimed = next(_dicts(json.loads(body), lambda d: d.get("field") == "claimed_amount"))
    assert claimed["valueFormatter"]["function"] == 'Money(params.value, "EUR")'
    assert "Claimed amount (€)" in _text(body)  # the filter panel's bounds
    _, body = render_page(client_for("adjuster"), "/intake")
    assert "Claimed amount (EUR)" in body
    doc = web_app.server.test_client().get("/api/v1/openapi.json").get_json()
    description = doc["components"]["schemas"]["ClaimInput"]["properties"]["claimed_amount"]["description"]
    assert "in EUR" in description


def test_a_money_alert_rule_is_named_and_unitised_in_the_currency(currency, client_for, web_app, app_session):
    currency("EUR")
    client = client_for("manager")
    unit = _post(client, _key(web_app, "alert-form-unit.children"), [("alert-form-unit", "children")],
                 [{"id": "alert-form-metric", "property": "value", "value": "reserve"}])
    assert json.loads(unit.get_data(as_text=True))["response"]["alert-form-unit"]["children"] == "€"
    raw = {"metric": "reserve", "comparison": "above", "threshold": 5_000_000_000, "period": "this_month",
           "severity": "info", "enabled": True, "name": ""}
    assert _save(web_app, client, raw).status_code == 200
    name = "Total reserve above €5,000.00M this month"
    try:
        rule_id = app_session(lambda s: s.scalar(select(AlertRule.id).where(AlertRule.name == name)))
        assert rule_id is not None
        # named from its terms in this currency: the editor shows the name empty, to be rewritten
        assert app_session(lambda s: alerts.rule_form_values(s, rule_id, currency="EUR"))["name"] == ""
    finally:
        app_session(lambda s: [alerts.delete_rule(s, r, actor="test-cleanup")
                               for r in s.scalars(select(AlertRule.id).where(AlertRule.name == name))])


def test_an_unknown_currency_refuses_to_start():
    env = dict(os.environ, SCOPE_CURRENCY="EURO", DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "db", "upgrade"], capture_output=True, text=True,
                            env=env, timeout=60, cwd=ROOT)
    assert result.returncode == 1
    assert result.stderr.strip() == ("scope: error: SCOPE_CURRENCY must be an ISO 4217 currency code such as USD, "
                                     "EUR or JPY, got 'EURO'")


def test_intake_form_leaves_the_currencys_unit_to_the_server(currency, client_for):
    """A step of 0.01 (1 for JPY) made the browser blank 1234.567 and the server said
    "required"; with none, the server's "at most 2 decimals" / "whole amount" is shown."""
    for code in ("JPY", "USD"):
        currency(code)
        _, body = render_page(client_for("adjuster"), "/intake")
        amount = next(_dicts(json.loads(body), lambda d: d.get("id") == "intake-claimed_amount"))
        assert amount["step"] == "any" and "min" not in amount and "max" not in amount
    from services.intake import validate

    assert "at most 2 decimals" in validate({"claimed_amount": 1234.567}, currency="USD")[1]["claimed_amount"]
    assert "whole amount" in validate({"claimed_amount": 1234.5}, currency="JPY")[1]["claimed_amount"]


def test_the_counterfactual_words_amounts_in_the_currency(web_app, monkeypatch):
    from db.flask_db import read_session
    from ml.counterfactual import Change, Counterfactual
    from services import counterfactual as service

    found = Counterfactual(found=True, source="AUTO_PD", target="AUTO_GLASS", probability=0.61, candidates=9,
                           changes=[Change("claimed_amount", "numeric", 4419.46, 450.0, 1.0)])
    monkeypatch.setattr(service, "compute", lambda session, model, claim: (found, {}))
    with web_app.server.app_context():
        session = read_session()
        claim = session.scalar(select(Claim).where(Claim.dataset == "synthetic").limit(1))
        texts = {code: service.claim_counterfactual(session, claim, decision_id=None, currency=code)["text"]
                 for code in ("EUR", "JPY", "USD")}
        session.close()
    assert "the claimed amount were €450 instead of €4,419" in texts["EUR"]
    assert "¥450 instead of ¥4,419" in texts["JPY"] and "$450 instead of $4,419" in texts["USD"]
