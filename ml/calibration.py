"""Temperature scaling: one scalar T dividing the margins, fitted by
minimising log loss on a time-ordered slice the trees never saw."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


def calibrated_proba(margins: np.ndarray, temperature: float) -> np.ndarray:
    return softmax(np.asarray(margins, dtype=np.float64) / temperature, axis=1)


def log_loss(margins: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    logp = log_softmax(np.asarray(margins, dtype=np.float64) / temperature, axis=1)
    return float(-logp[np.arange(len(y)), y].mean())


def fit_temperature(margins: np.ndarray, y: np.ndarray) -> float:
    """The T in [0.25, 10] that minimises log loss; 1.0 when there is nothing to fit on.
    The bounds stop a perfectly separated calibration slice from driving T to 0
    (probabilities of exactly 1 and absurd contributions)."""
    if len(y) == 0:
        return 1.0
    # Search log T: the loss is smooth and unimodal there.
    res = minimize_scalar(lambda lt: log_loss(margins, y, float(np.exp(lt))),
                          bounds=(np.log(0.25), np.log(10.0)), method="bounded")
    best = float(np.exp(res.x))
    # Never accept a T that is worse than leaving the model alone.
    return best if log_loss(margins, y, best) <= log_loss(margins, y, 1.0) else 1.0
