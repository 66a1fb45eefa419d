"""Similar past claims: the closed claims of the same dataset that the
champion treats most alike (leaf co-occurrence, see ml/neighbours.py).

The index covers the most recent ``INDEX_SIZE`` closed claims and is built
once per champion version and process (then refreshed after ``TTL_SECONDS``
so newly closed claims appear); a query is then a few milliseconds.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Claim, Department
from ml.neighbours import leaf_embedding, nearest
from services.access import can_see_department
from services.claims_frame import ids_param, load_frame
from services.routing import LoadedModel, load_champion

INDEX_SIZE = 20_000
TTL_SECONDS = 600
QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
DESCRIPTION_CHARS = 140


@dataclass
class NeighbourIndex:
    version: str
    built_at: float
    ids: np.ndarray
    department_ids: np.ndarray
    leaves: np.ndarray
    # Quantiles of the numeric inputs among these claims (the counterfactual's grid).
    grids: dict[str, list[float]]


_lock = threading.Lock()
_indexes: dict[tuple[str, str], NeighbourIndex] = {}


def recent_closed_frame(session: Session, dataset: str, limit: int = INDEX_SIZE) -> pd.DataFrame:
    ids = session.scalars(select(Claim.id).where(Claim.dataset == dataset, Claim.status == "closed")
                          .order_by(Claim.report_date.desc().nulls_last(), Claim.id.desc()).limit(limit)).all()
    return load_frame(session, dataset, claim_ids=ids) if ids else pd.DataFrame()


def _build(session: Session, model: LoadedModel) -> NeighbourIndex:
    frame = recent_closed_frame(session, model.dataset)
    grids: dict[str, list[float]] = {}
    if len(frame):
        for col in model.pipeline.columns("numeric"):
            values = pd.to_numeric(frame[col], errors="coerce").dropna() if col in frame else pd.Series([], dtype=float)
            if len(values):
                grids[col] = sorted({round(float(q), 2) for q in values.quantile(list(QUANTILES))})
        leaves = leaf_embedding(model.router.booster, model.router.dmatrix(model.pipeline.transform(frame)))
        ids = frame["id"].to_numpy(dtype=np.int64)
        depts = frame["department_id"].fillna(-1).to_numpy(dtype=np.int64)
    else:
        leaves, ids, depts = np.zeros((0, 0), dtype=np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return NeighbourIndex(model.version, time.monotonic(), ids, depts, leaves, grids)


def get_index(session: Session, model: LoadedModel) -> NeighbourIndex:
    key = (session.get_bind().url.render_as_string(hide_password=True), model.version)
    with _lock:
        index = _indexes.get(key)
        if index is None or time.monotonic() - index.built_at > TTL_SECONDS:
            index = _build(session, model)
            # One champion per dataset matters; older versions' indexes go.
            for old in [k for k in _indexes if k[0] == key[0] and _indexes[k].version != model.version]:
                _indexes.pop(old, None)
            _indexes[key] = index
        return index


def similar_claims(session: Session, user, claim: Claim, k: int = 5) -> dict:
    """Up to ``k`` closed claims like this one that the user may see."""
    model = load_champion(session, claim.dataset)
    if model is None:
        return {"method": None, "items": [], "note": "No champion model for this dataset."}
    index = get_index(session, model)
    if len(index.ids) == 0:
        return {"method": model.version, "items": [], "note": "No closed claims to compare with yet."}
    frame = load_frame(session, claim.dataset, claim_ids=[claim.id])
    query = leaf_embedding(model.router.booster, model.router.dmatrix(model.pipeline.transform(frame)))[0]
    visible = np.array([can_see_department(user, int(d)) if d >= 0 else False for d in index.department_ids]) \
        if not _sees_all(user) else None
    rows, sims = nearest(index.leaves, query, k, exclude=index.ids == claim.id, candidates=visible)
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
