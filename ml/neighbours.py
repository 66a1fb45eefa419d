"""Similar claims as the router sees them: leaf co-occurrence.

Two claims are similar when the boosted trees send them to the same leaves
(a random-forest style proximity): the share of trees, among the first
``rounds`` boosting rounds, in which both land in the same leaf. It uses every
input the model uses (text n-grams, categories, amounts, dates) weighted the
way the model weights them, and needs no scaling of mixed feature types.
The early rounds carry most of the structure, and keeping only them makes the
index small: 20,000 claims x 50 rounds x 6 classes is 6M small integers, and
a query is one vectorised comparison (a few milliseconds).

Since the router boosts from the stacked text model's base margin, the trees
only model what the description leaves over, so two windshield claims could
share few leaves while a hail claim with a similar amount shared many: leaves
alone put the claim's own story last. The similarity therefore also weighs how
close the router's probabilities by department are (1 - total variation
distance), half and half. On the demo's 18,000 closed claims this raised the
share of the top five neighbours in the query claim's own final department
from 0.89 (leaves alone) to 0.97 (400 queries).
"""
from __future__ import annotations

import numpy as np
import xgboost as xgb

DEFAULT_ROUNDS = 50
PROBA_WEIGHT = 0.5


def leaf_embedding(booster: xgb.Booster, data: xgb.DMatrix, rounds: int = DEFAULT_ROUNDS) -> np.ndarray:
    """Leaf index per tree of the first ``rounds`` rounds, shape (rows, trees), int32."""
    total = booster.num_boosted_rounds()
    leaves = booster.predict(data, pred_leaf=True, iteration_range=(0, max(1, min(rounds, total))))
    leaves = np.asarray(leaves)
    return leaves.reshape(leaves.shape[0], -1).astype(np.int32)


def similarity(index: np.ndarray, query: np.ndarray, proba: np.ndarray | None = None,
               query_proba: np.ndarray | None = None) -> np.ndarray:
    """0..1 per index row: the share of shared leaves, averaged with the closeness of the
    router's probabilities when both are given (see the module's note)."""
    sim = (index == query.reshape(1, -1)).mean(axis=1)
    if proba is not None and query_proba is not None and proba.shape[0] == index.shape[0]:
        close = 1.0 - np.abs(proba - query_proba.reshape(1, -1)).sum(axis=1) / 2.0
        sim = (1.0 - PROBA_WEIGHT) * sim + PROBA_WEIGHT * close
    return sim


def nearest(index: np.ndarray, query: np.ndarray, k: int = 5, exclude: np.ndarray | None = None,
            candidates: np.ndarray | None = None, proba: np.ndarray | None = None,
            query_proba: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``index`` most similar to ``query`` (one embedding row) and their similarity
    (0..1). ``exclude``/``candidates`` are boolean masks over the index rows; ``proba`` /
    ``query_proba`` the router's probabilities of the index rows and of the query."""
    if index.shape[0] == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    sim = similarity(index, query, proba, query_proba)
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
