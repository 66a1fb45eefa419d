"""Benchmark: generate and bulk-load N synthetic claims into a fresh database.

    .venv/bin/python bench/bench_demo_data.py [N] [--seed S] [--batch-size B]

Creates a throw-away database on the local server (tests.dbutil), migrates
it, runs load_demo_data with a commit, prints throughput and peak memory, and
drops the database whatever happens.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.session import make_engine, make_session_factory, session_scope  # noqa: E402
from services.demo_data import load_demo_data  # noqa: E402
from tests import dbutil  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_claims", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, default=100_000)
    args = parser.parse_args()

    url, admin = dbutil.create_database("scope_bench")
    engine = None
    try:
        dbutil.upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        with session_scope(make_session_factory(engine)) as session:
            summary = load_demo_data(session, args.n_claims, args.seed, batch_size=args.batch_size)
        total = time.perf_counter() - started  # includes the commit
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
        print(f"claims inserted: {summary['claims']:,}  parties inserted: {summary['parties']:,}")
        print(f"load (generate + COPY): {summary['seconds']:.1f} s   total with commit: {total:.1f} s")
        print(f"throughput: {summary['claims'] / total:,.0f} claims/s")
        print(f"peak RSS: {peak_mb:,.0f} MiB")
    finally:
        if engine is not None:
            engine.dispose()
        dbutil.drop_database(url, admin)


if __name__ == "__main__":
    main()
