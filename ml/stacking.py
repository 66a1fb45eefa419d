"""A linear text model stacked under the trees.

Short claim descriptions are largely a linear-text problem: a multinomial
logistic regression over the TF-IDF n-grams beats trees over the same
thousands of sparse columns. The pipeline therefore fits one per text column
and hands its class log-probabilities to XGBoost as extra numeric features
whose source is the text column (so SHAP grouping still calls them
"description").

The linear model has its **own vocabulary** (every word uni/bi-gram of the
training texts, up to ``max_word_features``, sublinear TF-IDF): the trees'
n-gram columns are capped at a few thousand for explanations and tree size,
but a linear model profits from the long tail of rare words.

Training rows get **out-of-fold** log-probabilities (K contiguous folds: each
row is scored by a model fitted on the other K-1 folds, i.e. never on its own
label, and every row gets a value from a model trained on 80% of the rows);
scoring uses the model fitted on all training rows. The fitted weights are
stored in the JSON feature schema as the term list + idf of its vectoriser and
a classes x terms coefficient matrix (rounded to ``COEF_DIGITS`` decimals when
fitted, so the stored and the used model are the same), applied with numpy
(softmax of X @ W.T + b): scoring needs neither scikit-learn nor pickle.

Schema-version-2 stackers had no vocabulary of their own and read the trees'
n-gram columns; they still load and score (``vectorizer is None``).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import log_softmax

from ml.text import TextVectorizer

DEFAULT_C = 5.0
DEFAULT_FOLDS = 5
# The stacked model's own vocabulary (see ml/text.py TextVectorizer).
DEFAULT_VOCABULARY = {"max_word_features": 20000, "max_char_features": 0, "min_df": 1, "sublinear_tf": True}
COEF_DIGITS = 4
IDF_DIGITS = 6
# Log-probabilities are clipped so that an empty text or a saturated model
# cannot produce extreme values the trees split on.
MIN_LOG_PROBA = -20.0


def _fit_lr(X: sp.csr_matrix, y: np.ndarray, n_classes: int, C: float) -> tuple[np.ndarray, np.ndarray]:
    """(W (classes, terms), b (classes,)) of a multinomial logistic regression.
    Classes absent from ``y`` get a very low intercept (never predicted)."""
    from sklearn.linear_model import LogisticRegression  # training only

    present = np.unique(y)
    W = np.zeros((n_classes, X.shape[1]))
    b = np.full(n_classes, MIN_LOG_PROBA)
    if len(present) == 1:
        b[present[0]] = 0.0
        return W, b
    lr = LogisticRegression(C=C, max_iter=1000, tol=1e-4)
    lr.fit(X, y)
    coef, intercept = lr.coef_, lr.intercept_
    if len(present) == 2:  # sklearn stores one row for two classes: log-odds of the second
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    W[present] = coef
    b[present] = intercept
    return W, b


def _log_proba(X: sp.csr_matrix, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    scores = np.asarray(X @ W.T) + b
    return np.maximum(log_softmax(scores, axis=1), MIN_LOG_PROBA)


def time_folds(n: int, k: int) -> list[np.ndarray]:
    """K contiguous blocks of row positions (rows arrive in time order)."""
    return [f for f in np.array_split(np.arange(n), k) if len(f)]


class TextStacker:
    """Multinomial logistic regression on one text column."""

    def __init__(self, *, C: float = DEFAULT_C, folds: int = DEFAULT_FOLDS, vocabulary: dict | None = None,
                 own_vocabulary: bool = True):
        self.C = float(C)
        self.folds = int(folds)
        self.vocabulary = {**DEFAULT_VOCABULARY, **(vocabulary or {})}
        # None: the model reads the trees' n-gram columns (schema version 2).
        self.vectorizer: TextVectorizer | None = TextVectorizer(**self.vocabulary) if own_vocabulary else None
        self.classes: list[str] = []
        self.coef = np.zeros((0, 0))
        self.intercept = np.zeros(0)

    @property
    def terms(self) -> list[str] | None:
        return self.vectorizer.terms if self.vectorizer is not None else None

    def matrix(self, texts: list, grams: sp.csr_matrix | None = None) -> sp.csr_matrix:
        """The model's input for these texts (``grams``: the trees' n-gram block,
        used only by vocabulary-less version-2 stackers)."""
        if self.vectorizer is None:
            return sp.csr_matrix(grams, dtype=np.float64)
        return sp.csr_matrix(self.vectorizer.transform(texts), dtype=np.float64)

    def fit_oof(self, texts: list, labels: list[str], grams: sp.csr_matrix | None = None) -> np.ndarray:
        """Fit on all rows and return the rows' out-of-fold log-probabilities."""
        from threadpoolctl import threadpool_limits  # training only (a scikit-learn dependency)

        if self.vectorizer is not None:
            # Unsupervised (no labels): the vocabulary of all training texts.
            self.vectorizer.fit(texts)
            self.vectorizer.idf = [round(v, IDF_DIGITS) for v in self.vectorizer.idf]
        X = self.matrix(texts, grams)
        # lbfgs on a sparse matrix does small dense products: OpenBLAS threads
        # spinning on a shared 2-core host made the fits 5-9x slower than one thread.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit_oof(X, labels)

    def _fit_oof(self, X: sp.csr_matrix, labels: list[str]) -> np.ndarray:
        self.classes = sorted(set(labels))
        index = {c: i for i, c in enumerate(self.classes)}
        y = np.array([index[c] for c in labels])
        n, k = X.shape[0], len(self.classes)
        oof = np.empty((n, k))
        folds = time_folds(n, min(self.folds, n)) if n >= 2 * self.folds else []
        if len(folds) < 2:
            # Too few rows to hold any out: no text signal rather than a leaked one.
            oof[:] = np.log(np.bincount(y, minlength=k).clip(1) / n)
        for held in folds:
            mask = np.ones(n, dtype=bool)
            mask[held] = False
            W, b = _fit_lr(X[mask], y[mask], k, self.C)
            oof[held] = _log_proba(X[held], W, b)
        W, b = _fit_lr(X, y, k, self.C)
        self.coef, self.intercept = np.round(W, COEF_DIGITS), np.round(b, COEF_DIGITS)
        return np.maximum(oof, MIN_LOG_PROBA)

    def log_proba(self, texts: list, grams: sp.csr_matrix | None = None) -> np.ndarray:
        return _log_proba(self.matrix(texts, grams), self.coef, self.intercept)

    def term_scores(self, row: sp.csr_matrix, class_index: int) -> dict[int, float]:
        """Per present term j of one row of ``matrix``: how much it moves the
        class's log-odds against the average class ((w_pj - mean_k w_kj) * x_j)."""
        centred = self.coef[class_index] - self.coef.mean(axis=0)
        return {int(j): float(centred[j] * v) for j, v in zip(row.indices, row.data)}

    def to_dict(self) -> dict:
        out = {"C": self.C, "folds": self.folds, "classes": self.classes,
               "coef": self.coef.tolist(), "intercept": self.intercept.tolist()}
        if self.vectorizer is not None:
            out["vectorizer"] = self.vectorizer.to_dict()
        return out

    @classmethod
    def from_dict(cls, state: dict) -> "TextStacker":
        own = "vectorizer" in state
        st = cls(C=state["C"], folds=state["folds"], own_vocabulary=own)
        if own:
            st.vectorizer = TextVectorizer.from_dict(state["vectorizer"])
            st.vocabulary = {k: state["vectorizer"][k] for k in DEFAULT_VOCABULARY}
        st.classes = list(state["classes"])
        st.coef = np.asarray(state["coef"], dtype=np.float64).reshape(len(st.classes), -1)
        st.intercept = np.asarray(state["intercept"], dtype=np.float64)
        return st
