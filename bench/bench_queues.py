"""Queue and "My work" speed over a large claims table, and the REST API's queue paging.

    .venv/bin/python bench/bench_queues.py [--claims 1000000] [--calls 300] [--url URL --keep]

Creates a scratch database (or reuses --url), loads synthetic claims with
services.demo_data, places the open ones in departments with realistic routing
confidence, statuses and adjuster assignments (one SQL UPDATE: this is a
bench, not app code), runs VACUUM ANALYZE, then times the queue service
(services.queues) for realistic page / filter / sort combinations.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text  # noqa: E402

from auth.current import SessionUser  # noqa: E402
from db.models import Claim, Department, User  # noqa: E402
from db.session import make_engine, make_session_factory, normalise_url  # noqa: E402
from services.queues import (MAX_OFFSET, QueueFilters, department_queue, my_work, parse_filters,  # noqa: E402
                            seek_queue)
from tests import dbutil  # noqa: E402

ADJUSTERS_PER_DEPT = 6


def prepare(factory, engine, n_claims: int, say) -> None:
    from services.demo_data import load_demo_data
    from services.users import create_user

    with factory.begin() as session:
        has = session.scalar(select(func.count()).select_from(select(Claim.id).limit(1).subquery()))
        if has:
            say("claims already loaded; skipping the load")
            return
        t = time.perf_counter()
        load_demo_data(session, n_claims, 42)
        say(f"loaded {n_claims:,} claims in {time.perf_counter() - t:.0f} s")
    with factory.begin() as session:
        for dept in session.scalars(select(Department)):
            for i in range(ADJUSTERS_PER_DEPT):
                create_user(session, email=f"bench.{dept.code.lower()}{i}@scope.example", role="adjuster",
                            password="bench-password-123", name=f"Bench {dept.code} {i}",
                            department_codes=[dept.code], actor="bench")
    with factory.begin() as session:
        t = time.perf_counter()
        # Open claims: routed to their true department (10 % to triage), a
        # confidence skewed high like a decent model's, a status mix, and
        # about half assigned round-robin to the department's adjusters.
        session.execute(text("""
            WITH team AS (
                SELECT ud.department_id, array_agg(u.id ORDER BY u.id) AS ids
                FROM user_departments ud JOIN users u ON u.id = ud.user_id
                WHERE u.email LIKE 'bench.%' GROUP BY ud.department_id
            ), placed AS (
                SELECT c.id,
                       CASE WHEN hashint4(c.id::int) % 10 = 0 THEN (SELECT id FROM departments WHERE is_triage LIMIT 1)
                            ELSE d.id END AS dept_id,
                       0.35 + 0.65 * power(((hashint4(c.id::int * 7) & 65535) / 65535.0), 0.45) AS conf,
                       abs(hashint4(c.id::int * 13)) % 100 AS r
                FROM claims c JOIN departments d ON d.code = c.extra->>'true_department'
                WHERE c.status = 'new'
            )
            UPDATE claims c SET department_id = p.dept_id, routing_confidence = p.conf,
                   status = CASE WHEN p.r < 50 THEN 'new' WHEN p.r < 80 THEN 'assigned'
                                 WHEN p.r < 92 THEN 'in_review' ELSE 'awaiting_info' END,
                   adjuster_id = CASE WHEN p.r < 50 THEN NULL
                                      ELSE t.ids[1 + (c.id % array_length(t.ids, 1))] END
            FROM placed p LEFT JOIN team t ON t.department_id = p.dept_id
            WHERE c.id = p.id
        """))
        say(f"placed open claims in {time.perf_counter() - t:.0f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        t = time.perf_counter()
        conn.execute(text("VACUUM ANALYZE claims"))
        say(f"VACUUM ANALYZE in {time.perf_counter() - t:.0f} s")


def scenarios(session) -> list[tuple[str, dict]]:
    """(name, call spec) combinations an adjuster or manager actually uses."""
    big = session.execute(text(
        "SELECT d.code, count(*) FROM claims c JOIN departments d ON d.id = c.department_id "
        "WHERE c.status <> 'closed' GROUP BY d.code ORDER BY 2 DESC LIMIT 1")).one()
    code = big[0]
    sample = session.execute(text(
        "SELECT claim_number, line_of_business FROM claims c JOIN departments d ON d.id = c.department_id "
        "WHERE d.code = :c AND status <> 'closed' LIMIT 1"), {"c": code}).one()
    prefix = sample.claim_number[:-3]
    amount = {"colId": "claimed_amount", "sort": "desc"}
    conf = {"colId": "confidence", "sort": "asc"}
    return [
        ("first page", dict(dept=code)),
        ("page 40 (rows 1000-1025)", dict(dept=code, start=1000)),
        ("deep page (rows 9975-10000)", dict(dept=code, start=9975)),
        ("status = assigned", dict(dept=code, filters={"statuses": ["assigned"]})),
        ("status new + awaiting_info", dict(dept=code, filters={"statuses": ["new", "awaiting_info"]})),
        ("line of business", dict(dept=code, filters={"lines": [sample.line_of_business]})),
        ("amount 5,000-20,000", dict(dept=code, filters={"amount_min": 5000, "amount_max": 20000})),
        ("report date last 30 days", dict(dept=code, filters={"date_from": "2026-10-01"})),
        ("loss date range", dict(dept=code, filters={"date_field": "loss_date", "date_from": "2026-09-01",
                                                      "date_to": "2026-09-30"})),
        ("confidence low", dict(dept=code, filters={"confidence": ["low"]})),
        ("claim number prefix", dict(dept=code, filters={"search": prefix})),
        ("description words", dict(dept=code, filters={"search": "windshield"})),
        ("description rare word", dict(dept=code, filters={"search": "attorney"})),
        ("sort by amount", dict(dept=code, sort=[amount])),
        ("sort by confidence", dict(dept=code, sort=[conf])),
        ("sort by confidence, page 20", dict(dept=code, sort=[conf], start=500)),
        ("status + amount + sort amount", dict(dept=code, sort=[amount],
                                               filters={"statuses": ["new"], "amount_min": 1000})),
        ("closed claims (history, estimate)", dict(dept=code, filters={"statuses": ["closed"]})),
        ("closed claims, amount >= 1,000", dict(dept=code, filters={"statuses": ["closed"], "amount_min": 1000})),
        ("My work", dict(mine=True)),
        ("My work, sort by confidence", dict(mine=True, sort=[conf])),
        ("My work, description words", dict(mine=True, filters={"search": "bumper"})),
    ]


def api_walk(session, manager, say, limit: int = 100) -> None:
    """The REST API's queue paging (services.queues.seek_queue) over the largest queue: every
    page by cursor to the end, beside OFFSET paging (the peer) over the pages it can reach."""
    code, open_n = session.execute(text(
        "SELECT d.code, count(*) FROM claims c JOIN departments d ON d.id = c.department_id "
        "WHERE c.status <> 'closed' GROUP BY d.code ORDER BY 2 DESC LIMIT 1")).one()
    seek, offset, after, seen, started = [], [], None, 0, time.perf_counter()
    while True:
        t = time.perf_counter()
        page = seek_queue(session, manager, code, limit=limit, after=after)
        seek.append((time.perf_counter() - t) * 1000)
        seen += len(page.rows)
        after = page.next
        if after is None:
            break
    walked = time.perf_counter() - started
    for start in range(0, MAX_OFFSET, limit):
        t = time.perf_counter()
        seek_queue(session, manager, code, limit=limit, offset=start)
        offset.append((time.perf_counter() - t) * 1000)
    session.rollback()
    say(f"\nAPI queue paging, {code} ({open_n:,} open claims), {limit} per page:")
    say(f"  cursor: {len(seek):,} pages, {seen:,} claims in {walked:.1f} s; per page p50 "
        f"{statistics.median(seek):.1f} ms, p95 {pct(seek, 0.95):.1f} ms, max {max(seek):.1f} ms")
    say(f"  offset (first {MAX_OFFSET:,} rows only): {len(offset)} pages; per page p50 "
        f"{statistics.median(offset):.1f} ms, p95 {pct(offset, 0.95):.1f} ms, max {max(offset):.1f} ms")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=300, help="timed calls in total (spread over the combinations)")
    parser.add_argument("--url", help="reuse this database instead of a scratch one")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    say = lambda *a: print(*a, flush=True)  # noqa: E731

    url, admin = (args.url, None) if args.url else dbutil.create_database("scope_bench_queues")
    if not args.url:
        dbutil.upgrade(url)
        say(f"scratch database {url}")
    engine = make_engine(normalise_url(url))
    factory = make_session_factory(engine)
    try:
        prepare(factory, engine, args.claims, say)
        with factory() as session:
            total = session.scalar(select(func.count()).select_from(Claim))
            open_n = session.scalar(select(func.count()).select_from(Claim).where(Claim.status != "closed"))
            say(f"claims: {total:,}, open: {open_n:,}")
            manager = SessionUser(id=0, email="m@x", name="m", role="manager", department_ids=())
            worker = session.execute(
                select(User.id, func.count(Claim.id)).join(Claim, Claim.adjuster_id == User.id)
                .where(Claim.status != "closed").group_by(User.id).order_by(func.count(Claim.id).desc()).limit(1)).one()
            me = session.get(User, worker[0])
            adjuster = SessionUser.from_model(me)
            say(f"My work user: {me.email} with {worker[1]:,} open claims")
            combos = scenarios(session)
            per = max(5, args.calls // len(combos))
            results = []
            all_times = []
            for name, spec in combos:
                filters = parse_filters(spec.get("filters")) if spec.get("filters") else QueueFilters()
                start = spec.get("start", 0)
                times, page = [], None
                for i in range(per + 1):
                    t = time.perf_counter()
                    if spec.get("mine"):
                        page = my_work(session, adjuster, start=start, end=start + 25, sort_model=spec.get("sort"),
                                       filters=filters)
                    else:
                        page = department_queue(session, manager, spec["dept"], start=start, end=start + 25,
                                                sort_model=spec.get("sort"), filters=filters)
                    elapsed = (time.perf_counter() - t) * 1000
                    session.rollback()
                    if i:  # the first call warms caches and the connection
                        times.append(elapsed)
                all_times += times
                results.append((name, statistics.median(times), pct(times, 0.95), max(times), page.describe("rows")))
            say(f"\n{'combination':34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  result")
            for name, p50, p95, mx, desc in results:
                say(f"{name:34} {p50:8.1f} {p95:8.1f} {mx:8.1f}  {desc}")
            say(f"{'ALL (' + str(len(all_times)) + ' calls)':34} {statistics.median(all_times):8.1f} "
                f"{pct(all_times, 0.95):8.1f} {max(all_times):8.1f}")
            api_walk(session, manager, say)
    finally:
        engine.dispose()
        if admin and not args.keep:
            dbutil.drop_database(url, admin)


if __name__ == "__main__":
    main()
