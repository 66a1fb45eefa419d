"""Prometheus metrics at ``/metrics``.

Two kinds of figures:
* this web server's requests: counts by route template and status, and timings
  (every HTTP request, and every Dash callback by the callback it ran). Under
  gunicorn, ``deploy/gunicorn.conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` so the
  worker processes' counts are summed, whichever worker answers the scrape;
* the database-backed gauges of ``services.metrics`` (jobs, champion models,
  routing, open claims, the product targets, open alerts), cached a few seconds
  so several scrapers do not multiply the queries.

Only a scraper presenting ``SCOPE_METRICS_TOKEN`` as a bearer token may read them
(the figures include claim volumes and model versions); without that setting the
endpoint refuses everyone.
"""
from __future__ import annotations

import hmac
import logging
import os
import threading
import time

from flask import Blueprint, Response, current_app, g, jsonify, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               disable_created_metrics, generate_latest)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import SQLAlchemyError

from db.flask_db import read_session
from jobs.registry import JOBS
from services import metrics as metrics_service

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
PATH = "/metrics"
SNAPSHOT_TTL_S = 10.0
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Up to the 500 ms p95 target in fine steps, then the slow tail.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)

disable_created_metrics()  # "_created" series only add noise to counters read as rates
REQUESTS = Counter("scope_http_requests", "HTTP requests answered, by route template and status code.",
                   ["method", "route", "status"])
LATENCY = Histogram("scope_http_request_duration_seconds",
                    "Time to answer an HTTP request, by route template (Dash callbacks are one route: "
                    "see scope_dash_callback_duration_seconds).", ["method", "route"], buckets=BUCKETS)
CALLBACKS = Histogram("scope_dash_callback_duration_seconds",
                      "Time to answer a Dash callback, by its first output (+N more outputs); "
                      "'unknown' for a request naming no registered callback.", ["callback"], buckets=BUCKETS)


def callback_label(callback_map: dict, output) -> str:
    """A bounded label: only registered callbacks get their own series."""
    if not isinstance(output, str) or output not in callback_map:
        return "unknown"
    parts = output.strip(".").split("...")
    return parts[0] if len(parts) == 1 else f"{parts[0]} +{len(parts) - 1}"


def install(server, dash_app) -> None:
    server.register_blueprint(bp)

    def _start():
        g.scope_started = time.perf_counter()

    # First of all before-request hooks: a request refused by the guard is timed too.
    server.before_request_funcs.setdefault(None, []).insert(0, _start)

    @server.after_request
    def _observe(response):
        started = g.pop("scope_started", None)
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        # A client picks the method string: only known ones get their own series.
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(method, route, str(response.status_code)).inc()
        LATENCY.labels(method, route).observe(elapsed)
        # The output as the guard read it (auth.guard), never the body read here: a request refused
        # unread (signed out, over the size limit) would have its body parsed after the refusal, up to
        # 32 MB for anyone, and one over the limit answered 500 instead of its 401.
        if route == "/_dash-update-component":
            output = g.get("scope_callback_output")
            CALLBACKS.labels(callback_label(dash_app.callback_map, output)).observe(elapsed)
        return response


class _Snapshot:
    """The database gauges of services.metrics, at most SNAPSHOT_TTL_S old."""

    def __init__(self):
        self._lock = threading.Lock()
        self._at = -1e9
        self._families: list[metrics_service.Family] = []
        self._db_up = 0.0

    def clear(self) -> None:
        with self._lock:
            self._at = -1e9

    def read(self) -> tuple[float, list[metrics_service.Family]]:
        with self._lock:
            if time.monotonic() - self._at >= SNAPSHOT_TTL_S:
                session = read_session()
                try:
                    self._families, self._db_up = metrics_service.snapshot(session, jobs=list(JOBS)), 1.0
                except SQLAlchemyError:
                    log.exception("metrics: could not read the database")
                    self._families, self._db_up = [], 0.0
                finally:
                    session.rollback()
                self._at = time.monotonic()
            return self._db_up, self._families


_snapshot = _Snapshot()


class _DatabaseCollector:
    def collect(self):
        db_up, families = _snapshot.read()
        up = GaugeMetricFamily("scope_database_up", "1 when SCOPE could read its database at the last look.")
        up.add_metric([], db_up)
        yield up
        for family in families:
            gauge = GaugeMetricFamily(family.name, family.help, labels=list(family.labels))
            for labels, value in family.samples:
                gauge.add_metric(list(labels), value)
            yield gauge


def _process_registry():
    """This process's request metrics, or every worker's under gunicorn."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _authorised() -> bool:
    token = current_app.config["SCOPE_SETTINGS"].metrics_token
    given = request.headers.get("Authorization", "")
    scheme, _, credentials = given.partition(" ")
    return (scheme.lower() == "bearer"
            and hmac.compare_digest(credentials.strip().encode(), token.encode()))


@bp.get(PATH)
def metrics():
    if not current_app.config["SCOPE_SETTINGS"].metrics_token or not _authorised():
        # Unconfigured or not: the same answer, so a probe learns nothing either way.
        response = jsonify(error="a valid bearer token (SCOPE_METRICS_TOKEN) is required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    database = CollectorRegistry(auto_describe=False)
    database.register(_DatabaseCollector())
    body = generate_latest(_process_registry()) + generate_latest(database)
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
