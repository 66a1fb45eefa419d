"""Fraud-ring detection on an existing database: how long the detect_rings job
takes, how long the pages' reads take, and how the rings found compare with the
demo generator's injected rings (claims.fraud_ring, ground truth).

Nothing is kept: the refresh runs in a transaction that is rolled back.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/scope_dev .venv/bin/python bench/bench_rings.py
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from auth.current import SessionUser  # noqa: E402
from db.models import Claim, FraudRing, Party, User  # noqa: E402
from db.session import make_engine, make_session_factory, normalise_url  # noqa: E402
from services import fraud_rings  # noqa: E402


def _ms(fn, repeat: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def main() -> None:
    url = normalise_url(os.environ["DATABASE_URL"])
    session = make_session_factory(make_engine(url))()
    claims = session.scalar(select(func.count(Claim.id)))
    parties = session.scalar(select(func.count(Party.id)))
    print(f"database: {claims:,} claims, {parties:,} parties")
    t = time.perf_counter()
    result = fraud_rings.refresh(session)
    session.flush()
    print(f"detect_rings (detect + store): {time.perf_counter() - t:.2f} s -> {result['rings']:,} rings, "
          f"{result['claims']:,} claims")
    found = {i for r in session.scalars(select(FraudRing)) for i in r.claim_ids}
    truth = set(session.scalars(select(Claim.id).where(Claim.fraud_ring.isnot(None))))
    if truth:
        hit = len(found & truth)
        print(f"against the generator's rings: precision {hit / max(1, len(found)):.3f}, "
              f"recall {hit / len(truth):.3f} ({hit:,} of {len(truth):,} ring claims; {len(found):,} claims flagged)")
    manager = session.scalar(select(User).where(User.role == "manager").limit(1))
    if manager is not None:
        user = SessionUser.from_model(manager)
        ms, views = _ms(lambda: fraud_rings.list_rings(session, user))
        print(f"list_rings (Rings page) for a manager: p50 {ms:.1f} ms over {len(views):,} rings")
        biggest = max(views, key=lambda v: v.size) if views else None
        if biggest:
            ms, _ = _ms(lambda: fraud_rings.get_ring(session, user, biggest.key))
            print(f"get_ring (one ring, {biggest.size} claims): p50 {ms:.1f} ms")
            member = session.scalar(select(Claim.id).where(Claim.claim_number == biggest.claims[-1].claim_number))
            ms, _ = _ms(lambda: fraud_rings.ring_of_claim(session, user, member), repeat=20)
            print(f"ring_of_claim (claim page): p50 {ms:.2f} ms")
    session.rollback()


if __name__ == "__main__":
    main()
