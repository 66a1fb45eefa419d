"""Similar claims as the router sees them: leaf co-occurrence.

Two claims are similar when the boosted trees send them to the same leaves
(a random-forest style proximity): the share of trees, among the first
``rounds`` boosting rounds, in which both land in the same leaf. It uses every
input the model uses (text n-grams, categories, amounts, dates) weighted the
way the model weights them, and needs no scaling of mixed feature types.
The early rounds carry most of the structure, and keeping only them makes the
index small: 20,000 claims x 50 rounds x 6 classes is 6M small integers, and
a query is one vectorised comparison (a few milliseconds).
"""
from __future__ import annotations

import numpy as np
import xgboost as xgb

DEFAULT_ROUNDS = 50


def leaf_embedding(booster: xgb.Booster, data: xgb.DMatrix, rounds: int = DEFAULT_ROUNDS) -> np.ndarray:
    """Leaf index per tree of the first ``rounds`` rounds, shape (rows, trees), int32."""
    total = booster.num_boosted_rounds()
    leaves = booster.predict(data, pred_leaf=True, iteration_range=(0, max(1, min(rounds, total))))
    leaves = np.asarray(leaves)
    return leaves.reshape(leaves.shape[0], -1).astype(np.int32)


def nearest(index: np.ndarray, query: np.ndarray, k: int = 5, exclude: np.ndarray | None = None,
            candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``index`` most similar to ``query`` (one embedding row) and their similarity
    (0..1). ``exclude``/``candidates`` are boolean masks over the index rows."""
    if index.shape[0] == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    sim = (index == query.reshape(1, -1)).mean(axis=1)
    if candidates is not None:
        sim = np.where(candidates, sim, -1.0)
    if exclude is not None:
        sim = np.where(exclude, -1.0, sim)
    k = min(k, int((sim >= 0).sum()))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    top = np.argpartition(-sim, k - 1)[:k]
    top = top[np.argsort(-sim[top], kind="stable")]
    return top, sim[top]
