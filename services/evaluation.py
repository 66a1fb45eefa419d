"""Score a labelled CSV with a dataset's champion without storing anything:
how well would today's model route this file?"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from ml.metrics import classification_report, expected_calibration_error
from services.imports import read_mapped_frame
from services.mappings import load_mapping
from services.routing import load_champion, predict_frame


def evaluate_csv(session: Session, path: str | Path, mapping_path: str | Path, dataset: str) -> dict:
    """Rows the mapping rejects, or that carry no department, are not scored
    (counted in "n_rejected" / "n_unlabelled")."""
    model = load_champion(session, dataset)
    if model is None:
        raise LookupError(f"dataset {dataset!r} has no champion model to evaluate")
    frame, rejects = read_mapped_frame(path, load_mapping(mapping_path))
    labelled = frame[frame["department"].notna()] if "department" in frame else frame.iloc[0:0]
    truth = labelled["department"].astype(str).tolist() if len(labelled) else []
    result = {"n": len(truth), "n_rejected": len(rejects), "n_unlabelled": len(frame) - len(labelled),
              "model_version": model.version}
    if not truth:
        return {**result, "accuracy": None, "macro_f1": None, "per_class": {}, "ece": None}
    proba = predict_frame(model, labelled)
    pred = [model.classes[i] for i in proba.argmax(axis=1)]
    report = classification_report(truth, pred, sorted(set(model.classes) | set(truth)))
    index = {c: i for i, c in enumerate(model.classes)}
    ece = expected_calibration_error(proba, np.array([index.get(c, -1) for c in truth]))
    return {**result, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
            "per_class": report["per_class"], "ece": ece}
