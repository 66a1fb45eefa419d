"""Score a labelled CSV with a dataset's champion without storing anything:
how well would today's model route this file?"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from ml.metrics import classification_report, expected_calibration_error
from services.datasets import features_of, get_dataset
from services.imports import read_mapped_frame
from services.mappings import load_mapping
from services.routing import load_champion, predict_frame


class EvaluationError(ValueError):
    """The file cannot be scored against this dataset's champion; the message says why."""


def evaluate_csv(session: Session, path: str | Path, mapping_path: str | Path, dataset: str) -> dict:
    """Rows the mapping rejects, or that carry no department, are not scored
    (counted in "n_rejected" / "n_unlabelled"). Raises ``EvaluationError`` when the
    mapping does not describe what the champion was trained on, or nothing can be scored."""
    ds = get_dataset(session, dataset)
    if ds is None:
        raise LookupError(f"unknown dataset {dataset!r}")
    model = load_champion(session, dataset)
    if model is None:
        raise LookupError(f"dataset {dataset!r} has no champion model to evaluate")
    mapping = load_mapping(mapping_path)
    # A mapping with other features scores nothing the model knows (every metric 0.0),
    # which reads as a terrible model rather than a wrong file.
    if features_of(mapping.feature_spec()) != features_of(ds.feature_spec):
        raise EvaluationError(f"mapping {mapping.name!r} does not give the features dataset {dataset!r} was "
                              f"trained on; use the mapping the dataset was imported with")
    if not mapping.target.codes & set(model.classes):
        raise EvaluationError(f"mapping {mapping.name!r} labels rows with departments the champion of "
                              f"{dataset!r} never predicts ({', '.join(sorted(mapping.target.codes))})")
    frame, rejects = read_mapped_frame(path, mapping)
    labelled = frame[frame["department"].notna()] if "department" in frame else frame.iloc[0:0]
    truth = labelled["department"].astype(str).tolist() if len(labelled) else []
    n_rejected = len({r["row"] for r in rejects})  # rows, as an import counts them
    if not truth:
        if not n_rejected and not len(frame):
            raise EvaluationError(f"{Path(path).name}: no rows to evaluate")
        raise EvaluationError(f"{Path(path).name}: no labelled row to evaluate ({n_rejected} rejected, "
                              f"{len(frame) - len(labelled)} without a department)")
    result = {"n": len(truth), "n_rejected": n_rejected, "n_unlabelled": len(frame) - len(labelled),
              "model_version": model.version}
    proba = predict_frame(model, labelled)
    pred = [model.classes[i] for i in proba.argmax(axis=1)]
    report = classification_report(truth, pred, sorted(set(model.classes) | set(truth)))
    index = {c: i for i, c in enumerate(model.classes)}
    ece = expected_calibration_error(proba, np.array([index.get(c, -1) for c in truth]))
    return {**result, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
            "per_class": report["per_class"], "ece": ece}
