"""Prometheus metrics: who may read /metrics, request and callback counts, the
database gauges against the database itself, the alert rules shipped in deploy/
against what is exported, and the counts of two gunicorn workers summed."""
from __future__ import annotations

import datetime as dt
import os
import re
import signal
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, func, select, text

from db.models import Claim, Department, JobRun, ModelVersion
from tests import gunicorn_util
from tests.webutil import queue_rows

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-test-token-" + "m" * 20
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"


@pytest.fixture()
def metrics_on(web_app):
    """The web app with SCOPE_METRICS_TOKEN set and a fresh database snapshot."""
    from api import metrics as metrics_web

    settings = web_app.server.config["SCOPE_SETTINGS"]
    web_app.server.config["SCOPE_SETTINGS"] = settings.with_(metrics_token=TOKEN)
    metrics_web._snapshot.clear()
    try:
        yield web_app.server.test_client()
    finally:
        web_app.server.config["SCOPE_SETTINGS"] = settings
        metrics_web._snapshot.clear()


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples(response.get_data(as_text=True))


def samples(body: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def value(figures: dict, name: str, **labels) -> float | None:
    return figures.get((name, tuple(sorted(labels.items()))))


# ---------------------------------------------------------------- access

def test_metrics_refuse_everyone_without_a_configured_token(web_app):
    assert web_app.server.config["SCOPE_SETTINGS"].metrics_token is None
    response = web_app.server.test_client().get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 401
    assert "scope_" not in response.get_data(as_text=True)


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x",
                                    "Bearer"])
def test_metrics_refuse_a_missing_or_wrong_token(metrics_on, header):
    response = metrics_on.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "scope_http" not in response.get_data(as_text=True)


def test_a_signed_in_admin_without_the_token_is_refused_too(metrics_on, client_for, web_app):
    admin = client_for("admin")
    assert admin.get("/metrics").status_code == 401


def test_a_short_metrics_token_is_a_configuration_error():
    from config import ConfigError, Settings

    with pytest.raises(ConfigError, match="SCOPE_METRICS_TOKEN"):
        Settings(metrics_token="short").validate()


def test_metrics_prefix_does_not_open_other_paths(web_app):
    # Only /metrics itself authenticates on its own; a page below it still needs a sign-in.
    response = web_app.server.test_client().get("/metricsx")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---------------------------------------------------------------- request metrics

def test_requests_and_callbacks_are_counted_by_route_and_callback(metrics_on, client_for):
    before = scrape(metrics_on)
    for _ in range(3):
        assert metrics_on.get("/healthz").status_code == 200
    assert metrics_on.post("/_dash-update-component", json={"output": "x.children"}).status_code == 401
    adjuster = client_for("adjuster")
    status, _, _ = queue_rows(adjuster, "AUTO_PD", {"startRow": 0, "endRow": 50})
    assert status == 200
    after = scrape(metrics_on)

    def grew(name, **labels):
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert grew("scope_http_requests_total", method="GET", route="/healthz", status="200") == 3
    assert grew("scope_http_request_duration_seconds_count", method="GET", route="/healthz") == 3
    assert grew("scope_http_request_duration_seconds_bucket", method="GET", route="/healthz", le="+Inf") == 3
    # Refused by the guard before any callback ran: still counted, with its status.
    assert grew("scope_http_requests_total", method="POST", route="/_dash-update-component", status="401") == 1
    assert grew("scope_dash_callback_duration_seconds_count", callback="queue-grid.getRowsResponse +1") == 1
    assert grew("scope_dash_callback_duration_seconds_count", callback="unknown") == 1
    # The sum is real time, not a count.
    assert 0 < grew("scope_http_request_duration_seconds_sum", method="GET", route="/healthz") < 5


def test_a_signed_out_callback_request_is_refused_unread_whatever_its_size(metrics_on, monkeypatch):
    """The metrics hook read the body of requests the guard had refused unread: a signed-out
    request over the size limit answered 500, and one under it was parsed for nothing."""
    from flask import Request

    from app import MAX_REQUEST_BYTES

    big = b'{"output": "' + b"x" * (MAX_REQUEST_BYTES + 10) + b'"}'
    response = metrics_on.post("/_dash-update-component", data=big, content_type="application/json")
    assert response.status_code in (401, 413) and response.status_code != 500
    parsed = []
    real_get_json = Request.get_json
    monkeypatch.setattr(Request, "get_json", lambda self, *a, **k: parsed.append(1) or real_get_json(self, *a, **k))
    small = metrics_on.post("/_dash-update-component", json={"output": "x.children"})
    assert small.status_code == 401 and parsed == []


def test_labels_chosen_by_clients_stay_bounded(metrics_on):
    for method in ("FOO", "BAR-BAZ"):
        metrics_on.open("/healthz", method=method)
    metrics_on.get("/no/such/path/12345")
    figures = scrape(metrics_on)
    methods = {dict(labels).get("method") for name, labels in figures if name == "scope_http_requests_total"}
    routes = {dict(labels).get("route") for name, labels in figures if name == "scope_http_requests_total"}
    assert "other" in methods and not {"FOO", "BAR-BAZ"} & methods
    assert not any("12345" in route for route in routes)


def test_callback_labels_are_bounded_to_registered_callbacks():
    from api.metrics import callback_label

    registered = {"..a.children...b.data..": {}, "grid.rowData": {}}
    assert callback_label(registered, "..a.children...b.data..") == "a.children +1"
    assert callback_label(registered, "grid.rowData") == "grid.rowData"
    assert callback_label(registered, "made-up-by-a-client.children") == "unknown"
    assert callback_label(registered, {"not": "a string"}) == "unknown"
    assert callback_label(registered, None) == "unknown"


# ---------------------------------------------------------------- database gauges

def test_database_gauges_match_the_database(metrics_on, app_session, monkeypatch):
    from jobs.registry import JOBS
    from services import aggregates

    job = f"metrics_test_{time.time_ns()}"
    monkeypatch.setitem(JOBS, job, JOBS["purge_usage"])  # the endpoint reports the registry's jobs
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    def setup(session):
        aggregates.refresh(session)
        session.add_all([
            JobRun(job=job, slot="a", status="succeeded", started_at=now - dt.timedelta(minutes=10),
                   finished_at=now - dt.timedelta(minutes=9, seconds=30)),
            JobRun(job=job, slot="b", status="failed", started_at=now - dt.timedelta(minutes=5),
                   finished_at=now - dt.timedelta(minutes=4), error="boom"),
        ])

    app_session(setup)
    try:
        figures = scrape(metrics_on)

        def live(session):
            open_by_dept = dict(session.execute(
                select(Department.code, func.count()).join(Claim, Claim.department_id == Department.id)
                .where(Claim.status != "closed").group_by(Department.code)).all())
            champions = session.execute(select(ModelVersion.dataset, ModelVersion.version)
                                        .where(ModelVersion.status == "champion")).all()
            decisions = session.scalar(text("SELECT count(*) FROM routing_decisions "
                                            "WHERE decided_at > now() - interval '24 hours'"))
            fraud = session.scalar(text("SELECT count(*) FROM fraud_alerts WHERE status = 'open'"))
            cases = session.scalar(text("SELECT count(*) FROM siu_cases WHERE status = 'open'"))
            return open_by_dept, champions, decisions, fraud, cases

        open_by_dept, champions, decisions, fraud, cases = app_session(live)
        assert fraud > 0 and value(figures, "scope_fraud_alerts_open") == fraud
        assert cases > 0 and value(figures, "scope_siu_cases_open") == cases
        assert value(figures, "scope_database_up") == 1
        assert open_by_dept, "the web database has open claims"
        for code, n in open_by_dept.items():
            assert value(figures, "scope_claims_open", department=code) == n, code
        assert champions
        for dataset, version in champions:
            assert value(figures, "scope_model_champion_info", dataset=dataset, version=version) == 1
        assert value(figures, "scope_routing_decisions_24h") == decisions
        assert value(figures, "scope_job_last_success_timestamp_seconds", scheduled_job=job) == (
            now - dt.timedelta(minutes=9, seconds=30)).timestamp()
        assert value(figures, "scope_job_last_failure_timestamp_seconds", scheduled_job=job) == (
            now - dt.timedelta(minutes=4)).timestamp()
        assert value(figures, "scope_job_last_duration_seconds", scheduled_job=job) == 30
        for severity in ("critical", "warning", "info"):
            assert value(figures, "scope_alerts_open", severity=severity) is not None
    finally:
        app_session(lambda s: s.execute(delete(JobRun).where(JobRun.job == job)))


def test_product_targets_are_the_dashboard_figures_of_the_last_7_days(metrics_on, app_session):
    from services import aggregates

    figures = scrape(metrics_on)
    today = dt.datetime.now(dt.timezone.utc).date()
    kpis = app_session(lambda s: aggregates.kpis(s, aggregates.Filters(today - dt.timedelta(days=6), today)))
    for key, name in (("routing_accuracy", "scope_routing_accuracy_ratio_7d"),
                      ("reassignment_rate", "scope_reassignment_ratio_7d"),
                      ("agreement_rate", "scope_adjuster_agreement_ratio_7d")):
        expected = kpis[key]
        got = value(figures, name)
        assert (got is None) if expected is None else got == pytest.approx(expected), key
    assert value(figures, "scope_backlog_claims") == kpis["backlog"]


def test_a_database_failure_reports_down_and_keeps_the_request_metrics(metrics_on, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from services import metrics as metrics_service

    def broken(session, **_):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(metrics_service, "snapshot", broken)
    metrics_on.get("/healthz")
    figures = scrape(metrics_on)
    assert value(figures, "scope_database_up") == 0
    assert value(figures, "scope_http_requests_total", method="GET", route="/healthz", status="200") >= 1
    assert not any(name == "scope_claims_open" for name, _ in figures)


def test_no_exported_series_has_a_label_prometheus_sets_itself(metrics_on, app_session):
    """Prometheus sets "job" and "instance" on every scraped series and renames a clashing
    exported label to exported_job, so the alert rules would match nothing."""
    from services.metrics import RESERVED_LABELS

    slot = f"reserved-{time.time_ns()}"
    app_session(lambda session: session.add(JobRun(job="purge_usage", slot=slot, status="succeeded",
                                                   finished_at=dt.datetime.now(dt.UTC))))
    try:
        response = metrics_on.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        app_session(lambda s: s.execute(delete(JobRun).where(JobRun.slot == slot)))
    families = list(text_string_to_metric_families(response.get_data(as_text=True)))
    jobs = [s for f in families if f.name == "scope_job_last_success_timestamp_seconds" for s in f.samples]
    assert jobs and all("scheduled_job" in s.labels for s in jobs)
    for family in families:
        for sample in family.samples:
            assert not RESERVED_LABELS & set(sample.labels), (family.name, sample.labels)


def test_a_job_that_never_succeeded_still_raises_the_failing_alert():
    [rule] = [r for r in _rules() if r["alert"] == "ScopeJobFailing"]
    assert "unless" in rule["expr"] and "scheduled_job" in rule["expr"]
    assert "scheduled_job" in rule["annotations"]["summary"]


# ---------------------------------------------------------------- shipped alert rules

def _rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_every_alert_rule_parses_and_names_only_exported_series(metrics_on):
    import promql_parser

    from jobs.registry import JOBS

    response = metrics_on.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    # Families, with or without samples yet (a job that never failed has no failure time).
    exported = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    rules = _rules()
    assert len(rules) >= 10
    for rule in rules:
        promql_parser.parse(rule["expr"])  # raises on a syntax error
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        for name in set(re.findall(r"\bscope_[a-z0-9_]+", rule["expr"])):
            family = re.sub(r"_(bucket|count|sum|total)$", "", name)
            assert name in exported or family in exported, f"{rule['alert']} uses {name}, which /metrics does not export"
        for job in re.findall(r'\bscheduled_job="([a-z_]+)"', rule["expr"]):
            assert job in JOBS, f"{rule['alert']} watches unknown job {job}"
        # "job" is Prometheus's scrape job ("scope"): a scheduled job's name there never matches.
        for job in re.findall(r'(?<![a-z_])job="([a-z_]+)"', rule["expr"]):
            assert job == "scope", f"{rule['alert']} names job={job!r}; scheduled jobs are scheduled_job"
        assert not re.search(r"on\([^)]*(?<![a-z_])job\b", rule["expr"]), f"{rule['alert']} matches on job"
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    scrape_job = config["scrape_configs"][0]
    assert scrape_job["job_name"] == "scope" and scrape_job["metrics_path"] == "/metrics"
    assert scrape_job["authorization"]["type"] == "Bearer"


# ---------------------------------------------------------------- two gunicorn workers

def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=60) as response:  # nosec B310 - a local test server
        return response.status, response.read().decode()


def _workers(master: int, n: int, exclude: set[int] = frozenset(), timeout: float = 120) -> set[int]:
    """The master's worker pids once ``n`` of them (none in ``exclude``) are up and serving."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        pids = {int(pid) for pid in children}
        if len(pids) == n and not pids & set(exclude):
            time.sleep(3)  # a new worker imports the app before it accepts
            return pids
        time.sleep(0.5)
    pytest.fail(f"gunicorn did not bring up {n} new workers")


def test_two_gunicorn_workers_report_one_sum(web_database_url, tmp_path):
    """Under the shipped gunicorn config every scrape sees all workers' requests,
    whichever worker answers it, and counts from an earlier run are not added in."""
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_99999.db").write_bytes(b"left over from an earlier run")
    env = dict(os.environ, DATABASE_URL=web_database_url, SCOPE_METRICS_TOKEN=TOKEN, SCOPE_LOG_LEVEL="WARNING",
               PROMETHEUS_MULTIPROC_DIR=str(multiproc))
    proc, base = gunicorn_util.start(["-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "-w", "2"], env, tmp_path)
    try:
        first = _workers(proc.pid, 2)
        before = value(samples(_get(base + "/metrics", TOKEN)[1]), "scope_http_requests_total",
                       method="GET", route="/healthz", status="200")
        for _ in range(20):
            assert _get(base + "/healthz")[0] == 200
        # Replace both workers: the next requests are served by new processes, so the
        # counts now sit in the files of at least two processes, one of them gone.
        for pid in first:
            os.kill(pid, signal.SIGTERM)
        second = _workers(proc.pid, 2, exclude=first)
        for _ in range(20):
            assert _get(base + "/healthz")[0] == 200
        files = {p.name for p in multiproc.glob("counter_*.db")}
        assert "counter_99999.db" not in files, "the stale file of an earlier run was not cleared"
        assert len(files) >= 2, files
        for _ in range(6):  # scrapes land on either new worker
            figures = samples(_get(base + "/metrics", TOKEN)[1])
            assert value(figures, "scope_http_requests_total", method="GET", route="/healthz",
                         status="200") == before + 40
        assert second.isdisjoint(first)
    finally:
        gunicorn_util.stop(proc)
