"""Writing many audit rows in ONE transaction: rows/s as the transaction grows.

    .venv/bin/python bench/bench_audit.py [--sizes 1000,5000,20000,50000] [--how record,record_many,sql]

On a scratch database (migrated, dropped at the end), each size is written in one
transaction and committed, then the whole chain is verified:
* ``record``: ``services.audit.record`` once per row (what a loop of single writes costs),
* ``record_many``: the batch API the bulk paths use (skipped when it does not exist),
* ``sql``: one ``INSERT … SELECT generate_series`` (the trigger alone, no Python).
The transaction's time includes the COMMIT (where the chain head is brought up to date).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from tests import dbutil  # noqa: E402


def _rows(n: int, tag: str) -> list[dict]:
    return [{"actor": "bench@scope.example", "action": "claim.assign", "target_type": "claim",
             "target_id": i, "before": {"assigned_to": None}, "after": {"assigned_to": 7, "batch": tag}}
            for i in range(n)]


def write(factory, how: str, n: int) -> float:
    from services import audit

    rows = _rows(n, f"{how}-{n}")
    with factory() as session:
        start = time.perf_counter()
        if how == "record":
            for r in rows:
                audit.record(session, **r)
            session.flush()
        elif how == "record_many":
            audit.record_many(session, rows)
            session.flush()
        else:
            session.execute(text(
                "INSERT INTO audit_log (actor, action, target_type, target_id, before, after) "
                "SELECT 'bench@scope.example', 'claim.assign', 'claim', g::text, '{\"assigned_to\": null}', "
                "jsonb_build_object('assigned_to', 7, 'batch', CAST(:tag AS text)) "
                "FROM generate_series(1, CAST(:n AS int)) g"),
                {"n": n, "tag": f"sql-{n}"})
        session.commit()
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,5000,20000,50000")
    parser.add_argument("--how", default="record,record_many,sql")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from db.session import make_engine, make_session_factory, normalise_url
    from services import audit
    from services.audit_chain import verify

    url, admin = dbutil.create_database("scope_bench_audit")
    try:
        dbutil.upgrade(url)
        engine = make_engine(normalise_url(url))
        factory = make_session_factory(engine)
        print(f"{'how':<12} {'rows':>8} {'seconds':>9} {'rows/s':>9} {'ms/1k rows':>11}")
        for how in args.how.split(","):
            if how == "record_many" and not hasattr(audit, "record_many"):
                print(f"{how:<12} (not in this version)")
                continue
            for n in sizes:
                seconds = write(factory, how, n)
                print(f"{how:<12} {n:>8,} {seconds:>9.2f} {n / seconds:>9,.0f} {seconds * 1000 / n * 1000:>11.1f}",
                      flush=True)
        with factory() as session:
            start = time.perf_counter()
            report = verify(session)
            seconds = time.perf_counter() - start
        print(f"verify: {report.describe()} in {seconds:.1f}s ({report.count / seconds:,.0f} rows/s)")
        engine.dispose()
        return 0 if report.ok else 1
    finally:
        dbutil.drop_database(url, admin)


if __name__ == "__main__":
    sys.exit(main())
