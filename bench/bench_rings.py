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
from services.linked_claims import linked_claims  # noqa: E402


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
          f"{result['claims']:,} claims, {result['too_large']} groups too large to be rings")
    found = {i for r in session.scalars(select(FraudRing)) for i in r.claim_ids}
    truth = set(session.scalars(select(Claim.id).where(Claim.fraud_ring.isnot(None))))
    if truth:
        hit = len(found & truth)
        print(f"against the generator's rings: precision {hit / max(1, len(found)):.3f}, "
              f"recall {hit / len(truth):.3f} ({hit:,} of {len(truth):,} ring claims; {len(found):,} claims flagged)")
    manager = session.scalar(select(User).where(User.role == "manager").limit(1))
    adjuster = session.scalar(select(User).where(User.role == "adjuster", User.email.like("adjuster.auto%")).limit(1))
    member = biggest = None
    if manager is not None:
        user = SessionUser.from_model(manager)
        ms, (lines, total) = _ms(lambda: fraud_rings.list_rings(session, user))
        print(f"list_rings (Rings page) for a manager: p50 {ms:.1f} ms, {total:,} rings, {len(lines)} listed")
        if adjuster is not None:
            other = SessionUser.from_model(adjuster)
            ms, (mine, n) = _ms(lambda: fraud_rings.list_rings(session, other))
            print(f"list_rings for an adjuster of {len(other.department_ids)} departments: p50 {ms:.1f} ms, "
                  f"{n:,} rings among their claims")
        biggest = max(lines, key=lambda v: v.size) if lines else None
        if biggest:
            ms, view = _ms(lambda: fraud_rings.get_ring(session, user, biggest.key))
            print(f"get_ring (one ring, {biggest.size} claims): p50 {ms:.1f} ms")
            member = session.scalar(select(Claim.id).where(Claim.claim_number == view.claims[-1].claim_number))
            ms, _ = _ms(lambda: fraud_rings.ring_of_claim(session, user, member), repeat=20)
            print(f"ring_of_claim (claim page): p50 {ms:.2f} ms")
        # The claim page's Linked claims card: a ring member, and claims whose parties
        # include the busiest provider (the most rows behind one identifier).
        busiest = session.execute(select(Party.provider_id, func.count()).where(Party.provider_id.isnot(None))
                                  .group_by(Party.provider_id).order_by(func.count().desc()).limit(1)).first()
        samples = {"ring member": member}
        if busiest:
            samples[f"busiest provider's claim ({busiest[1]:,} parties)"] = session.scalar(
                select(Party.claim_id).where(Party.provider_id == busiest[0]).limit(1))
        for label, claim_id in samples.items():
            if claim_id is None:
                continue
            claim = session.get(Claim, claim_id)
            ms, links = _ms(lambda c=claim: linked_claims(session, user, c), repeat=20)
            print(f"linked_claims, {label}: p50 {ms:.1f} ms ({len(links.claims)} listed, {len(links.hubs)} common)")
    session.rollback()


if __name__ == "__main__":
    main()
