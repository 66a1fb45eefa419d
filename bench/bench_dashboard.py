"""Executive dashboard speed over 1,000,000 claims and two years of history.

    .venv/bin/python bench/bench_dashboard.py                  # scratch DB, dropped after
    .venv/bin/python bench/bench_dashboard.py --keep           # keep it; then --url URL to re-measure

Creates a scratch database, loads synthetic claims with services.demo_data (COPY),
places the open claims in departments (one SQL UPDATE, as bench_queues does),
refreshes the KPI rollups, runs VACUUM ANALYZE, then times every dashboard
interaction through the real Flask test client (the same HTTP requests the
browser sends: page layout, the render callback for each filter change, each
drill-down, each export), once with the cache off and once with it on.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text  # noqa: E402

from db.models import Claim  # noqa: E402
from db.session import make_engine, make_session_factory, normalise_url  # noqa: E402
from tests import dbutil  # noqa: E402


def prepare(factory, engine, n_claims: int, say) -> None:
    from services import aggregates
    from services.demo_data import load_demo_data

    with factory.begin() as session:
        has = session.scalar(select(func.count()).select_from(select(Claim.id).limit(1).subquery()))
        if has:
            say("claims already loaded; skipping the load")
            return
        t = time.perf_counter()
        load_demo_data(session, n_claims, 42)
        say(f"loaded {n_claims:,} claims in {time.perf_counter() - t:.0f} s")
    with factory.begin() as session:
        t = time.perf_counter()
        # Open claims in their true department (10 % in triage), as the router would leave them.
        session.execute(text("""
            UPDATE claims c SET department_id = CASE WHEN hashint4(c.id::int) % 10 = 0
                   THEN (SELECT id FROM departments WHERE is_triage LIMIT 1) ELSE d.id END
            FROM departments d WHERE d.code = c.extra->>'true_department' AND c.status <> 'closed'
        """))
        say(f"placed open claims in {time.perf_counter() - t:.0f} s")
    with factory.begin() as session:
        t = time.perf_counter()
        rows = aggregates.refresh(session)
        say(f"refreshed the rollups ({rows:,} rows) in {time.perf_counter() - t:.1f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        t = time.perf_counter()
        conn.execute(text("VACUUM ANALYZE"))
        say(f"VACUUM ANALYZE in {time.perf_counter() - t:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=20, help="timed calls per interaction")
    parser.add_argument("--url", help="reuse this database instead of a scratch one")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--modes", default="off,memory,redis", help="cache modes to measure")
    args = parser.parse_args()
    say = lambda *a: print(*a, flush=True)  # noqa: E731

    url, admin = (args.url, None) if args.url else dbutil.create_database("scope_bench_dashboard")
    if not args.url:
        dbutil.upgrade(url)
        say(f"scratch database {url}")
    engine = make_engine(normalise_url(url))
    factory = make_session_factory(engine)
    try:
        prepare(factory, engine, args.claims, say)
        if not args.prepare_only:
            measure(url, args.calls, say, tuple(args.modes.split(",")))
    finally:
        engine.dispose()
        if admin and not args.keep:
            dbutil.drop_database(url, admin)
            say("scratch database dropped")


BENCH_EMAIL = "bench.viewer@scope.example"
BENCH_PASSWORD = "bench-password-123"
RENDER = [("dashboard-status", "children"), ("dashboard-cards", "children"), ("dashboard-trend", "figure"),
          ("dashboard-departments", "figure"), ("dashboard-lines", "figure"), ("dashboard-regions", "figure"),
          ("dashboard-table", "children")]
DRILL = [("dashboard-drill", "is_open"), ("dashboard-drill-title", "children"),
         ("dashboard-drill-body", "children"), ("dashboard-drill-pager", "children"),
         ("dashboard-drill-spec", "data"), ("dashboard-drill-page", "data"), ("dashboard-drill-prev", "disabled"),
         ("dashboard-drill-next", "disabled"), ("dashboard-drill-export-status", "children")]
CHARTS = ("dashboard-trend", "dashboard-departments", "dashboard-lines", "dashboard-regions")
EXPORTS = ("dashboard-export-csv", "dashboard-export-xlsx", "dashboard-drill-csv", "dashboard-drill-xlsx")


def _body(outputs, key, inputs, state, changed):
    return {"output": key or (".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."),
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "state": [{"id": i, "property": p, "value": v} for i, p, v in state], "changedPropIds": [changed]}


def interactions(session, export_key):
    """(name, request body or page) for every dashboard interaction, from this database's values."""
    from services import aggregates, dashboard

    f, opts = dashboard.parse(session, {})
    dept = max((r for r in aggregates.breakdown(session, f, "department") if r.key), key=lambda r: r.received).key
    line = opts["lines"][0]
    region = opts["regions"][0]
    year_start = (f.end - dt.timedelta(days=364)).isoformat()
    month_start = (f.end - dt.timedelta(days=29)).isoformat()
    day = (f.end - dt.timedelta(days=3)).isoformat()
    year = aggregates.parse_filters(session, {"start": year_start, "end": f.end.isoformat()})
    week = aggregates.series(session, year)["periods"][-5].isoformat()

    def render(search):
        return _body(RENDER, None, [("dashboard-url", "search", search)], [], "dashboard-url.search")

    def drill(chart, value, search="", page=None, curve=0):
        trigger = chart if page is None else "dashboard-drill-next"
        click = {"points": [{"customdata": value, "curveNumber": curve}]}
        inputs = [(g, "clickData", click if g == chart and page is None else None) for g in CHARTS]
        inputs += [("dashboard-drill-prev", "n_clicks", None), ("dashboard-drill-next", "n_clicks", page and 1)]
        spec = {"dimension": {"dashboard-trend": "period", "dashboard-departments": "department",
                              "dashboard-lines": "line", "dashboard-regions": "region"}[chart], "value": value}
        state = [("dashboard-url", "search", search), ("dashboard-drill-spec", "data", spec),
                 ("dashboard-drill-page", "data", (page or 1) - 1)]
        prop = "clickData" if page is None else "n_clicks"
        return _body(DRILL, None, inputs, state, f"{trigger}.{prop}")

    def export(button, search="", spec=None):
        outputs = [("dashboard-download", "data"), ("dashboard-export-status", "children"),
                   ("dashboard-drill-export-status", "children")]
        inputs = [(b, "n_clicks", 1 if b == button else None) for b in EXPORTS]
        state = [("dashboard-url", "search", search), ("dashboard-drill-spec", "data", spec)]
        return _body(outputs, export_key, inputs, state, f"{button}.n_clicks")

    yearly = f"?start={year_start}&end={f.end.isoformat()}"
    return [
        ("initial load: page layout", ("page", "/dashboard", "")),
        ("initial load: figures (default 90 days)", render("")),
        ("filter: department", render(f"?department={dept}")),
        ("filter: line of business", render(f"?line={line}")),
        ("filter: department + line", render(f"?department={dept}&line={line}")),
        ("filter: last 30 days", render(f"?start={month_start}&end={f.end.isoformat()}")),
        ("filter: one year (weekly)", render(yearly)),
        ("filter: one year + department", render(f"{yearly}&department={dept}")),
        ("drill: a day of the time series", drill("dashboard-trend", day)),
        ("drill: a week (one-year view)", drill("dashboard-trend", week, yearly)),
        ("drill: a day of the Closed line", drill("dashboard-trend", day, curve=1)),
        ("drill: a week of the Closed line (one year)", drill("dashboard-trend", week, yearly, curve=1)),
        ("drill: department bar", drill("dashboard-departments", dept)),
        ("drill: line of business bar", drill("dashboard-lines", line)),
        ("drill: region bar", drill("dashboard-regions", region)),
        ("drill: region bar, one year", drill("dashboard-regions", region, yearly)),
        ("drill: next page (page 2)", drill("dashboard-departments", dept, page=1)),
        ("drill: deep page (page 40)", drill("dashboard-departments", dept, page=39)),
        ("export: breakdowns CSV", export("dashboard-export-csv")),
        ("export: breakdowns Excel", export("dashboard-export-xlsx")),
        ("export: drill list of a day, CSV", export("dashboard-drill-csv",
                                                    spec={"dimension": "period", "value": day})),
        ("export: drill list of a day, Excel", export("dashboard-drill-xlsx",
                                                      spec={"dimension": "period", "value": day})),
        ("export: claims closed on a day, Excel", export("dashboard-drill-xlsx", spec={
            "dimension": "period", "value": day, "measure": "closed"})),
        ("printable report", ("page", "/dashboard/report", "")),
    ]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def measure(url: str, calls: int, say, modes=("off", "memory", "redis")) -> None:
    from app import create_app, settle_heap
    from config import Settings
    from db.flask_db import read_session
    from services import cache
    from services.users import create_user
    from tests.conftest import login
    from tests.webutil import render_page

    app = create_app(Settings(database_url=url, secret_key="bench-secret-key-" + "x" * 32, log_level="WARNING"))
    settle_heap()  # as app:server does in each gunicorn worker
    server = app.server
    server.test_client().get("/healthz")
    with server.app_context():
        from db.flask_db import unit_of_work
        from db.models import User

        with unit_of_work() as session:
            if session.scalar(select(User.id).where(User.email == BENCH_EMAIL)) is None:
                create_user(session, email=BENCH_EMAIL, role="viewer", password=BENCH_PASSWORD,
                            name="Bench Viewer", department_codes=[], actor="bench")
    client = server.test_client()
    response = login(client, BENCH_EMAIL, BENCH_PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    export_key = next(k for k in app.callback_map if "dashboard-download.data" in k)
    with server.app_context():
        steps = interactions(read_session(), export_key)

    results: dict[str, dict[str, tuple]] = {}
    for mode in modes:
        if mode == "redis":
            import redis

            redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
            try:
                redis.Redis.from_url(redis_url, socket_connect_timeout=0.5).ping()
            except redis.RedisError:
                say(f"Redis not reachable at {redis_url}: skipping the redis run")
                continue
            backend = cache.RedisCache(redis_url, prefix=f"scope-bench-{os.getpid()}:")
        else:
            backend = cache.build(None, mode)
        backend.clear()
        cache.set_cache(backend)
        say(f"\ncache: {backend.backend}")
        for name, spec in steps:
            times = []
            for i in range(calls + 1):
                t = time.perf_counter()
                if isinstance(spec, tuple):
                    status, body = render_page(client, spec[1], spec[2])
                else:
                    r = client.post("/_dash-update-component", json=spec)
                    status, body = r.status_code, r.get_data(as_text=True)
                elapsed = (time.perf_counter() - t) * 1000
                if status != 200 or "Invalid filter" in body or re.search(r'"color": ?"(danger|warning)"', body):
                    raise SystemExit(f"{name}: HTTP {status} {body[:300]}")
                if i:  # the first call warms the connection (and, with a cache, fills it)
                    times.append(elapsed)
            results.setdefault(name, {})[backend.backend] = (statistics.median(times), pct(times, 0.95), max(times))
            say(f"  {name:40} p50 {statistics.median(times):7.1f}  p95 {pct(times, 0.95):7.1f}  "
                f"max {max(times):7.1f} ms")
        backend.clear()
    cache.set_cache(None)

    used = [m for m in ("off", "memory", "redis") if any(m in r for r in results.values())]
    say("\n| interaction | " + " | ".join(f"p95 ms, cache {m}" for m in used) + " |")
    say("|---|" + "---:|" * len(used))
    for name, per in results.items():
        say(f"| {name} | " + " | ".join(f"{per[m][1]:.0f}" if m in per else "" for m in used) + " |")


if __name__ == "__main__":
    main()
