"""Bulk load of the synthetic dataset into real PostgreSQL."""
from __future__ import annotations

from sqlalchemy import func, select, text

from db.models import Claim, Dataset, Party
from services.demo_data import FEATURE_SPEC, generate, load_demo_data
from services.parties import normalise_address, normalise_email, normalise_phone, normalise_plate

N = 2_000


def test_load_is_complete_and_idempotent(db_session):
    first = load_demo_data(db_session, N, 5, batch_size=1_000)
    expected = generate(N, 5)
    assert first["dataset"] == "synthetic" and first["claims"] == N and first["skipped"] == 0
    assert first["parties"] == len(expected.parties) and first["seconds"] >= 0

    count = db_session.scalar(select(func.count()).select_from(Claim).where(Claim.dataset == "synthetic"))
    assert count == N
    n_parties = db_session.scalar(select(func.count()).select_from(Party).join(Claim)
                                  .where(Claim.dataset == "synthetic"))
    assert n_parties == len(expected.parties)

    again = load_demo_data(db_session, N, 5)
    assert again["claims"] == 0 and again["parties"] == 0 and again["skipped"] == N
    assert db_session.scalar(select(func.count()).select_from(Claim)) == count

    spec = db_session.get(Dataset, "synthetic").feature_spec
    assert spec == FEATURE_SPEC
    assert not {"fraud_label", "fraud_ring", "true_department", "reserve_amount", "paid_amount"} & {
        f["name"] for f in spec}


def test_open_claims_wait_for_the_router(db_session):
    load_demo_data(db_session, N, 6)
    rows = db_session.execute(text(
        "SELECT c.status, c.department_id IS NULL, c.closed_at IS NULL, "
        "       d.code = c.extra->>'true_department' "
        "FROM claims c LEFT JOIN departments d ON d.id = c.department_id WHERE c.dataset = 'synthetic'")).all()
    open_rows = [r for r in rows if r[0] == "new"]
    closed_rows = [r for r in rows if r[0] == "closed"]
    assert len(open_rows) + len(closed_rows) == len(rows) == N
    assert 0.05 < len(open_rows) / N < 0.15  # open = not settled by the end
    assert all(r[1] and r[2] for r in open_rows)
    assert all(not r[1] and not r[2] and r[3] for r in closed_rows)


def test_parties_are_stored_normalised(db_session):
    load_demo_data(db_session, N, 7)
    rows = db_session.execute(select(Party.phone, Party.email, Party.address, Party.plate)
                              .join(Claim).where(Claim.dataset == "synthetic")).all()
    assert rows
    for phone, email, address, plate in rows:
        assert phone is None or normalise_phone(phone) == phone
        assert email is None or normalise_email(email) == email
        assert address is None or normalise_address(address) == address
        assert plate is None or normalise_plate(plate) == plate
    ring_links = db_session.execute(text(
        "SELECT count(*) FROM (SELECT p.phone FROM parties p JOIN claims c ON c.id = p.claim_id "
        "WHERE c.fraud_ring IS NOT NULL AND p.phone IS NOT NULL "
        "GROUP BY p.phone HAVING count(DISTINCT c.id) >= 3) shared")).scalar()
    assert ring_links >= 1
