"""Text features with a learned, JSON-serialisable vocabulary.

Word uni/bi-grams carry the meaning; character n-grams inside words let the
model survive typos and abbreviations ("windsheild", "comm. center"). The
vocabulary is kept explicit (not hashed) so explanations can name the terms.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Iterable

import numpy as np
import scipy.sparse as sp

_WORD_RE = re.compile(r"[a-z0-9]+")

WORD_PREFIX = "w:"
CHAR_PREFIX = "c:"


def words(text: str | None) -> list[str]:
    if not isinstance(text, str):
        return []
    return _WORD_RE.findall(text.lower())


def _char_grams(word: str, sizes: tuple[int, ...]) -> list[str]:
    padded = f" {word} "
    return [padded[i:i + n] for n in sizes for i in range(len(padded) - n + 1)]


class TextVectorizer:
    """Word and character n-grams, top-K by document frequency, TF-IDF or binary weights."""

    def __init__(self, *, max_word_features: int = 1000, max_char_features: int = 1000,
                 min_df: int = 2, char_sizes: tuple[int, ...] = (3, 4, 5), weighting: str = "tfidf",
                 sublinear_tf: bool = False, min_token_length: int = 1):
        if weighting not in ("tfidf", "binary"):
            raise ValueError("weighting must be 'tfidf' or 'binary'")
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.min_df = min_df
        self.char_sizes = tuple(char_sizes)
        self.weighting = weighting
        # 1 + log(count) instead of the raw count (as scikit-learn's sublinear_tf).
        self.sublinear_tf = bool(sublinear_tf)
        # 2 drops 1-character tokens ("a", "s", "2") as scikit-learn's default token pattern does.
        self.min_token_length = int(min_token_length)
        self.terms: list[str] = []
        self.idf: list[float] = []
        self._index: dict[str, int] = {}

    def analyse(self, text: str | None) -> list[str]:
        """All candidate terms of one document (with repeats, for term frequency)."""
        toks = words(text)
        if self.min_token_length > 1:
            toks = [t for t in toks if len(t) >= self.min_token_length]
        out = [WORD_PREFIX + w for w in toks]
        out += [WORD_PREFIX + a + " " + b for a, b in zip(toks, toks[1:])]
        if self.max_char_features:
            for w in toks:
                out += [CHAR_PREFIX + g for g in _char_grams(w, self.char_sizes)]
        return out

    def fit(self, docs: Iterable[str | None]) -> "TextVectorizer":
        df: Counter[str] = Counter()
        n_docs = 0
        for doc in docs:
            n_docs += 1
            df.update(set(self.analyse(doc)))
        frequent = [(t, c) for t, c in df.items() if c >= self.min_df]
        # Ties broken by term so that the vocabulary is deterministic.
        frequent.sort(key=lambda tc: (-tc[1], tc[0]))
        word_terms = [tc for tc in frequent if tc[0].startswith(WORD_PREFIX)][: self.max_word_features]
        char_terms = [tc for tc in frequent if tc[0].startswith(CHAR_PREFIX)][: self.max_char_features]
        chosen = sorted(word_terms + char_terms)
        self.terms = [t for t, _ in chosen]
        self.idf = [math.log((1 + n_docs) / (1 + c)) + 1.0 for _, c in chosen]
        self._index = {t: i for i, t in enumerate(self.terms)}
        return self

    def transform(self, docs: Iterable[str | None]) -> sp.csr_matrix:
        """Rows are L2-normalised TF-IDF (or 1.0 per present term); absent terms are
        not stored, which XGBoost treats as missing."""
        idf = np.asarray(self.idf, dtype=np.float32)
        indptr, indices, data = [0], [], []
        for doc in docs:
            counts = Counter(self._index[t] for t in self.analyse(doc) if t in self._index)
            cols = sorted(counts)
            if self.weighting == "binary":
                vals = [1.0] * len(cols)
            else:
                tf = (lambda c: 1.0 + math.log(c)) if self.sublinear_tf else float
                vals = [tf(counts[c]) * idf[c] for c in cols]
                norm = math.sqrt(sum(v * v for v in vals)) or 1.0
                vals = [v / norm for v in vals]
            indices.extend(cols)
            data.extend(vals)
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32),
             np.asarray(indptr, dtype=np.int64)),
            shape=(len(indptr) - 1, len(self.terms)),
        )

    def to_dict(self) -> dict:
        return {
            "max_word_features": self.max_word_features,
            "max_char_features": self.max_char_features,
            "min_df": self.min_df,
            "char_sizes": list(self.char_sizes),
            "weighting": self.weighting,
            "sublinear_tf": self.sublinear_tf,
            "min_token_length": self.min_token_length,
            "terms": self.terms,
            "idf": self.idf,
        }

    @classmethod
    def from_dict(cls, state: dict) -> "TextVectorizer":
        vec = cls(max_word_features=state["max_word_features"], max_char_features=state["max_char_features"],
                  min_df=state["min_df"], char_sizes=tuple(state["char_sizes"]), weighting=state["weighting"],
                  sublinear_tf=state.get("sublinear_tf", False),
                  min_token_length=state.get("min_token_length", 1))
        vec.terms = list(state["terms"])
        vec.idf = [float(v) for v in state["idf"]]
        vec._index = {t: i for i, t in enumerate(vec.terms)}
        return vec


def term_words(term: str, doc_words: list[str]) -> list[str]:
    """The words of a document a vocabulary term stands for: the word(s) of a
    word n-gram, or every document word containing a character n-gram."""
    if term.startswith(WORD_PREFIX):
        return term[len(WORD_PREFIX):].split(" ")
    gram = term[len(CHAR_PREFIX):]
    return [w for w in dict.fromkeys(doc_words) if gram in f" {w} "]


# Words an explanation never quotes: they carry no meaning for a claim handler
# even when the model leans on them ("and", "the", "of").
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers him his how i if in into is it its itself just me more most my no nor not now of off on
once only or other our ours out over own same she should so some such than that the their theirs them then
there these they this those through to too under until up upon very via was we were what when where which
while who whom why will with would you your yours
""".split())
# Short tokens that are claim-handling abbreviations, quoted despite being under 3 characters.
ABBREVIATIONS = frozenset({"bi", "ee", "er", "iv", "ov", "pd", "ph", "pt", "rt", "lt", "tp", "ws", "um"})
MIN_QUOTED_LENGTH = 3


def meaningful(word: str) -> bool:
    """Whether a word of a description is worth quoting: not a stopword, not a
    bare number or punctuation, and at least 3 characters unless a known abbreviation."""
    if word in ABBREVIATIONS:
        return True
    return (len(word) >= MIN_QUOTED_LENGTH and word not in STOPWORDS
            and any(ch.isalpha() for ch in word))
