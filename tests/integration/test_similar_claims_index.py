"""The neighbour index behind "Similar past claims" and the counterfactual's grid."""
from __future__ import annotations

import time

import pandas as pd
import pytest

from services import similar_claims as sc


@pytest.fixture(autouse=True)
def _no_earlier_builds():
    """Each test measures what it builds: an index or grid cached by an earlier test of the
    session (the web app's similar-claims card) predates the claims closed since."""
    with sc._lock:
        sc._indexes.clear()
        sc._grids.clear()
    yield


def _model(session):
    from services.routing import load_champion

    model = load_champion(session, "synthetic")
    assert model is not None
    return model


def test_a_new_champion_evicts_only_its_own_datasets_older_index():
    """Two datasets on one database keep their indexes (each store evicted the other's, so
    alternating claim pages rebuilt the index, predicting 20,000 claims, every time)."""
    import numpy as np

    def index(version):
        empty = np.zeros(0)
        return sc.NeighbourIndex(version, time.monotonic(), empty, empty, empty, empty)

    db = "postgresql+psycopg://x@h/db"
    sc._store((db, "motor-v1"), index("motor-v1"), "motor")
    sc._store((db, "property-v1"), index("property-v1"), "property")
    sc._store(("postgresql+psycopg://x@h/other", "motor-v0"), index("motor-v0"), "motor")
    assert set(sc._indexes) == {(db, "motor-v1"), (db, "property-v1"), ("postgresql+psycopg://x@h/other", "motor-v0")}
    sc._store((db, "motor-v2"), index("motor-v2"), "motor")
    assert set(sc._indexes) == {(db, "motor-v2"), (db, "property-v1"), ("postgresql+psycopg://x@h/other", "motor-v0")}


def test_a_stale_index_keeps_serving_while_a_new_one_is_built(web_database_url):
    from db.session import make_engine, make_session_factory, normalise_url

    engine = make_engine(normalise_url(web_database_url))
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            model = _model(session)
            first = sc.get_index(session, model)
            assert len(first.ids) and sc.get_index(session, model) is first
            first.built_at -= sc.TTL_SECONDS + 1
            served = sc.get_index(session, model, refresh_with=factory)
            assert served is first  # no caller waits for the rebuild
            key = (sc._db(session), model.version)
            with sc._lock:
                pending = sc._building.get(key)
            if pending is not None:
                assert pending.wait(60)
            fresh = sc.get_index(session, model)
            assert fresh is not first and time.monotonic() - fresh.built_at < sc.TTL_SECONDS
            assert list(fresh.ids) == list(first.ids)
    finally:
        engine.dispose()


def test_numeric_grids_are_the_quantiles_of_the_recent_closed_claims(web_database_url):
    from db.session import make_engine, make_session_factory, normalise_url

    engine = make_engine(normalise_url(web_database_url))
    try:
        with make_session_factory(engine)() as session:
            model = _model(session)
            frame = sc.recent_closed_frame(session, model.dataset)
            expected = {}
            for col in model.pipeline.columns("numeric"):
                values = pd.to_numeric(frame[col], errors="coerce").dropna()
                expected[col] = sorted({round(float(q), 2) for q in values.quantile(list(sc.QUANTILES))})
            assert expected and sc.numeric_grids(session, model) == expected
    finally:
        engine.dispose()


def test_similar_claims_respect_departments_without_a_check_per_indexed_claim(web_database_url, monkeypatch):
    """Visibility over the index is one vectorised test: a Python check per indexed claim
    (about 20,000) was more than half of the card's time. Results stay within the
    adjuster's departments, and the few claims returned are still checked one by one."""
    from sqlalchemy import select

    from auth.current import SessionUser
    from db.models import Claim, Department
    from db.session import make_engine, make_session_factory, normalise_url

    engine = make_engine(normalise_url(web_database_url))
    try:
        with make_session_factory(engine)() as session:
            glass = session.scalar(select(Department).where(Department.code == "AUTO_GLASS"))
            adjuster = SessionUser(id=-1, email="x@test.example", name="X", role="adjuster",
                                   department_ids=(glass.id,))
            claim = session.scalar(select(Claim).where(Claim.department_id == glass.id, Claim.status != "closed")
                                   .limit(1))
            calls = []
            real = sc.can_see_department
            monkeypatch.setattr(sc, "can_see_department", lambda u, d: calls.append(d) or real(u, d))
            result = sc.similar_claims(session, adjuster, claim)
            assert result["items"] and all(i["department_code"] == "AUTO_GLASS" for i in result["items"])
            assert len(calls) <= len(result["items"]), len(calls)
    finally:
        engine.dispose()
