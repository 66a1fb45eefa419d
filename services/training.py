"""Train a dataset's router on its closed claims, store it as a model version
and promote it when it beats the current champion on the same holdout.

Promotion metric: **macro-F1** on this training run's time-ordered holdout
(departments are imbalanced; accuracy would reward ignoring small queues).
The champion is re-scored on exactly the same holdout rows. With no champion
yet, the model must beat the majority-class baseline's *accuracy* (a constant
predictor's macro-F1 is too easy a bar).
"""
from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Dataset, ModelVersion
from ml.features import FeaturePipeline
from ml.metrics import classification_report, expected_calibration_error, majority_baseline
from ml.router import TRIAGE, train_router
from services import audit
from services.claims_frame import load_frame, time_order
from services.datasets import get_dataset
from services.routing import load_model, predict_frame

HOLDOUT_FRACTION = 0.2
MIN_LABELLED = 20
PROMOTION_METRIC = "macro_f1"


def _version_string(dataset: str, now: dt.datetime) -> str:
    return f"{dataset[:38]}-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"


def _window(frame: pd.DataFrame) -> tuple[dt.date | None, dt.date | None]:
    dates = frame["report_date"].fillna(frame["loss_date"]).dropna()
    return (dates.min(), dates.max()) if len(dates) else (None, None)


def _holdout_metrics(proba: np.ndarray, classes: list[str], truth: list[str]) -> dict:
    pred = [classes[i] for i in proba.argmax(axis=1)]
    labels = sorted(set(classes) | set(truth))
    report = classification_report(truth, pred, labels)
    index = {c: i for i, c in enumerate(classes)}
    # Labels the model never saw count as wrong (index -1 never equals an argmax).
    y = np.array([index.get(c, -1) for c in truth])
    report["ece"] = expected_calibration_error(proba, y)
    return report


def split_labelled(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Time-ordered train/holdout split of labelled claims: the last 20% is the holdout."""
    ordered, order = time_order(frame)
    n_hold = max(1, int(round(len(ordered) * HOLDOUT_FRACTION)))
    return ordered.iloc[: len(ordered) - n_hold], ordered.iloc[len(ordered) - n_hold:], order


def train_dataset(session: Session, dataset: str, *, now: dt.datetime | None = None,
                  params: dict | None = None, actor: str = "system") -> dict:
    """Labels are the departments of the dataset's closed claims (TRIAGE is not
    a final department and is left out). ``params`` overrides XGBoost settings;
    its optional "text_options" key configures the text vectoriser and
    "stack_options" the stacked linear text model ({"enabled", "C", "folds"})."""
    now = now or dt.datetime.now(dt.timezone.utc)
    ds = get_dataset(session, dataset)
    if ds is None:
        raise LookupError(f"unknown dataset {dataset!r}")
    params = dict(params or {})
    text_options = params.pop("text_options", {})

    frame = load_frame(session, dataset, closed_only=True)
    frame = frame[frame["department"].notna() & (frame["department"] != TRIAGE)]
    if len(frame) < MIN_LABELLED or frame["department"].nunique() < 2:
        raise ValueError(f"dataset {dataset!r} needs at least {MIN_LABELLED} closed claims "
                         "in at least two departments to train a router")
    train, holdout, order = split_labelled(frame)

    stack_options = params.pop("stack_options", None)
    labels = train["department"].tolist()
    pipeline = FeaturePipeline(ds.feature_spec, text_options=text_options, stack_options=stack_options)
    # Labels let the pipeline stack a linear text model (out-of-fold on these rows).
    router, used_params = train_router(pipeline.fit_transform(train, labels), labels,
                                       pipeline.feature_types, params=params)
    truth = holdout["department"].tolist()
    metrics = _holdout_metrics(router.predict_proba(pipeline.transform(holdout)), router.classes, truth)
    start, end = _window(train)
    metrics.update(
        baseline=majority_baseline(train["department"].tolist(), truth),
        n_train=len(train), n_holdout=len(holdout),
        split=order,
        split_note=("time-ordered: sorted by report_date, loss_date, id; last 20% held out" if order == "time"
                    else "no claim dates in this dataset: split by id order (insertion order), not by time"),
        training_window={"start": start.isoformat() if start else None, "end": end.isoformat() if end else None},
        promotion_metric=PROMOTION_METRIC,
    )

    champion = session.scalar(select(ModelVersion).where(ModelVersion.dataset == dataset,
                                                         ModelVersion.status == "champion"))
    champion_metrics = None
    if champion is not None:
        model = load_model(champion)
        champion_metrics = _holdout_metrics(predict_frame(model, holdout), model.classes, truth)
        promoted = metrics[PROMOTION_METRIC] > champion_metrics[PROMOTION_METRIC]
        # Kept with the version (whoever trained it: scope train, the Models page, the nightly
        # job): its own holdout is later claims than the champion's, so only this compares.
        metrics["champion_on_holdout"] = {"version": champion.version, "accuracy": champion_metrics["accuracy"],
                                          "macro_f1": champion_metrics["macro_f1"]}
    else:
        promoted = metrics["accuracy"] > metrics["baseline"]["accuracy"]

    mv = ModelVersion(dataset=dataset, version=_version_string(dataset, now), status="candidate",
                      params=used_params, feature_schema=pipeline.to_schema(), classes=router.classes,
                      metrics=metrics, train_start=start, train_end=end, n_train=len(train),
                      n_holdout=len(holdout), artifact_format="ubj", artifact=router.to_bytes())
    session.add(mv)
    session.flush()
    audit.record(session, actor=actor, action="model.train", target_type="model_version", target_id=mv.id,
                 after={"version": mv.version, "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
                        "n_train": len(train), "n_holdout": len(holdout)})
    kept_because = None
    if promoted:
        # Serialised with a promotion by hand (services.models): lock the dataset, then check
        # that the champion measured above still is one and that a person has not paused this.
        locked = session.get(Dataset, dataset, with_for_update=True, populate_existing=True)
        now_champion = session.scalar(select(ModelVersion.id).where(ModelVersion.dataset == dataset,
                                                                    ModelVersion.status == "champion"))
        if now_champion != (champion.id if champion is not None else None):
            promoted, kept_because = False, "the champion changed while this version trained"
        elif champion is not None and not locked.auto_promote:
            promoted = False
            kept_because = (f"automatic promotion is paused: {locked.auto_promote_changed_by or 'an admin'} chose the "
                            "champion by hand")
    if promoted:
        if champion is not None:
            champion.status = "retired"
            # The partial unique index allows one champion: retire before promoting.
            session.flush()
        mv.status = "champion"
        mv.promoted_at = now
        session.flush()
        audit.record(session, actor=actor, action="model.promote", target_type="model_version", target_id=mv.id,
                     before={"champion": champion.version if champion else None},
                     after={"champion": mv.version, PROMOTION_METRIC: metrics[PROMOTION_METRIC],
                            "previous_" + PROMOTION_METRIC: (champion_metrics or {}).get(PROMOTION_METRIC)})
    return {"model_version": mv.version, "model_version_id": mv.id, "promoted": promoted, "metrics": metrics,
            "champion_metrics_on_holdout": champion_metrics, "kept_as_candidate_because": kept_because}
