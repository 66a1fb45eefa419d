"""SIU cases at scale, on a database kept by ``bench_pages.py --keep``:

- seeds a caseload by direct bulk inserts (not the service, one case at a time):
  ``--closed`` closed cases (default 20,000, opened over the last three years, closed
  5-180 days later, most of them in the last ``totals`` window too) and ``--open`` open
  ones (default 500, opened over the last 200 days), of 1-12 claims each (small cases
  commonest), on claims in the SIU queue first and then on claims moved into it (their
  department is recorded and put back), about half of the open SIU claims left in no
  case (referrals still to organise, as ``demo_cases`` leaves them); an opening event,
  1-3 notes, a lead event and (closed) a closing event each; plus one open case of
  ``--large`` claims (default 200, a case's limit) with 400 notes, the worst case page;
- times every read the Cases page, the claim page and "My work" do, warm, ``--repeat``
  times each (default 50): ``list_cases`` open / closed (page 1 and the last page; open
  "mine" for a lead), ``get_case`` of the large case and of a 12-claim case, ``totals``,
  ``claims_awaiting_case``, ``open_cases_led``, ``case_of_claim`` (a claim in a case, one
  in none);
- times each write path (``open_case`` on three awaiting claims, ``add_note``,
  ``close_case`` of a 12-claim case and of the large case) in a transaction rolled back
  every time;
- prints p50 / p95 / max per operation, and with ``--explain MS`` the EXPLAIN ANALYZE of
  the statements of any read whose p95 is over MS.

    .venv/bin/python bench/bench_siu_cases.py --database postgresql://.../scope_bench_pages_<id>

Cleans up what it added, whatever happens: the bench's cases (keys C-9xxxxxxxxx, their
claims and events go with them) are deleted, the moved claims get their department back
(from the table ``bench_siu_cases_moved``, dropped last) and the case-key sequence its
value. ``--keep-cases`` leaves the caseload (to measure the page over it with
``bench_pages.py --database``); ``--cleanup`` removes a kept one and exits.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select, text  # noqa: E402

from bench.bench_fraud_alerts import _line  # noqa: E402
from bench.bench_operations import _p  # noqa: E402

MOVED = "bench_siu_cases_moved"
BENCH_KEYS = r"key ~ '^C-9[0-9]{9}$'"     # the app's keys are C-000042 (from a sequence): never these
LARGE_KEY = "C-9999999999"
DAY = "interval '1 day'"

PLAN = """
CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
SELECT n, kind, size, sum(size) OVER (PARTITION BY kind ORDER BY n) - size AS first,
       now() - (CASE kind WHEN 'open' THEN 200 ELSE 1095 END) * random() * interval '1 day' AS opened_at,
       (5 + 175 * power(random(), 2)) * interval '1 day' AS lasted,
       1 + floor(3 * random())::int AS notes
FROM (SELECT n, CASE WHEN n <= :open THEN 'open' ELSE 'closed' END AS kind,
             1 + floor(12 * power(random(), 1.8))::int AS size        -- 1-12, small cases commonest
      FROM generate_series(1, :open + :closed) n) g
"""
# Claims not in a case: the SIU queue's first (about half of its open ones, the rest left
# awaiting a case), then others, to move in.
PICK = """
CREATE TEMP TABLE bench_pick ON COMMIT DROP AS
SELECT id, department_id, kind, row_number() OVER (PARTITION BY kind ORDER BY pri DESC, h, id) AS r
FROM (SELECT c.id, c.department_id, CASE WHEN c.status = 'closed' THEN 'closed' ELSE 'open' END AS kind,
             c.department_id IS NOT DISTINCT FROM :siu
             AND (c.status = 'closed' OR hashtext(c.claim_number) % 2 = 0) AS pri,
             hashtext(c.claim_number || '-siu') AS h
      FROM claims c
      WHERE NOT EXISTS (SELECT 1 FROM siu_case_claims x WHERE x.claim_id = c.id)
        AND (c.department_id IS DISTINCT FROM :siu OR c.status = 'closed'
             OR hashtext(c.claim_number) % 2 = 0)) c
"""
# only as many as the plan takes
PICK_TRIM = "DELETE FROM bench_pick WHERE r > CASE kind WHEN 'open' THEN :open ELSE :closed END"
CASES = """
INSERT INTO siu_cases (key, title, status, outcome, findings, saved_amount, lead_id, opened_by, opened_at,
                       closed_by, closed_at, updated_at, version)
SELECT 'C-9' || lpad(p.n::text, 9, '0'), 'Bench case ' || p.n, p.kind,
       CASE WHEN p.kind = 'closed' THEN o.outcome END,
       CASE WHEN p.kind = 'closed' THEN 'Findings of bench case ' || p.n || ': statements, documents and '
            'identifiers compared; outcome as recorded.' END,
       CASE WHEN o.outcome = 'confirmed_fraud' THEN round((2000 + 60000 * random())::numeric, 2) END,
       (CAST(:leads AS int[]))[1 + p.n % :nleads], (CAST(:leads AS int[]))[1 + p.n % :nleads], p.opened_at,
       CASE WHEN p.kind = 'closed' THEN :manager END,
       CASE WHEN p.kind = 'closed' THEN least(p.opened_at + p.lasted, now() - interval '1 hour') END,
       CASE WHEN p.kind = 'closed' THEN least(p.opened_at + p.lasted, now() - interval '1 hour')
            ELSE p.opened_at + p.lasted * random() END, 2 + p.notes
FROM bench_plan p
CROSS JOIN LATERAL (SELECT CASE WHEN p.n % 10 < 6 THEN 'confirmed_fraud' WHEN p.n % 10 < 9 THEN 'no_fraud'
                                ELSE 'inconclusive' END AS outcome) o
"""
CASE_CLAIMS = """
INSERT INTO siu_case_claims (case_id, claim_id, added_by, added_at)
SELECT s.id, k.id, s.opened_by, s.opened_at
FROM bench_plan p
JOIN siu_cases s ON s.key = 'C-9' || lpad(p.n::text, 9, '0')
CROSS JOIN LATERAL generate_series(1, p.size) i
JOIN bench_pick k ON k.kind = p.kind AND k.r = p.first + i
"""
EVENTS = """
INSERT INTO siu_case_events (case_id, kind, actor_id, at, note, data)
SELECT s.id, 'opened', s.opened_by, s.opened_at, 'Referred claims reviewed; file opened.',
       jsonb_build_object('claims', (SELECT jsonb_agg(c.claim_number ORDER BY c.id) FROM siu_case_claims x
                                     JOIN claims c ON c.id = x.claim_id WHERE x.case_id = s.id))
FROM siu_cases s WHERE s.{keys}
UNION ALL
SELECT s.id, 'lead', :manager, s.opened_at + interval '1 hour', NULL,
       jsonb_build_object('from', NULL, 'to', s.lead_id)
FROM siu_cases s WHERE s.{keys}
UNION ALL
SELECT s.id, 'note', s.lead_id, s.opened_at + (coalesce(s.closed_at, now()) - s.opened_at) * i / (p.notes + 1),
       'Requested the police report and the repair photos; recorded statement taken (note ' || i || ').', '{{}}'
FROM bench_plan p JOIN siu_cases s ON s.key = 'C-9' || lpad(p.n::text, 9, '0')
CROSS JOIN LATERAL generate_series(1, p.notes) i
UNION ALL
SELECT s.id, 'closed', s.closed_by, s.closed_at, s.findings,
       jsonb_build_object('outcome', s.outcome, 'saved', s.saved_amount::text, 'labels_before', '{{}}'::jsonb)
FROM siu_cases s WHERE s.{keys} AND s.status = 'closed'
""".format(keys=BENCH_KEYS)


def _analyze(factory) -> None:
    with factory.kw["bind"].connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("ANALYZE siu_cases; ANALYZE siu_case_claims; ANALYZE siu_case_events; ANALYZE claims"))


def _seed(factory, siu: int, leads: list[int], manager: int, args) -> dict:
    """The caseload, in one transaction; returns what was made."""
    t = time.perf_counter()
    with factory.begin() as s:
        s.execute(text(f"CREATE TABLE {MOVED} (claim_id bigint PRIMARY KEY, department_id int, "
                       "key_sequence bigint)"))
        seq = s.execute(text("SELECT last_value, is_called FROM siu_case_keys")).one()
        # the sequence's value rides in the first row (or alone): open_case takes keys from it
        s.execute(text(f"INSERT INTO {MOVED} VALUES (0, NULL, :v)"),
                  {"v": seq.last_value if seq.is_called else seq.last_value - 1})
        s.execute(text("SELECT setseed(0.42)"))
        s.execute(text(PLAN), {"open": args.open, "closed": args.closed})
        s.execute(text(PICK), {"siu": siu})
        need = dict(s.execute(text("SELECT kind, sum(size) FROM bench_plan GROUP BY kind")).all())
        need["open"] += args.large
        have = dict(s.execute(text("SELECT kind, count(*) FROM bench_pick GROUP BY kind")).all())
        for kind in ("open", "closed"):
            if have.get(kind, 0) < need[kind]:
                raise SystemExit(f"only {have.get(kind, 0):,} {kind} claims for {need[kind]:,} case claims")
        # The large open case takes the open claims after the plan's.
        s.execute(text("INSERT INTO bench_plan (n, kind, size, first, opened_at, lasted, notes) "
                       "SELECT 999999999, 'open', :large, :first, now() - interval '60 days', "
                       "interval '30 days', 400"), {"large": args.large, "first": need["open"] - args.large})
        s.execute(text(PICK_TRIM), need)
        s.execute(text("ANALYZE bench_plan; ANALYZE bench_pick"))
        moved = s.execute(text(f"INSERT INTO {MOVED} (claim_id, department_id) SELECT id, department_id "
                               "FROM bench_pick WHERE department_id IS DISTINCT FROM :siu"), {"siu": siu}).rowcount
        s.execute(text(f"UPDATE claims c SET department_id = :siu FROM {MOVED} m WHERE c.id = m.claim_id"),
                  {"siu": siu})
        params = {"leads": leads, "nleads": len(leads), "manager": manager}
        cases = s.execute(text(CASES), params).rowcount
        links = s.execute(text(CASE_CLAIMS)).rowcount
        # Statistics of the new rows (seen by ANALYZE in this transaction), or the events'
        # per-case lookups plan for empty tables (a second run after a cleanup took minutes).
        s.execute(text("ANALYZE siu_cases; ANALYZE siu_case_claims"))
        events = s.execute(text(EVENTS), params).rowcount
    _analyze(factory)
    made = {"cases": cases, "case claims": links, "events": events, "claims moved into SIU": moved,
            "case claims already in SIU": links - moved}
    print(f"seeded in {time.perf_counter() - t:.0f} s: " + ", ".join(f"{v:,} {k}" for k, v in made.items()),
          flush=True)
    return made


def _cleanup(factory) -> None:
    t = time.perf_counter()
    with factory.begin() as s:
        if not s.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": MOVED}):
            n = s.execute(text(f"DELETE FROM siu_cases WHERE {BENCH_KEYS}")).rowcount
            print(f"cleanup: no {MOVED} table; {n:,} bench cases deleted", flush=True)
            return
        n = s.execute(text(f"DELETE FROM siu_cases WHERE {BENCH_KEYS}")).rowcount
        m = s.execute(text(f"UPDATE claims c SET department_id = m.department_id FROM {MOVED} m "
                           "WHERE c.id = m.claim_id AND m.claim_id > 0")).rowcount
        seq = s.scalar(text(f"SELECT key_sequence FROM {MOVED} WHERE claim_id = 0"))
        if seq is not None:
            s.execute(text("SELECT setval('siu_case_keys', :v, :called)"),
                      {"v": max(seq, 1), "called": seq >= 1})
        s.execute(text(f"DROP TABLE {MOVED}"))
    _analyze(factory)
    print(f"cleaned up in {time.perf_counter() - t:.0f} s: {n:,} bench cases deleted (with their claims and events), "
          f"{m:,} moved claims given their department back, case-key sequence restored", flush=True)


class _Statements:
    """The statements a call sends (to EXPLAIN the slow ones)."""

    def __init__(self, engine):
        self.engine, self.seen, self.on = engine, [], False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if self.on and not statement.lstrip().upper().startswith("EXPLAIN"):
            self.seen.append((statement, parameters))

    def explain(self, s, label: str, fn) -> None:
        self.seen, self.on = [], True
        try:
            fn()
        finally:
            self.on = False
        for statement, parameters in self.seen:
            plan = s.connection().exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars()
            print(f"\n  -- {label}:\n  {statement.strip()}\n  -- {parameters}\n    " + "\n    ".join(plan),
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", metavar="URL", required=True, help="a database kept by bench_pages.py --keep")
    parser.add_argument("--closed", type=int, default=20_000, help="closed cases to seed")
    parser.add_argument("--open", type=int, default=500, help="open cases to seed")
    parser.add_argument("--large", type=int, default=200, help="claims of the one large open case")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--explain", type=float, metavar="MS",
                        help="EXPLAIN ANALYZE the statements of reads whose p95 is over MS")
    parser.add_argument("--keep-cases", action="store_true", help="leave the seeded caseload (default: removed)")
    parser.add_argument("--cleanup", action="store_true", help="only remove a caseload left by --keep-cases")
    args = parser.parse_args()

    from auth.current import SessionUser
    from db.models import OPEN_STATUSES, User, user_departments
    from db.session import make_engine, make_session_factory, normalise_url
    from services import siu_case_views as views
    from services import siu_cases
    from services.siu_cases import siu_id

    engine = make_engine(normalise_url(args.database))
    factory = make_session_factory(engine)
    if args.cleanup:
        _cleanup(factory)
        engine.dispose()
        return
    with factory() as s:
        if s.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": MOVED}):
            raise SystemExit(f"{MOVED} exists: a caseload of an earlier run is still there (--cleanup removes it)")
        siu = siu_id(s)
        manager = s.scalar(select(User).where(User.email == "manager@scope.example"))
        leads = list(s.scalars(select(User.id).join(user_departments, user_departments.c.user_id == User.id)
                               .where(user_departments.c.department_id == siu, User.is_active,
                                      User.role == "adjuster").order_by(User.id)))
        if siu is None or manager is None or not leads:
            raise SystemExit("no SIU department, demo manager or SIU adjusters: not a bench_pages.py database")
        n_claims = s.scalar(text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'claims'"))
        before = s.scalar(text("SELECT count(*) FROM siu_cases"))
        print(f"database: ~{n_claims:,} claims, {before:,} cases before; SIU department {siu}, "
              f"{len(leads)} SIU adjusters", flush=True)
        manager_id = manager.id
    try:
        _seed(factory, siu, leads, manager_id, args)
        _measure(factory, engine, args, siu, SessionUser, User, views, siu_cases, OPEN_STATUSES)
    finally:
        if args.keep_cases:
            print(f"kept the caseload (bench_siu_cases.py --database ... --cleanup removes it, with {MOVED})",
                  flush=True)
        else:
            _cleanup(factory)
        engine.dispose()


def _measure(factory, engine, args, siu, SessionUser, User, views, siu_cases, OPEN_STATUSES) -> None:
    repeat = args.repeat
    statements = _Statements(engine) if args.explain is not None else None
    open_sql = ", ".join(f"'{st}'" for st in OPEN_STATUSES)
    with factory() as s:
        manager = SessionUser.from_model(s.scalar(select(User).where(User.email == "manager@scope.example")))
        lead_id = s.scalar(text("SELECT lead_id FROM siu_cases WHERE status = 'open' GROUP BY lead_id "
                                "ORDER BY count(*) DESC LIMIT 1"))
        lead = SessionUser.from_model(s.get(User, lead_id))
        big12 = s.execute(text(f"""SELECT s.key, s.version FROM siu_cases s JOIN siu_case_claims x ON x.case_id = s.id
            WHERE s.{BENCH_KEYS} AND s.status = 'open' AND s.key <> '{LARGE_KEY}'
            GROUP BY s.id ORDER BY count(*) DESC, s.id LIMIT 1""")).one()  # nosec B608 (constants)
        closed12 = s.scalar(text(f"""SELECT s.key FROM siu_cases s JOIN siu_case_claims x ON x.case_id = s.id
            WHERE s.{BENCH_KEYS} AND s.status = 'closed' GROUP BY s.id ORDER BY count(*) DESC, s.id LIMIT 1"""))
        large_version = s.scalar(text("SELECT version FROM siu_cases WHERE key = :k"), {"k": LARGE_KEY})
        in_case = list(s.scalars(text("SELECT claim_id FROM siu_case_claims ORDER BY hashtext(claim_id::text) "
                                      "LIMIT :n"), {"n": repeat + 1}))
        no_case = list(s.scalars(text("SELECT id FROM claims WHERE department_id IS DISTINCT FROM :siu "
                                      "ORDER BY id DESC LIMIT :n"), {"siu": siu, "n": repeat + 1}))
        awaiting = list(s.scalars(text(f"""SELECT c.id FROM claims c WHERE c.department_id = :siu
            AND c.status IN ({open_sql})
            AND NOT EXISTS (SELECT 1 FROM siu_case_claims x WHERE x.claim_id = c.id)
            ORDER BY c.id LIMIT 3"""), {"siu": siu}))  # nosec B608 (constants)
        n_open = views.list_cases(s, manager, status="open", limit=1)[1]
        n_closed = views.list_cases(s, manager, status="closed", limit=1)[1]
        s.rollback()

        print(f"\nreads (service calls, warm; {repeat} each; page 50 as /siu-cases; open {n_open:,}, "
              f"closed {n_closed:,}):", flush=True)
        last = {st: (n - 1) // 50 * 50 for st, n in (("open", n_open), ("closed", n_closed))}
        claim_ids = iter(in_case * 3)
        other_ids = iter(no_case * 3)
        reads = [
            ("list_cases open, page 1", lambda: views.list_cases(s, manager, status="open")),
            (f"list_cases open, last page (offset {last['open']:,})",
             lambda: views.list_cases(s, manager, status="open", offset=last["open"])),
            ("list_cases open, mine (a lead)", lambda: views.list_cases(s, lead, status="open", mine=True)),
            ("list_cases closed, page 1", lambda: views.list_cases(s, manager, status="closed")),
            (f"list_cases closed, last page (offset {last['closed']:,})",
             lambda: views.list_cases(s, manager, status="closed", offset=last["closed"])),
            (f"get_case {LARGE_KEY} (large)", lambda: views.get_case(s, manager, LARGE_KEY)),
            (f"get_case {big12.key} (open, largest)", lambda: views.get_case(s, manager, big12.key)),
            (f"get_case {closed12} (closed, largest)", lambda: views.get_case(s, manager, closed12)),
            ("totals (90 days)", lambda: views.totals(s)),
            ("claims_awaiting_case", lambda: views.claims_awaiting_case(s)),
            ("open_cases_led (a lead)", lambda: views.open_cases_led(s, lead)),
            ("case_of_claim, a claim in a case", lambda: views.case_of_claim(s, manager, next(claim_ids))),
            ("case_of_claim, a claim in none", lambda: views.case_of_claim(s, manager, next(other_ids))),
        ]
        slow = []
        for label, fn in reads:
            fn()  # warm-up
            s.rollback()
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                out = fn()
                times.append((time.perf_counter() - t) * 1000)
                s.rollback()
            extra = ""
            if isinstance(out, tuple):
                extra = f"{len(out[0])} listed of {out[1]:,}"
            elif isinstance(out, views.CaseView):
                extra = f"{len(out.claims)} claims, {len(out.events)} events"
            elif isinstance(out, int):
                extra = f"= {out:,}"
            elif isinstance(out, dict):
                extra = f"{out['open_cases']:,} open, {out['closed']:,} closed in {out['days']} days"
            _line(label, times, extra)
            if args.explain is not None and _p(times, 0.95) > args.explain:
                slow.append((label, fn))
        for label, fn in slow:
            statements.explain(s, label, fn)
            s.rollback()

    print(f"\nwrites (as an SIU adjuster, {lead.email}; each rolled back; {repeat} each):", flush=True)
    writes = [
        (f"open_case on {len(awaiting)} awaiting claims",
         lambda s: siu_cases.open_case(s, lead, awaiting, note="Bench: opened on referral.")),
        (f"add_note {big12.key}", lambda s: siu_cases.add_note(s, lead, big12.key, "Bench note: statement taken.")),
        (f"close_case {big12.key} (confirmed fraud)",
         lambda s: siu_cases.close_case(s, lead, big12.key, big12.version, "confirmed_fraud", "Bench findings.",
                                        "12500")),
        (f"close_case {LARGE_KEY} ({args.large} claims)",
         lambda s: siu_cases.close_case(s, lead, LARGE_KEY, large_version, "no_fraud", "Bench findings.")),
    ]
    for label, fn in writes:
        if not awaiting and label.startswith("open_case"):
            print(f"  {label:<44} skipped: no open SIU claim awaits a case", flush=True)
            continue
        times = []
        for i in range(repeat + 1):
            with factory() as s:
                t = time.perf_counter()
                fn(s)
                elapsed = (time.perf_counter() - t) * 1000
                s.rollback()
            if i:
                times.append(elapsed)
        _line(label, times, "(flushed, then rolled back)")


if __name__ == "__main__":
    main()
