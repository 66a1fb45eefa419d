"""Monitoring at scale: the cost of a Prometheus scrape and of counting each request.

Loads N synthetic claims into a scratch database (dropped at the end) with one
synthetic routing decision per claim (bench_operations' set-based SQL), about 2,000 more
decisions in the last 24 hours, and a year of job-run history at the
scheduler's cadence; then times
- ``services.metrics.snapshot`` (every database gauge, uncached),
- ``GET /metrics`` through the Flask test client, uncached and cached, against
  ``GET /healthz`` on the same client (the peer: a request that does nothing),
- the per-request bookkeeping (one counter + one histogram observation) in
  gunicorn's multi-process mode (files under PROMETHEUS_MULTIPROC_DIR) and in one process.

    .venv/bin/python bench/bench_metrics.py --claims 1000000
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.bench_operations import DECISIONS, _p  # noqa: E402
from tests import dbutil  # noqa: E402

JOB_HISTORY = """
INSERT INTO job_runs (job, slot, status, started_at, finished_at, rows)
SELECT j.job, 'bench-' || to_char(t, 'YYYYMMDDHH24MI'), CASE WHEN random() < 0.001 THEN 'failed' ELSE 'succeeded' END,
       t, t + interval '1 second', 0
FROM (VALUES ('route_unscored', 2), ('refresh_aggregates', 5), ('evaluate_alerts', 5)) AS j(job, minutes)
CROSS JOIN LATERAL generate_series(now() - interval '365 days', now(), j.minutes * interval '1 minute') AS t
"""
# Decisions are append-only: the last day's are re-decisions of a sample of claims.
RECENT = """
INSERT INTO routing_decisions (claim_id, model_version_id, predicted_department_id, routed_department_id,
    probabilities, confidence, threshold, features, shap_values, shap_method, drivers, decided_at)
SELECT claim_id, model_version_id, predicted_department_id, routed_department_id, probabilities, confidence,
       threshold, features, shap_values, shap_method, drivers, now() - (id % 1440) * interval '1 minute'
FROM routing_decisions WHERE id % :every = 0
"""
TOKEN = "bench-metrics-token-0123456789"

BOOKKEEPING = r"""
import os, sys, time
from prometheus_client import Counter, Histogram
c = Counter("bench_requests", "x", ["method", "route", "status"])
h = Histogram("bench_seconds", "x", ["method", "route"], buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1.0))
n = int(sys.argv[1])
t = time.perf_counter()
for i in range(n):
    c.labels("GET", "/_dash-update-component", "200").inc()
    h.labels("GET", "/_dash-update-component").observe(0.042)
print((time.perf_counter() - t) / n * 1e6)
"""


def _stats(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.1f} ms, p95 {_p(values, 0.95):.1f} ms, max {max(values):.1f} ms"


def bookkeeping_us(n: int, multiprocess: bool) -> float:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with tempfile.TemporaryDirectory() as folder:
        if multiprocess:
            env["PROMETHEUS_MULTIPROC_DIR"] = folder
        out = subprocess.run([sys.executable, "-c", BOOKKEEPING, str(n)], env=env, capture_output=True,
                             text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--recent", type=int, default=2_000, help="decisions stored in the last 24 hours")
    args = parser.parse_args()

    from config import Settings
    from db.session import make_engine, make_session_factory, normalise_url
    from jobs.bootstrap import ensure_demo_users
    from services import aggregates
    from services import metrics as metrics_service
    from services.demo_data import load_demo_data
    from services.departments import ensure_standard_departments

    for kind in ("multi-process (gunicorn)", "one process"):
        us = bookkeeping_us(200_000, kind.startswith("multi"))
        print(f"per-request bookkeeping, {kind}: {us:.2f} µs", flush=True)

    url, admin = dbutil.create_database("scope_bench_metrics")
    print(f"database {url}", flush=True)
    try:
        dbutil.upgrade(url)
        engine = make_engine(normalise_url(url))
        factory = make_session_factory(engine)
        t = time.perf_counter()
        with factory.begin() as s:
            ensure_standard_departments(s)
            ensure_demo_users(s)
            load_demo_data(s, args.claims, 42)
            s.execute(text("UPDATE claims c SET department_id = d.id FROM departments d "
                           "WHERE c.status <> 'closed' AND d.code = c.extra->>'true_department'"))
            mv = s.execute(text("INSERT INTO model_versions (dataset, version, status, params, feature_schema, "
                                "classes, metrics, n_train, n_holdout, artifact) VALUES ('synthetic', "
                                "'bench-metrics', 'champion', '{}', '{}', '[]', '{\"accuracy\": 0.93}', "
                                "0, 0, '') RETURNING id")).scalar()
            depts = list(s.execute(text("SELECT id FROM departments WHERE NOT is_triage ORDER BY id")).scalars())
            triage = s.execute(text("SELECT id FROM departments WHERE is_triage LIMIT 1")).scalar()
            n = s.execute(text(DECISIONS), {"mv": mv, "triage": triage, "depts": depts,
                                            "ndepts": len(depts)}).rowcount
            s.execute(text(RECENT), {"every": max(1, n // args.recent)})
            jobs = s.execute(text(JOB_HISTORY)).rowcount
        print(f"loaded {args.claims:,} claims, {n:,} decisions, {jobs:,} job runs in "
              f"{time.perf_counter() - t:.0f} s", flush=True)
        with engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        with factory.begin() as s:
            aggregates.refresh(s)

        snapshot = []
        with factory() as s:
            for _ in range(args.rounds):
                t = time.perf_counter()
                families = metrics_service.snapshot(s)
                snapshot.append((time.perf_counter() - t) * 1000)
        print(f"snapshot (every database gauge), {len(families)} families: {_stats(snapshot)}", flush=True)

        from api import metrics as metrics_web
        from app import create_app, settle_heap

        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        app = create_app(Settings(database_url=url, secret_key="bench-secret-key-" + "x" * 32,
                                  metrics_token=TOKEN))
        settle_heap()
        client = app.server.test_client()
        client.get("/healthz")
        timings: dict[str, list[float]] = {"GET /healthz (peer)": [], "GET /metrics uncached": [],
                                           "GET /metrics cached": []}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for _ in range(args.rounds):
            t = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            timings["GET /healthz (peer)"].append((time.perf_counter() - t) * 1000)
            metrics_web._snapshot.clear()
            t = time.perf_counter()
            response = client.get("/metrics", headers=headers)
            timings["GET /metrics uncached"].append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200
            t = time.perf_counter()
            client.get("/metrics", headers=headers)
            timings["GET /metrics cached"].append((time.perf_counter() - t) * 1000)
        for kind, values in timings.items():
            print(f"{kind}: n={len(values)} {_stats(values)}", flush=True)
        print(f"exposition size: {len(response.data):,} bytes", flush=True)
        engine.dispose()
    finally:
        dbutil.drop_database(url, admin)
        print("dropped the scratch database", flush=True)


if __name__ == "__main__":
    main()
