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
(softmax of X @ W.T + b): scoring needs neither scikit-learn nor Python object serialisation.

**Output** (``output``): ``"log_proba"`` (schema versions 2-3) hands the
class log-probabilities to the trees as features; ``"margin"`` (version 4,
the default) hands the class *logits* to the router as XGBoost's base margin,
so the trees start from the text model and only learn residual corrections
from the other features. The block is then 2K columns: the terms' part of the
logits (X @ W.T) and the intercepts b (constant per row); their sum is the
logit. Keeping the intercept apart lets an explanation put it into the base
value and the terms' part, exactly decomposable per term, into the text driver.

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
DEFAULT_VOCABULARY = {"max_word_features": 20000, "max_char_features": 0, "min_df": 1, "sublinear_tf": True,
                      "min_token_length": 1}
OUTPUTS = ("log_proba", "margin")
DEFAULT_OUTPUT = "margin"
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


def _logit_parts(X: sp.csr_matrix, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[terms' part X @ W.T | intercept b]: (rows, 2K), summing the halves gives the logits."""
    return np.hstack([np.asarray(X @ W.T), np.tile(b, (X.shape[0], 1))])


def time_folds(n: int, k: int) -> list[np.ndarray]:
    """K contiguous blocks of row positions (rows arrive in time order)."""
    return [f for f in np.array_split(np.arange(n), k) if len(f)]


class TextStacker:
    """Multinomial logistic regression on one text column."""

    def __init__(self, *, C: float = DEFAULT_C, folds: int = DEFAULT_FOLDS, vocabulary: dict | None = None,
                 own_vocabulary: bool = True, output: str = "log_proba"):
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}")
        self.output = output
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

    @property
    def width(self) -> int:
        """Columns of ``block``: K log-probabilities, or 2K logit parts (terms, intercept)."""
        return len(self.classes) * (2 if self.output == "margin" else 1)

    def fit_oof(self, texts: list, labels: list[str], grams: sp.csr_matrix | None = None) -> np.ndarray:
        """Fit on all rows and return the rows' out-of-fold ``block`` (log-probabilities
        or logit parts, see ``output``)."""
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
        margin = self.output == "margin"
        oof = np.zeros((n, 2 * k if margin else k))
        folds = time_folds(n, min(self.folds, n)) if n >= 2 * self.folds else []
        if len(folds) < 2:
            # Too few rows to hold any out: no text signal rather than a leaked one.
            prior = np.log(np.bincount(y, minlength=k).clip(1) / n)
            oof[:, k if margin else 0:] = prior
        for held in folds:
            mask = np.ones(n, dtype=bool)
            mask[held] = False
            W, b = _fit_lr(X[mask], y[mask], k, self.C)
            oof[held] = _logit_parts(X[held], W, b) if margin else _log_proba(X[held], W, b)
        W, b = _fit_lr(X, y, k, self.C)
        self.coef, self.intercept = np.round(W, COEF_DIGITS), np.round(b, COEF_DIGITS)
        return oof if margin else np.maximum(oof, MIN_LOG_PROBA)

    def log_proba(self, texts: list, grams: sp.csr_matrix | None = None) -> np.ndarray:
        return _log_proba(self.matrix(texts, grams), self.coef, self.intercept)

    def block(self, texts: list, grams: sp.csr_matrix | None = None) -> np.ndarray:
        """What the pipeline hands on at scoring (model fitted on all training rows)."""
        if self.output == "margin":
            return _logit_parts(self.matrix(texts, grams), self.coef, self.intercept)
        return self.log_proba(texts, grams)

    def term_logits(self, row: sp.csr_matrix, class_index: int) -> dict[int, float]:
        """Per present term j of one row of ``matrix``: its exact part w_kj * x_j of the
        class's logit (they sum to the logit minus the intercept)."""
        coef = self.coef[class_index]
        return {int(j): float(coef[j] * v) for j, v in zip(row.indices, row.data)}

    def term_scores(self, row: sp.csr_matrix, class_index: int) -> dict[int, float]:
        """Per present term j of one row of ``matrix``: how much it moves the
        class's log-odds against the average class ((w_pj - mean_k w_kj) * x_j)."""
        centred = self.coef[class_index] - self.coef.mean(axis=0)
        return {int(j): float(centred[j] * v) for j, v in zip(row.indices, row.data)}

    def to_dict(self) -> dict:
        out = {"C": self.C, "folds": self.folds, "output": self.output, "classes": self.classes,
               "coef": self.coef.tolist(), "intercept": self.intercept.tolist()}
        if self.vectorizer is not None:
            out["vectorizer"] = self.vectorizer.to_dict()
        return out

    @classmethod
    def from_dict(cls, state: dict) -> "TextStacker":
        own = "vectorizer" in state
        st = cls(C=state["C"], folds=state["folds"], own_vocabulary=own, output=state.get("output", "log_proba"))
        if own:
            st.vectorizer = TextVectorizer.from_dict(state["vectorizer"])
            st.vocabulary = st.vectorizer.to_dict()
            st.vocabulary = {k: st.vocabulary[k] for k in DEFAULT_VOCABULARY}
        st.classes = list(state["classes"])
        st.coef = np.asarray(state["coef"], dtype=np.float64).reshape(len(st.classes), -1)
        st.intercept = np.asarray(state["intercept"], dtype=np.float64)
        return st
