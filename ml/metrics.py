"""Classification metrics reported for every model version (JSON-able)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score, confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score,
)

ECE_BINS = 15


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE: |accuracy - confidence| weighted over equal-width confidence bins."""
    if len(y) == 0:
        return 0.0
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(float)
    # Bin i holds confidences in (i/n, (i+1)/n]; 0 goes to the first bin.
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def classification_report(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict:
    """Accuracy, macro-F1 over the labels present in truth or prediction,
    per-class precision/recall/support and the confusion matrix."""
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    present = [c for c in labels if c in set(y_true) | set(y_pred)]
    prec, rec, _, sup = precision_recall_fscore_support(y_true, y_pred, labels=present, zero_division=0)
    return {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "per_class": {c: {"precision": float(p), "recall": float(r), "support": int(s)}
                      for c, p, r, s in zip(present, prec, rec, sup)},
        "confusion": {"labels": present,
                      "matrix": confusion_matrix(y_true, y_pred, labels=present).tolist()},
    }


def majority_baseline(y_train: list[str], y_true: list[str]) -> dict:
    """Always predict the most frequent training label."""
    values, counts = np.unique(np.asarray(y_train, dtype=object), return_counts=True)
    majority = str(values[counts.argmax()])
    y_true = np.asarray(y_true, dtype=object)
    pred = np.full(len(y_true), majority, dtype=object)
    labels = sorted(set(y_true) | {majority})
    return {"label": majority,
            "accuracy": float((y_true == majority).mean()) if len(y_true) else 0.0,
            "macro_f1": float(f1_score(y_true, pred, labels=labels, average="macro", zero_division=0))}


def ranking_report(scores: np.ndarray, y: np.ndarray, top_fraction: float = 0.05) -> dict:
    """For a rare positive class: ROC AUC, average precision, precision in the top-scored slice."""
    k = max(1, int(round(len(y) * top_fraction)))
    top = np.argsort(-scores, kind="stable")[:k]
    return {"roc_auc": float(roc_auc_score(y, scores)),
            "average_precision": float(average_precision_score(y, scores)),
            f"precision_top_{int(top_fraction * 100)}pct": float(np.mean(y[top]))}
