"""The XGBoost multi-class router with temperature-calibrated probabilities.

Rows given to ``train_router`` must be in time order: the tail is held back
for early stopping and for the temperature, so both are fitted on claims
later than the ones the trees learned from (as in production).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

# OpenMP threads spin while waiting by default; on a shared 2-core host (web
# workers, imports) that made training 3x slower with nthread=2 than with 1.
# Only effective if nothing loaded libgomp before this module.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import xgboost as xgb  # noqa: E402

from ml.calibration import calibrated_proba, fit_temperature, log_loss

DEFAULT_PARAMS: dict = {
    "max_depth": 6,
    "eta": 0.1,
    "min_child_weight": 1.0,
    "subsample": 0.9,
    "colsample_bytree": 0.8,
    "max_bin": 256,
    "max_cat_to_onehot": 4,
    "num_boost_round": 400,
    "early_stopping_rounds": 30,
    "nthread": 2,
    "seed": 0,
    # Class weights for the trees: "none", "sqrt" (inverse square root of the
    # class share) or "balanced" (inverse share); normalised to mean 1.
    "class_weight": "none",
    # After early stopping picked the number of rounds, refit the trees on the
    # fit + early-stopping rows (the most recent claims) with proportionally more rounds.
    "refit": False,
}
CLASS_WEIGHTS = ("none", "sqrt", "balanced")
TRAIN_ONLY_PARAMS = ("num_boost_round", "early_stopping_rounds", "class_weight", "refit")
# Shares of the (time-ordered) training rows: trees / early stopping / temperature.
ES_FRACTION = 0.1
CAL_FRACTION = 0.1
MIN_ROWS_FOR_SLICES = 50
TRIAGE = "TRIAGE"


@dataclass
class Router:
    booster: xgb.Booster
    classes: list[str]
    temperature: float
    feature_types: list[str]

    def dmatrix(self, X: sp.csr_matrix, label: np.ndarray | None = None) -> xgb.DMatrix:
        return xgb.DMatrix(X, label=label, feature_types=self.feature_types, enable_categorical=True,
                           missing=np.nan, nthread=2)

    def margins(self, X) -> np.ndarray:
        data = X if isinstance(X, xgb.DMatrix) else self.dmatrix(X)
        return self.booster.predict(data, output_margin=True).reshape(data.num_row(), len(self.classes))

    def predict_proba(self, X) -> np.ndarray:
        return calibrated_proba(self.margins(X), self.temperature)

    def contributions(self, X, *, approx: bool = False) -> np.ndarray:
        """SHAP contributions, shape (rows, classes, features + 1); the last
        column is the base value. They are in margin (log-odds) space divided by
        the temperature, so per class they sum to the calibrated logit that the
        softmax turns into the shown probability. ``approx`` uses XGBoost's
        Saabas-style path attribution instead of exact TreeSHAP."""
        data = X if isinstance(X, xgb.DMatrix) else self.dmatrix(X)
        contribs = self.booster.predict(data, pred_contribs=True, approx_contribs=approx)
        return contribs.reshape(data.num_row(), len(self.classes), -1) / self.temperature

    def to_bytes(self) -> bytes:
        return bytes(self.booster.save_raw("ubj"))

    @classmethod
    def from_bytes(cls, artifact: bytes, *, classes: list[str], temperature: float,
                   feature_types: list[str]) -> "Router":
        booster = xgb.Booster(params={"nthread": 2})
        booster.load_model(bytearray(artifact))
        return cls(booster=booster, classes=list(classes), temperature=float(temperature),
                   feature_types=list(feature_types))


def route(proba: np.ndarray, classes: list[str], threshold: float) -> tuple[list[str], list[str], np.ndarray]:
    """(predicted, routed, confidence): routed is TRIAGE when the calibrated
    top probability is under the threshold."""
    top = proba.argmax(axis=1)
    confidence = proba[np.arange(len(proba)), top]
    predicted = [classes[i] for i in top]
    routed = [p if c >= threshold else TRIAGE for p, c in zip(predicted, confidence)]
    return predicted, routed, confidence


def class_weights(y: np.ndarray, n_classes: int, mode: str) -> np.ndarray:
    """Per-row weights (mean 1) from the class shares of ``y``."""
    if mode not in CLASS_WEIGHTS:
        raise ValueError(f"class_weight must be one of {CLASS_WEIGHTS}")
    if mode == "none" or len(y) == 0:
        return np.ones(len(y), dtype=np.float32)
    share = np.bincount(y, minlength=n_classes) / len(y)
    w = share[y] ** (-0.5 if mode == "sqrt" else -1.0)
    return (w / w.mean()).astype(np.float32)


def train_router(X: sp.csr_matrix, labels: list[str], feature_types: list[str], *,
                 params: dict | None = None, sample_weight: np.ndarray | None = None) -> tuple[Router, dict]:
    """Fit trees on the head of the rows, stop early on the next slice,
    fit the temperature on the last slice. Returns the router and a JSON-able
    record of the parameters actually used."""
    cfg = {**DEFAULT_PARAMS, **(params or {})}
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError("training needs at least two distinct departments among the closed claims")
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[c] for c in labels], dtype=np.int32)
    n = len(y)
    if n >= MIN_ROWS_FOR_SLICES:
        n_cal = max(1, int(n * CAL_FRACTION))
        n_es = max(1, int(n * ES_FRACTION))
        fit_end, es_end = n - n_cal - n_es, n - n_cal
    else:
        fit_end = es_end = n  # too few rows to hold any back
    weights = class_weights(y[:es_end], len(classes), cfg["class_weight"])
    weights = np.concatenate([weights, np.ones(n - es_end, dtype=np.float32)])
    if sample_weight is not None:
        weights = weights * np.asarray(sample_weight, np.float32)

    proto = Router(booster=None, classes=classes, temperature=1.0, feature_types=list(feature_types))
    d_fit = proto.dmatrix(X[:fit_end], label=y[:fit_end])
    d_fit.set_weight(weights[:fit_end])
    booster_params = {k: v for k, v in cfg.items() if k not in TRAIN_ONLY_PARAMS}
    booster_params.update(objective="multi:softprob", num_class=len(classes), tree_method="hist",
                          eval_metric="mlogloss")
    evals, es_rounds = [], None
    if es_end > fit_end:
        evals = [(proto.dmatrix(X[fit_end:es_end], label=y[fit_end:es_end]), "validation")]
        es_rounds = int(cfg["early_stopping_rounds"])
    booster = xgb.train(booster_params, d_fit, num_boost_round=int(cfg["num_boost_round"]), evals=evals,
                        early_stopping_rounds=es_rounds, verbose_eval=False)
    n_trees_rounds = booster.num_boosted_rounds()
    if es_rounds is not None:
        # Keep only the rounds up to the best one, so the saved model is the one validated.
        n_trees_rounds = booster.best_iteration + 1
        booster = booster[:n_trees_rounds]
        if cfg["refit"]:
            n_trees_rounds = max(1, int(round(n_trees_rounds * es_end / fit_end)))
            d_all = proto.dmatrix(X[:es_end], label=y[:es_end])
            d_all.set_weight(weights[:es_end])
            booster = xgb.train(booster_params, d_all, num_boost_round=n_trees_rounds, verbose_eval=False)
    router = Router(booster=booster, classes=classes, temperature=1.0, feature_types=list(feature_types))

    info = {**cfg, "rounds_used": int(n_trees_rounds), "n_fit": int(fit_end),
            "n_refit": int(es_end) if cfg["refit"] and es_rounds is not None else 0,
            "n_early_stopping": int(es_end - fit_end), "n_calibration": int(n - es_end)}
    if n > es_end:
        margins = router.margins(X[es_end:])
        router.temperature = fit_temperature(margins, y[es_end:])
        info["calibration_log_loss_before"] = log_loss(margins, y[es_end:], 1.0)
        info["calibration_log_loss_after"] = log_loss(margins, y[es_end:], router.temperature)
    info["temperature"] = router.temperature
    return router, info
