"""The Operations page and its callbacks: managers and admins only, checked on the server."""
from __future__ import annotations

import json

import pytest

from tests.webutil import render_page

OUTPUTS = [("ops-status", "children"), ("ops-cards", "children"), ("ops-age", "figure"),
           ("ops-capacity", "figure"), ("ops-flow", "figure"), ("ops-flow-departments", "figure"),
           ("ops-adjusters", "children"), ("ops-confusion", "figure"), ("ops-sankey", "figure"),
           ("ops-calibration", "figure"), ("ops-calibration-body", "children"), ("ops-reasons", "figure"),
           ("ops-reasons-body", "children")]


def _render(client, search):
    response = client.post("/_dash-update-component", json={
        "output": ".." + "...".join(f"{i}.{p}" for i, p in OUTPUTS) + "..",
        "outputs": [{"id": i, "property": p} for i, p in OUTPUTS],
        "inputs": [{"id": "ops-url", "property": "search", "value": search}],
        "state": [], "changedPropIds": ["ops-url.search"],
    })
    body = response.get_data(as_text=True)
    return response.status_code, (json.loads(body)["response"] if response.status_code == 200 else body)


@pytest.fixture(scope="module")
def refreshed(web_app):
    from db.flask_db import unit_of_work
    from services.aggregates import refresh

    with web_app.server.app_context():
        with unit_of_work() as session:
            refresh(session)


@pytest.mark.parametrize("role", ["adjuster", "viewer"])
def test_lower_roles_get_no_page_and_no_data(client_for, refreshed, role):
    client = client_for(role)
    status, body = render_page(client, "/operations")
    assert status == 200 and "Not allowed" in body and "ops-confusion" not in body
    status, body = _render(client, "")
    assert status == 403
    assert "Routed vs final" not in body


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_the_figures(client_for, refreshed, role):
    client = client_for(role)
    status, body = render_page(client, "/operations")
    assert status == 200 and "ops-confusion" in body and "Not allowed" not in body
    status, response = _render(client, "?department=PROPERTY")
    assert status == 200
    titles = {k: v["figure"]["layout"]["title"]["text"] for k, v in response.items() if "figure" in v}
    assert titles["ops-confusion"] == "Routed vs final department (closed claims)"
    assert titles["ops-sankey"].startswith("Reassignment flows")
    # the department filter reaches the figures: only Property is a row of the matrix
    assert response["ops-confusion"]["figure"]["data"][0]["y"] in ([], ["Property"])
    assert response["ops-age"]["figure"]["data"][0]["y"] == ["Property"]
    # the adjusters table names departments; codes are for the URL only
    table = json.dumps(response["ops-adjusters"])
    assert "Property" in table and "PROPERTY" not in table


@pytest.mark.parametrize("search", ["?department=NOPE", "?start=2026-99-01", "?start=2026-05-01&end=2026-01-01",
                                    "?" + "x" * 3000])
def test_tampered_filters_get_a_message_not_a_500(client_for, refreshed, search):
    status, response = _render(client_for("manager"), search)
    assert status == 200
    assert "Invalid filter" in json.dumps(response["ops-status"])
    assert set(response) == {"ops-status"}  # nothing else is sent


def test_non_string_search_is_refused_cleanly(client_for, refreshed):
    status, response = _render(client_for("manager"), {"start": "2026-01-01"})
    assert status == 200 and "Invalid filter" in json.dumps(response["ops-status"])
