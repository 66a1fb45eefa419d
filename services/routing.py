"""Score claims with their dataset's champion model and record why.

Every scored claim gets one append-only routing_decisions row holding the
calibrated probabilities, the raw inputs the model saw, SHAP contributions
grouped by input column and plain-language drivers. Open claims that have not
been placed by a person yet are moved to the routed department.

SHAP default: ``exact`` TreeSHAP (measured in bench/bench_routing.py, see
docs/benchmarks.md) — cheap enough batched that intake and explicit re-scoring
use it; ``route_unscored`` (bulk loads) defaults to ``approx`` and the
decision row says so in ``shap_method``.
"""
from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from db.models import Claim, ClaimEvent, Department, ModelVersion, RoutingDecision
from ml.explain import explain_rows
from ml.features import FeaturePipeline
from ml.router import TRIAGE, Router, route
from services.claims_frame import ids_param, load_frame

SHAP_METHODS = ("exact", "approx")
# Contributions are dense (claims x classes x features): 1000 claims x 9 classes x 2000
# n-grams is ~72 MB per batch.
DEFAULT_BATCH_SIZE = 1000
_CACHE_SIZE = 8


@dataclass
class LoadedModel:
    model_version_id: int
    version: str
    dataset: str
    pipeline: FeaturePipeline
    router: Router

    @property
    def classes(self) -> list[str]:
        return self.router.classes


# Model versions are immutable once written. The key is the version string
# (time + random suffix), not the id: ids repeat across databases, and one
# process may talk to several (tests, tools).
_cache: OrderedDict[str, LoadedModel] = OrderedDict()


def load_model(mv: ModelVersion) -> LoadedModel:
    cached = _cache.get(mv.version)
    if cached is not None:
        _cache.move_to_end(mv.version)
        return cached
    pipeline = FeaturePipeline.from_schema(mv.feature_schema)
    router = Router.from_bytes(mv.artifact, classes=mv.classes, temperature=mv.params["temperature"],
                               feature_types=pipeline.feature_types)
    model = LoadedModel(mv.id, mv.version, mv.dataset, pipeline, router)
    _cache[mv.version] = model
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return model


def _champion(session: Session, dataset: str) -> tuple[int, str] | None:
    row = session.execute(select(ModelVersion.id, ModelVersion.version).where(
        ModelVersion.dataset == dataset, ModelVersion.status == "champion")).first()
    return None if row is None else (row.id, row.version)


def has_champion(session: Session, dataset: str) -> bool:
    return _champion(session, dataset) is not None


def load_champion(session: Session, dataset: str) -> LoadedModel | None:
    champion = _champion(session, dataset)
    if champion is None:
        return None
    mv_id, version = champion
    if version in _cache:  # skip reading the artifact bytes again
        _cache.move_to_end(version)
        return _cache[version]
    return load_model(session.get(ModelVersion, mv_id))


def predict_frame(model: LoadedModel, frame: pd.DataFrame) -> np.ndarray:
    """Calibrated class probabilities (rows follow the frame)."""
    return model.router.predict_proba(model.pipeline.transform(frame))


def route_claims(session: Session, claim_ids: Iterable[int], *, threshold: float,
                 shap_method: str = "exact", batch_size: int = DEFAULT_BATCH_SIZE,
                 at_arrival: bool = False) -> int:
    """Score the claims with their dataset's champion; returns the number of decisions written.

    ``at_arrival`` dates each "routed" event minutes after the claim's ``created_at``
    instead of now: for a back catalogue loaded at once (the demo claims), whose
    claims were waiting in their queue since they arrived, not since the load.

    Contributions stored in ``shap_values`` and ``drivers`` are in the model's
    margin (log-odds) space divided by the calibration temperature: per class,
    base + sum of drivers = the calibrated logit fed to the softmax.
    Raises LookupError when a claim's dataset has no champion.
    """
    if shap_method not in SHAP_METHODS:
        raise ValueError(f"shap_method must be one of {SHAP_METHODS}")
    ids = list(dict.fromkeys(int(i) for i in claim_ids))
    if not ids:
        return 0
    session.flush()  # our core statements must see pending ORM changes
    departments = {code: (dep_id, name) for code, dep_id, name in
                   session.execute(select(Department.code, Department.id, Department.name))}
    if TRIAGE not in departments:
        raise LookupError("department TRIAGE does not exist (run ensure_standard_departments)")
    by_dataset: dict[str, list[int]] = {}
    for claim_id, dataset in session.execute(select(Claim.id, Claim.dataset).where(Claim.id == ids_param(ids))):
        by_dataset.setdefault(dataset, []).append(claim_id)

    written = 0
    for dataset, dataset_ids in by_dataset.items():
        model = load_champion(session, dataset)
        if model is None:
            raise LookupError(f"dataset {dataset!r} has no champion model; train one first")
        for start in range(0, len(dataset_ids), batch_size):
            frame = load_frame(session, dataset, claim_ids=dataset_ids[start:start + batch_size])
            written += _route_batch(session, model, frame, departments, threshold, shap_method, at_arrival)
    return written


def _route_batch(session: Session, model: LoadedModel, frame: pd.DataFrame,
                 departments: dict[str, tuple[int, str]], threshold: float, shap_method: str,
                 at_arrival: bool = False) -> int:
    X = model.pipeline.transform(frame)
    data = model.router.dmatrix(X)
    proba = model.router.predict_proba(data)
    predicted, routed, confidence = route(proba, model.classes, threshold)
    contribs = model.router.contributions(data, approx=shap_method == "approx")
    raw_rows = model.pipeline.raw_values(frame)
    names = {code: name for code, (_, name) in departments.items()}
    explanations = explain_rows(contribs, X, model.pipeline, raw_rows, model.classes,
                                proba.argmax(axis=1).tolist(), names)
    rows = []
    for i, claim_id in enumerate(frame["id"].tolist()):
        shap_values, drivers = explanations[i]
        rows.append(dict(
            claim_id=claim_id, model_version_id=model.model_version_id,
            predicted_department_id=departments[predicted[i]][0],
            routed_department_id=departments[routed[i]][0],
            probabilities={c: float(p) for c, p in zip(model.classes, proba[i])},
            confidence=float(confidence[i]), threshold=float(threshold), features=raw_rows[i],
            shap_values=shap_values, shap_method=shap_method, drivers=drivers,
        ))
    decision_ids = dict((cid, did) for did, cid in session.execute(
        insert(RoutingDecision).returning(RoutingDecision.id, RoutingDecision.claim_id), rows))
    claims = Claim.__table__
    session.execute(update(claims).where(claims.c.id == bindparam("b_id"))
                    .values(routing_confidence=bindparam("b_conf")),
                    [{"b_id": r["claim_id"], "b_conf": r["confidence"]} for r in rows])
    _place_open_claims(session, frame, routed, confidence, decision_ids, departments, at_arrival)
    return len(rows)


def _place_open_claims(session: Session, frame: pd.DataFrame, routed: list[str], confidence: np.ndarray,
                       decision_ids: dict[int, int], departments: dict[str, tuple[int, str]],
                       at_arrival: bool = False) -> None:
    """Move open claims nobody has placed yet (no department, or still 'new' at
    intake) to the routed queue. Closed claims keep their final department:
    re-scoring history never rewrites it."""
    moves: dict[int, list[int]] = {}
    events = []
    for i, row in enumerate(frame[["id", "status", "department_id"]].itertuples(index=False)):
        target = departments[routed[i]][0]
        current = None if pd.isna(row.department_id) else int(row.department_id)
        if row.status == "closed" or (current is not None and row.status != "new") or current == target:
            continue
        moves.setdefault(target, []).append(int(row.id))
        events.append(dict(claim_id=int(row.id), kind="routed", from_department_id=current,
                           to_department_id=target,
                           data={"decision_id": decision_ids[row.id], "confidence": float(confidence[i])}))
    claims = Claim.__table__
    for target, ids in moves.items():
        # Core UPDATE for speed; bump the version column as the ORM would.
        session.execute(update(claims).where(claims.c.id == ids_param(ids))
                        .values(department_id=target, version=claims.c.version + 1))
    if events and at_arrival:
        arrived = dict(session.execute(select(Claim.id, Claim.created_at)
                                       .where(Claim.id == ids_param([e["claim_id"] for e in events]))).all())
        now = dt.datetime.now(dt.timezone.utc)
        for e in events:
            # A few minutes after arrival, spread so a queue's claims are not all routed at one instant.
            e["at"] = min(now, arrived[e["claim_id"]] + dt.timedelta(minutes=2 + e["claim_id"] % 30))
    if events:
        session.execute(insert(ClaimEvent), events)
        moved = {e["claim_id"] for e in events}
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Claim) and obj.id in moved:
                session.expire(obj)


def route_unscored(session: Session, dataset: str, *, threshold: float, shap_method: str = "approx",
                   batch_size: int = DEFAULT_BATCH_SIZE, at_arrival: bool = False) -> int:
    """Route the dataset's open claims that have no routing decision yet (``at_arrival``: see route_claims)."""
    if not has_champion(session, dataset):
        return 0
    scored = select(RoutingDecision.claim_id).where(RoutingDecision.claim_id == Claim.id).exists()
    ids = session.scalars(select(Claim.id).where(Claim.dataset == dataset, Claim.status != "closed", ~scored)
                          .order_by(Claim.id)).all()
    return route_claims(session, ids, threshold=threshold, shap_method=shap_method, batch_size=batch_size,
                        at_arrival=at_arrival)
