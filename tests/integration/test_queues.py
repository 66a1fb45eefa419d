"""The queue grid's server side: paging, sorting, filtering, access, tampering."""
from __future__ import annotations

import pytest

from tests.webutil import queue_rows, render_page


def test_pages_through_a_department_queue(client_for):
    client = client_for("manager")
    status, first, text = queue_rows(client, "AUTO_PD", {"startRow": 0, "endRow": 20})
    assert status == 200
    total = first["rowCount"]
    assert total > 20 and len(first["rowData"]) == 20
    assert text == f"{total:,} open claims"
    _, second, _ = queue_rows(client, "AUTO_PD", {"startRow": 20, "endRow": 40})
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
