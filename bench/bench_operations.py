"""Operations page at scale: rollup refresh time and the latency of every interaction.

Loads N synthetic claims into a scratch database (dropped at the end), places the
open ones, writes one synthetic routing decision per claim, manual moves for the
misrouted closed claims and verdicts on a third of the decisions (set-based SQL,
marked with a "bench" model version: no model is trained), then
- times ``services.aggregates.refresh`` (kpi rollups + operations rollups),
- times the Operations page's render callback through the Flask test client as a
  logged-in manager, for a set of filter combinations, uncached and cached.

    .venv/bin/python bench/bench_operations.py --claims 1000000
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from tests import dbutil  # noqa: E402

DECISIONS = """
INSERT INTO routing_decisions (claim_id, model_version_id, predicted_department_id, routed_department_id,
    probabilities, confidence, threshold, features, shap_values, shap_method, drivers, decided_at)
SELECT c.id, :mv, p.pred, CASE WHEN p.conf < 0.5 THEN :triage ELSE p.pred END, '{}', p.conf, 0.5, '{}', '{}',
       'approx', '[]', coalesce(c.report_date, c.created_at::date) + time '10:00'
FROM claims c
CROSS JOIN LATERAL (SELECT (hashtext(c.claim_number) & 1023) / 1023.0 AS h1,
                           (hashtext(c.claim_number || '-c') & 1023) / 1023.0 AS h2) h
CROSS JOIN LATERAL (SELECT CASE WHEN h.h1 < 0.9 THEN c.department_id
                                ELSE (CAST(:depts AS int[]))[1 + (floor(h.h1 * 1000)::int % :ndepts)] END AS pred,
                           0.3 + 0.7 * sqrt(h.h2) AS conf) p
WHERE c.department_id IS NOT NULL
"""
MOVES = """
INSERT INTO claim_events (claim_id, kind, at, from_department_id, to_department_id, reason, from_status, to_status)
SELECT d.claim_id, 'moved', d.decided_at + interval '1 day', d.routed_department_id, c.department_id,
       'MISROUTED', 'new', 'new'
FROM routing_decisions d JOIN claims c ON c.id = d.claim_id
WHERE c.status = 'closed' AND d.routed_department_id <> c.department_id
"""
FEEDBACK = """
INSERT INTO routing_feedback (claim_id, decision_id, user_id, agrees, reason_code, suggested_department_id,
                              created_at)
SELECT d.claim_id, d.id, (CAST(:users AS int[]))[1 + (d.id % :nusers)], d.predicted_department_id = c.department_id,
       CASE WHEN d.predicted_department_id <> c.department_id THEN 'WRONG_DEPARTMENT' END,
       CASE WHEN d.predicted_department_id <> c.department_id THEN c.department_id END,
       d.decided_at + interval '2 hours'
FROM routing_decisions d JOIN claims c ON c.id = d.claim_id
WHERE d.id % 3 = 0
"""


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def populate(engine, factory, claims: int) -> None:
    """N demo claims with the team, open claims placed and assigned, one synthetic decision
    per claim, manual moves of the misrouted closed ones and verdicts on a third (no model
    is trained: a "bench" model version marks the decisions)."""
    from jobs.bootstrap import ensure_demo_users
    from services.demo_data import load_demo_data
    from services.demo_team import assign_open_claims, ensure_team
    from services.departments import ensure_standard_departments

    t = time.perf_counter()
    with factory.begin() as s:
        ensure_standard_departments(s)
        ensure_demo_users(s)
        load_demo_data(s, claims, 42)
    print(f"loaded {claims:,} claims in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    with factory.begin() as s:
        s.execute(text("UPDATE claims c SET department_id = d.id FROM departments d "
                       "WHERE c.status <> 'closed' AND d.code = c.extra->>'true_department'"))
        ensure_team(s)
        assign_open_claims(s)
        mv = s.execute(text("INSERT INTO model_versions (dataset, version, status, params, feature_schema, "
                            "classes, metrics, n_train, n_holdout, artifact) VALUES ('synthetic', "
                            "'bench-synthetic-decisions', 'retired', '{\"bench\": true}', '{}', '[]', '{}', "
                            "0, 0, '') RETURNING id")).scalar()
        depts = list(s.execute(text("SELECT id FROM departments WHERE NOT is_triage ORDER BY id")).scalars())
        triage = s.execute(text("SELECT id FROM departments WHERE is_triage LIMIT 1")).scalar()
        users = list(s.execute(text("SELECT id FROM users WHERE role = 'adjuster' ORDER BY id")).scalars())
        n = s.execute(text(DECISIONS), {"mv": mv, "triage": triage, "depts": depts, "ndepts": len(depts)}).rowcount
        # as routing does: the claim keeps its latest decision's confidence (queues, Overview)
        s.execute(text("UPDATE claims c SET routing_confidence = d.confidence FROM routing_decisions d "
                       "WHERE d.claim_id = c.id"))
        m = s.execute(text(MOVES)).rowcount
        v = s.execute(text(FEEDBACK), {"users": users, "nusers": len(users)}).rowcount
    print(f"history: {n:,} decisions, {m:,} moves, {v:,} verdicts in {time.perf_counter() - t:.0f} s",
          flush=True)
    with engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the filter combinations")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    from config import Settings
    from db.session import make_engine, make_session_factory, normalise_url
    from services import aggregates

    url, admin = dbutil.create_database("scope_bench_ops")
    print(f"database {url}", flush=True)
    try:
        dbutil.upgrade(url)
        engine = make_engine(normalise_url(url))
        factory = make_session_factory(engine)
        populate(engine, factory, args.claims)

        refresh_times = []
        for _ in range(2):
            t = time.perf_counter()
            with factory.begin() as s:
                rows = aggregates.refresh(s)
            refresh_times.append(time.perf_counter() - t)
        print(f"refresh (kpi + operations rollups): {rows:,} rows, "
              f"{', '.join(f'{x:.1f}' for x in refresh_times)} s", flush=True)
        with factory() as s:
            sizes = {t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                     for t in ("kpi_daily", "ops_routing_daily", "ops_moves_daily", "ops_feedback_daily",
                               "ops_open_claims")}
            end = s.execute(text("SELECT max(day) FROM kpi_daily")).scalar()
        print("rollup rows: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()), flush=True)

        from app import create_app, settle_heap
        from tests.conftest import login
        from tests.integration.test_operations_web import _render

        os.environ.pop("REDIS_URL", None)
        app = create_app(Settings(database_url=url, secret_key="bench-secret-key-" + "x" * 32))
        settle_heap()  # as app:server does in each gunicorn worker
        client = app.server.test_client()
        client.get("/healthz")
        assert login(client, "manager@scope.example", "scope-demo-manager").status_code == 302
        searches = []
        for days in (30, 90, 180, 365):
            start = (end - dt.timedelta(days=days - 1)).isoformat()
            for dept in ("", "&department=PROPERTY", "&department=AUTO_PD", "&department=SIU"):
                searches.append(f"?start={start}&end={end}{dept}")
        from services import cache

        timings = {"uncached": [], "cached": []}
        for _ in range(args.rounds):
            cache.get_cache().clear()
            for search in searches:
                t = time.perf_counter()
                status, _ = _render(client, search)
                timings["uncached"].append((time.perf_counter() - t) * 1000)
                assert status == 200, status
            for search in searches:
                t = time.perf_counter()
                _render(client, search)
                timings["cached"].append((time.perf_counter() - t) * 1000)
        for kind, values in timings.items():
            print(f"render callback {kind}: n={len(values)} p50 {statistics.median(values):.0f} ms, "
                  f"p95 {_p(values, 0.95):.0f} ms, max {max(values):.0f} ms", flush=True)
        engine.dispose()
    finally:
        if not args.keep:
            dbutil.drop_database(url, admin)
            print("dropped the scratch database", flush=True)


if __name__ == "__main__":
    main()
