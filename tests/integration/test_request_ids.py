"""Every request gets a reference: in the X-Request-ID header, on the log lines
written while serving it, and on the page or JSON of a server error."""
from __future__ import annotations

import logging
import re

import pytest

HEX16 = re.compile(r"[0-9a-f]{16}")


def test_every_response_names_its_request_and_each_request_is_new(web_app):
    client = web_app.server.test_client()
    ids = [client.get(path).headers.get("X-Request-ID") for path in ("/healthz", "/healthz", "/login", "/nowhere")]
    assert all(i and HEX16.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


@pytest.fixture()
def behind_proxy(web_app):
    settings = web_app.server.config["SCOPE_SETTINGS"]
    web_app.server.config["SCOPE_SETTINGS"] = settings.with_(proxy_hops=1)
    yield web_app.server.test_client()
    web_app.server.config["SCOPE_SETTINGS"] = settings


GIVEN = "a1b2c3d4-e5f6-7890-abcd-ef0123456789"


def test_a_client_cannot_choose_the_id_that_goes_into_the_log(web_app):
    assert web_app.server.config["SCOPE_SETTINGS"].proxy_hops == 0
    direct = web_app.server.test_client().get("/healthz", headers={"X-Request-ID": GIVEN})
    assert HEX16.fullmatch(direct.headers["X-Request-ID"])


def test_a_trusted_proxy_may_name_the_request(behind_proxy):
    assert behind_proxy.get("/healthz", headers={"X-Request-ID": GIVEN}).headers["X-Request-ID"] == GIVEN


@pytest.mark.parametrize("forged", ["short", "has space in it", "line\u2028break-0001", "x" * 129,
                                    'quote"injection0'])
def test_a_malformed_id_is_replaced_even_from_a_proxy(behind_proxy, forged):
    answered = behind_proxy.get("/healthz", headers={"X-Request-ID": forged}).headers["X-Request-ID"]
    assert HEX16.fullmatch(answered)


@pytest.fixture()
def broken_healthz(web_app, monkeypatch):
    def boom():
        raise RuntimeError("simulated failure in a view")

    monkeypatch.setitem(web_app.server.view_functions, "health.healthz", boom)
    return web_app.server.test_client()


def test_a_server_error_page_shows_the_reference_of_the_logged_trace(broken_healthz, caplog):
    with caplog.at_level(logging.ERROR):
        response = broken_healthz.get("/healthz", headers={"Accept": "text/html"})
    assert response.status_code == 500
    rid = response.headers["X-Request-ID"]
    html = response.get_data(as_text=True)
    assert re.search(rf"Reference for your administrator:\s+<code>{rid}</code>", html)
    assert "simulated failure" not in html and "Traceback" not in html
    logged = [r for r in caplog.records if r.exc_info and "simulated failure" in str(r.exc_info[1])]
    assert logged and all(r.request_id == rid for r in logged)


def test_a_json_server_error_carries_the_reference(broken_healthz):
    response = broken_healthz.get("/healthz", headers={"Accept": "application/json"})
    assert response.status_code == 500
    body = response.get_json()
    assert body["reference"] == response.headers["X-Request-ID"]
    assert "simulated" not in response.get_data(as_text=True)


def test_a_refused_request_has_a_reference_but_no_error_reference(web_app):
    response = web_app.server.test_client().post("/_dash-update-component", json={"output": "x.children"})
    assert response.status_code == 401
    assert HEX16.fullmatch(response.headers["X-Request-ID"])
    assert "reference" not in response.get_json()


def test_log_lines_outside_a_request_read_a_dash(web_app, caplog):
    # web_app: create_app installs the log record factory (once per process)
    with caplog.at_level(logging.INFO):
        logging.getLogger("scope.test").info("no request here")
    assert caplog.records[-1].request_id == "-"
