"""Similar past claims: the closed claims of the same dataset that the
champion treats most alike (leaf co-occurrence and the closeness of its
probabilities by department, see ml/neighbours.py).

The index covers the most recent ``INDEX_SIZE`` closed claims and is built
once per champion version and process; a query is then a few milliseconds.
Building it runs every one of those claims through the feature pipeline
(seconds), so after ``TTL_SECONDS`` a caller that passes ``refresh_with`` gets
the old index while a background thread builds the new one (so newly closed
claims appear), and ``warm_up`` builds it when a web process starts.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Claim, Department, ModelVersion
from ml.neighbours import leaf_embedding, nearest
from services.access import can_see_department
from services.claims_frame import ids_param, load_frame
from services.routing import LoadedModel, load_champion

log = logging.getLogger(__name__)
INDEX_SIZE = 20_000
TTL_SECONDS = 600
QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
DESCRIPTION_CHARS = 140
BUILD_WAIT_SECONDS = 120


@dataclass
class NeighbourIndex:
    version: str
    built_at: float
    ids: np.ndarray
    department_ids: np.ndarray
    leaves: np.ndarray
    proba: np.ndarray  # the router's probabilities by department, one row per indexed claim


_lock = threading.Lock()  # guards the dicts below, never held while building
_indexes: dict[tuple[str, str], NeighbourIndex] = {}
_building: dict[tuple[str, str], threading.Event] = {}
_grids: dict[tuple[str, str], tuple[float, dict[str, list[float]]]] = {}
# (database, version) -> its dataset: a new champion replaces its own dataset's entries only
# (with one eviction per database, two datasets' claim pages evicted each other's index).
_datasets: dict[tuple[str, str], str] = {}


def _evict_older(cache: dict, key: tuple[str, str], dataset: str) -> None:
    """Drop ``cache``'s entries of ``dataset``'s other versions on ``key``'s database (under _lock)."""
    _datasets[key] = dataset
    for old in [k for k in cache if k[0] == key[0] and k[1] != key[1] and _datasets.get(k) == dataset]:
        cache.pop(old, None)


def _db(session: Session) -> str:
    return session.get_bind().url.render_as_string(hide_password=True)


def recent_closed_ids(session: Session, dataset: str, limit: int = INDEX_SIZE) -> list[int]:
    return list(session.scalars(select(Claim.id).where(Claim.dataset == dataset, Claim.status == "closed")
                                .order_by(Claim.report_date.desc().nulls_last(), Claim.id.desc()).limit(limit)))


def recent_closed_frame(session: Session, dataset: str, limit: int = INDEX_SIZE) -> pd.DataFrame:
    ids = recent_closed_ids(session, dataset, limit)
    return load_frame(session, dataset, claim_ids=ids) if ids else pd.DataFrame()


def numeric_grids(session: Session, model: LoadedModel) -> dict[str, list[float]]:
    """Quantiles of the numeric inputs among the recent closed claims (the
    counterfactual's grid). Only those columns are read: no feature pipeline,
    so the counterfactual never waits for the neighbour index."""
    columns = model.pipeline.columns("numeric")
    if not columns:
        return {}
    key = (_db(session), model.version)
    with _lock:
        hit = _grids.get(key)
        if hit is not None and time.monotonic() - hit[0] <= TTL_SECONDS:
            return hit[1]
    ids = recent_closed_ids(session, model.dataset)
    frame = load_frame(session, model.dataset, claim_ids=ids, only=columns) if ids else pd.DataFrame()
    grids: dict[str, list[float]] = {}
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce").dropna() if col in frame else pd.Series([], dtype=float)
        if len(values):
            grids[col] = sorted({round(float(q), 2) for q in values.quantile(list(QUANTILES))})
    with _lock:
        _evict_older(_grids, key, model.dataset)
        _grids[key] = (time.monotonic(), grids)
    return grids


def _build(session: Session, model: LoadedModel) -> NeighbourIndex:
    frame = recent_closed_frame(session, model.dataset)
    if len(frame):
        leaves, proba = _embed(model, frame)
        ids = frame["id"].to_numpy(dtype=np.int64)
        depts = frame["department_id"].fillna(-1).to_numpy(dtype=np.int64)
    else:
        leaves, ids, depts = np.zeros((0, 0), dtype=np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64)
        proba = np.zeros((0, len(model.router.classes)), dtype=np.float32)
    return NeighbourIndex(model.version, time.monotonic(), ids, depts, leaves, proba)


def _embed(model: LoadedModel, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Leaves of the first rounds and the router's probabilities (ml/neighbours.py)."""
    X = model.pipeline.transform(frame)
    leaves = leaf_embedding(model.router.booster, model.router.dmatrix(X))
    return leaves, model.router.predict_proba(X).astype(np.float32)


def _store(key: tuple[str, str], index: NeighbourIndex, dataset: str) -> None:
    with _lock:
        # One champion per dataset matters; its older versions' indexes go.
        _evict_older(_indexes, key, dataset)
        _indexes[key] = index


def _refresh(key: tuple[str, str], model: LoadedModel, factory: sessionmaker, done: threading.Event) -> None:
    try:
        with factory() as session:
            _store(key, _build(session, model), model.dataset)
    except Exception:  # the old index keeps serving; the next stale read tries again
        log.exception("refreshing the neighbour index for %s failed", model.version)
    finally:
        with _lock:
            _building.pop(key, None)
        done.set()


def get_index(session: Session, model: LoadedModel, *, refresh_with: sessionmaker | None = None) -> NeighbourIndex:
    """The index for ``model``. Built here when there is none (concurrent callers
    wait for the one build); when it is stale and ``refresh_with`` (a session
    factory for the same database) is given, rebuilt in the background."""
    key = (_db(session), model.version)
    deadline = time.monotonic() + BUILD_WAIT_SECONDS
    while True:
        with _lock:
            index = _indexes.get(key)
            if index is not None and time.monotonic() - index.built_at <= TTL_SECONDS:
                return index
            pending = _building.get(key)
            if index is not None and (pending is not None or refresh_with is not None):
                if pending is None:
                    pending = _building[key] = threading.Event()
                    threading.Thread(target=_refresh, args=(key, model, refresh_with, pending), daemon=True,
                                     name=f"neighbours-{model.version}").start()
                return index  # stale by minutes: newly closed claims are missing, nothing is wrong
            mine = pending is None or time.monotonic() > deadline
            if mine:
                pending = _building[key] = threading.Event()
        if not mine:
            pending.wait(timeout=max(0.0, deadline - time.monotonic()))
            continue
        try:
            index = _build(session, model)
            _store(key, index, model.dataset)
            return index
        finally:
            with _lock:
                if _building.get(key) is pending:
                    _building.pop(key, None)
            pending.set()


def warm_up(factory: sessionmaker) -> threading.Thread:
    """Build every champion's index in a background thread, so the first claim
    page after a start does not wait for it."""
    def run() -> None:
        try:
            with factory() as session:
                datasets = session.scalars(select(ModelVersion.dataset).where(ModelVersion.status == "champion"))
                for dataset in list(datasets):
                    model = load_champion(session, dataset)
                    if model is not None:
                        get_index(session, model)
                        numeric_grids(session, model)
        except Exception:
            log.exception("warming up the neighbour indexes failed")

    thread = threading.Thread(target=run, daemon=True, name="neighbours-warm-up")
    thread.start()
    return thread


def similar_claims(session: Session, user, claim: Claim, k: int = 5, *,
                   refresh_with: sessionmaker | None = None) -> dict:
    """Up to ``k`` closed claims like this one that the user may see.
    ``refresh_with``: see ``get_index``."""
    model = load_champion(session, claim.dataset)
    if model is None:
        return {"method": None, "items": [], "note": "No champion model for this dataset."}
    index = get_index(session, model, refresh_with=refresh_with)
    if len(index.ids) == 0:
        return {"method": model.version, "items": [], "note": "No closed claims to compare with yet."}
    frame = load_frame(session, claim.dataset, claim_ids=[claim.id])
    leaves, proba = _embed(model, frame)
    # One vectorised test over the whole index (about 20,000 claims): asking can_see_department
    # per indexed claim was more than half of this call's time.
    visible = None if _sees_all(user) else np.isin(index.department_ids, np.fromiter(
        (int(d) for d in user.department_ids), dtype=np.int64))
    rows, sims = nearest(index.leaves, leaves[0], k, exclude=index.ids == claim.id, candidates=visible,
                         proba=index.proba, query_proba=proba[0])
    if len(rows) == 0:
        return {"method": model.version, "items": [], "note": "No similar closed claims you can see."}
    wanted = [int(index.ids[r]) for r in rows]
    found = {c.id: (c, d) for c, d in session.execute(
        select(Claim, Department).outerjoin(Department, Department.id == Claim.department_id)
        .where(Claim.id == ids_param(wanted)))}
    items = []
    for claim_id, sim in zip(wanted, sims):
        if claim_id not in found:
            continue
        c, d = found[claim_id]
        if not can_see_department(user, c.department_id):  # moved since the index was built
            continue
        text = c.description or ""
        items.append({"claim_number": c.claim_number, "similarity": float(sim),
                      "department": d.name if d else None, "department_code": d.code if d else None,
                      "color": d.color if d else "#6c757d",
                      "description": text if len(text) <= DESCRIPTION_CHARS else text[:DESCRIPTION_CHARS - 1] + "…"})
    return {"method": model.version, "items": items, "note": None}


def _sees_all(user) -> bool:
    from auth.permissions import Perm

    return user.can(Perm.VIEW_ALL_DEPARTMENTS)
