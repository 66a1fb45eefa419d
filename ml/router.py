"""The XGBoost multi-class router with temperature-calibrated probabilities.

When the feature pipeline stacks a linear text model in "margin" mode, its
columns (feature types ``margin`` / ``margin_bias``, see ml/features.py) are
not tree features: their sum per class (the text model's logit) is XGBoost's
``base_margin``, so the trees boost *from* the text model and only learn
residual corrections from the other features (early stopping may keep none).
Per class, margin = text-model logit + tree outputs, and SHAP contributions
stay exact: the terms' part of the logit is the text column's contribution,
the intercept joins the trees' bias in the base value.

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

# Feature types of the stacked text model's logit parts (same strings as ml.features).
MARGIN_TYPE = "margin"
MARGIN_BIAS_TYPE = "margin_bias"

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

    def __post_init__(self) -> None:
        types = np.asarray(self.feature_types, dtype=object)
        self.tree_columns = np.flatnonzero((types != MARGIN_TYPE) & (types != MARGIN_BIAS_TYPE))
        self.margin_columns = np.flatnonzero(types == MARGIN_TYPE)
        self.margin_bias_columns = np.flatnonzero(types == MARGIN_BIAS_TYPE)
        k = len(self.classes)
        if len(self.margin_columns) % k or len(self.margin_bias_columns) != len(self.margin_columns):
            raise ValueError("margin columns must come in blocks of one column per class")

    @property
    def uses_margin(self) -> bool:
        return len(self.margin_columns) > 0

    def _margin_blocks(self) -> list[np.ndarray]:
        """The margin columns of each text column (one per class, in class order)."""
        return list(self.margin_columns.reshape(-1, len(self.classes)))

    def _per_class(self, X: sp.csr_matrix, columns: np.ndarray) -> np.ndarray:
        """Sum of the blocks (one column per class each) at ``columns``: (rows, classes)."""
        block = X[:, columns].toarray().astype(np.float64)
        return block.reshape(X.shape[0], -1, len(self.classes)).sum(axis=1)

    def base_margin(self, X: sp.csr_matrix) -> np.ndarray | None:
        """The stacked text model's logits (terms' part + intercept) per class, or None."""
        if not self.uses_margin:
            return None
        X = sp.csr_matrix(X)
        return self._per_class(X, self.margin_columns) + self._per_class(X, self.margin_bias_columns)

    def dmatrix(self, X: sp.csr_matrix, label: np.ndarray | None = None) -> xgb.DMatrix:
        if not self.uses_margin:
            return xgb.DMatrix(X, label=label, feature_types=self.feature_types, enable_categorical=True,
                               missing=np.nan, nthread=2)
        X = sp.csr_matrix(X)
        data = xgb.DMatrix(X[:, self.tree_columns], label=label,
                           feature_types=[self.feature_types[j] for j in self.tree_columns],
                           enable_categorical=True, missing=np.nan, nthread=2,
                           base_margin=self.base_margin(X).astype(np.float32))
        # Contributions need the split of the base margin: per text column the
        # terms' part (n, classes), and the intercepts.
        data.scope_margin_parts = ([self._per_class(X, cols) for cols in self._margin_blocks()],
                                   self._per_class(X, self.margin_bias_columns), X.shape[1])
        return data

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
        n, k = data.num_row(), len(self.classes)
        contribs = self.booster.predict(data, pred_contribs=True, approx_contribs=approx).reshape(n, k, -1)
        if self.uses_margin:
            contribs = self._with_margin(contribs.astype(np.float64), data)
        return contribs / self.temperature

    def _with_margin(self, tree_contribs: np.ndarray, data: xgb.DMatrix) -> np.ndarray:
        """Tree contributions (over the tree columns; XGBoost's bias column includes
        the base margin) spread back over all feature columns: for class c the
        terms' part of the text logit goes to the text block's column of c, the
        text model's intercept stays in the base value next to the trees' bias."""
        terms, intercept, width = getattr(data, "scope_margin_parts", (None, None, None))
        if terms is None:
            raise ValueError("contributions of a base-margin router need a DMatrix made by Router.dmatrix")
        n, k, _ = tree_contribs.shape
        out = np.zeros((n, k, width + 1))
        out[:, :, self.tree_columns] = tree_contribs[:, :, :-1]
        # XGBoost's bias column = base margin + the trees' expected output: keep the
        # intercepts and the trees' part there, move each text column's terms' part
        # (for class c) to that text column's block, column of class c.
        out[:, :, width] = tree_contribs[:, :, -1] - sum(terms)
        diag = np.arange(k)
        for cols, part in zip(self._margin_blocks(), terms):
            out[:, diag, cols] = part
        return out
        return out

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
    evals, es_rounds, history = [], None, {}
    if es_end > fit_end:
        evals = [(proto.dmatrix(X[fit_end:es_end], label=y[fit_end:es_end]), "validation")]
        es_rounds = int(cfg["early_stopping_rounds"])
    booster = xgb.train(booster_params, d_fit, num_boost_round=int(cfg["num_boost_round"]), evals=evals,
                        early_stopping_rounds=es_rounds, evals_result=history, verbose_eval=False)
    n_trees_rounds = booster.num_boosted_rounds()
    base_only_loss = None
    if es_rounds is not None:
        # Keep only the rounds up to the best one, so the saved model is the one validated.
        n_trees_rounds = booster.best_iteration + 1
        booster = booster[:n_trees_rounds]
        if proto.uses_margin:
            # Boosting from the text model: zero trees (the text model alone) is a
            # candidate too, kept when no round improved the early-stopping loss.
            base_only_loss = log_loss(proto.base_margin(X[fit_end:es_end]), y[fit_end:es_end])
            if base_only_loss <= min(history["validation"]["mlogloss"]):
                n_trees_rounds = 0
                booster = xgb.train(booster_params, d_fit, num_boost_round=0, verbose_eval=False)
        if cfg["refit"] and n_trees_rounds > 0:
            n_trees_rounds = max(1, int(round(n_trees_rounds * es_end / fit_end)))
            d_all = proto.dmatrix(X[:es_end], label=y[:es_end])
            d_all.set_weight(weights[:es_end])
            booster = xgb.train(booster_params, d_all, num_boost_round=n_trees_rounds, verbose_eval=False)
    router = Router(booster=booster, classes=classes, temperature=1.0, feature_types=list(feature_types))

    info = {**cfg, "rounds_used": int(n_trees_rounds), "n_fit": int(fit_end),
            "n_refit": int(es_end) if cfg["refit"] and es_rounds is not None else 0,
            "n_early_stopping": int(es_end - fit_end), "n_calibration": int(n - es_end),
            "base_margin": proto.uses_margin}
    if base_only_loss is not None:
        info["early_stopping_log_loss_text_model"] = base_only_loss
        info["early_stopping_log_loss_best"] = float(min(history["validation"]["mlogloss"]))
    if n > es_end:
        margins = router.margins(X[es_end:])
        router.temperature = fit_temperature(margins, y[es_end:])
        info["calibration_log_loss_before"] = log_loss(margins, y[es_end:], 1.0)
        info["calibration_log_loss_after"] = log_loss(margins, y[es_end:], router.temperature)
    info["temperature"] = router.temperature
    return router, info
