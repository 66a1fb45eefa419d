"""Turn per-feature SHAP contributions into what a claim handler can read.

Thousands of n-gram columns mean nothing on their own, so contributions are
summed per *source column* (all n-grams of the description become one
"description" driver, and so do the stacked linear text model's class
log-probabilities, or, when the text model is the router's base margin, the
terms' part of its logits; month/weekday/lag become their date column) and the
description's share is traced back to the words of the claim itself.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from ml.features import FeaturePipeline
from ml.text import CHAR_PREFIX, meaningful, term_words, words

TOP_DRIVERS = 6
TOP_TERMS = 3
# Drivers smaller than this (in logit units) are noise and are not listed.
MIN_DRIVER = 0.005
DIGITS = 4


def driver_names(pipeline: FeaturePipeline) -> list[str]:
    return list(dict.fromkeys(pipeline.sources))


def group_by_source(contribs: np.ndarray, pipeline: FeaturePipeline) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(grouped (rows, classes, drivers), base (rows, classes), driver names)."""
    names = driver_names(pipeline)
    col = {n: j for j, n in enumerate(names)}
    sources = pipeline.sources
    grouping = sp.csr_matrix((np.ones(len(sources)), (np.arange(len(sources)), [col[s] for s in sources])),
                             shape=(len(sources), len(names)))
    n, k, f1 = contribs.shape
    grouped = (sp.csr_matrix(contribs[:, :, : f1 - 1].reshape(n * k, f1 - 1)) @ grouping).toarray()
    return grouped.reshape(n, k, len(names)), contribs[:, :, f1 - 1], names


def _stacked_term_shares(row_contribs: np.ndarray, row_features: sp.csr_matrix, pipeline: FeaturePipeline,
                         column: str, text: str | None, class_name: str | None) -> list[tuple[str, float]]:
    """The SHAP contribution of the column's stacked linear-model features, shared
    out over the claim's own terms by what each added to the linear model's
    score for the class (coefficient x tf-idf weight). Only terms pushing the
    same way as the stacked total get a share, in proportion to their size.
    Returns (vocabulary term, share) pairs; the terms are the stacked model's
    own word uni/bi-grams (version-2 stackers: the trees' n-grams)."""
    stacker = pipeline.stack.get(column)
    if stacker is None or class_name not in stacker.classes:
        return []
    total = float(row_contribs[pipeline.stack_slice(column)].sum())
    if stacker.vectorizer is not None:
        own, terms = stacker.matrix([text]), stacker.terms
    else:
        span = pipeline.text_slice(column)
        own, terms = row_features[:, span.start:span.stop], pipeline.text[column].terms
    if stacker.output == "margin":
        # Base-margin text model: the block holds exactly the terms' part of the class
        # logit (divided by the temperature), i.e. the sum of w_cj * x_j over the claim's
        # terms: every term gets its own exact share, whatever its sign.
        exact = stacker.term_logits(own, stacker.classes.index(class_name))
        logit = sum(exact.values())
        if abs(logit) < 1e-12:
            return []
        return [(terms[j], total * v / logit) for j, v in exact.items() if v != 0.0]
    scores = {j: v for j, v in stacker.term_scores(own, stacker.classes.index(class_name)).items()
              if v * total > 0}
    weight = sum(abs(v) for v in scores.values())
    return [(terms[j], total * abs(v) / weight) for j, v in scores.items()] if weight > 0 else []


def top_terms(row_contribs: np.ndarray, row_features: sp.csr_matrix, pipeline: FeaturePipeline,
              column: str, text: str | None, sign: float, class_name: str | None = None) -> list[dict]:
    """The words of this claim's text that pushed hardest in direction ``sign``
    (contributions of word and character n-grams present in the text, plus their
    share of the stacked linear model's contribution, summed per word).

    Only meaningful words are quoted (``ml.text.meaningful``: no stopwords, bare
    numbers or words under 3 characters other than known abbreviations); an
    n-gram's contribution goes to its meaningful words only. Words backed by a
    whole-word uni/bi-gram are preferred: words reached through character
    n-grams alone are quoted only when no such word pushes the same way."""
    span = pipeline.text_slice(column)
    terms = pipeline.text[column].terms
    doc_words = words(text)
    present = set(doc_words)
    whole: dict[str, float] = defaultdict(float)  # from word uni/bi-grams
    chars: dict[str, float] = defaultdict(float)  # from character n-grams

    def add(term: str, contribution: float) -> None:
        matched = [w for w in dict.fromkeys(term_words(term, doc_words)) if w in present and meaningful(w)]
        target = chars if term.startswith(CHAR_PREFIX) else whole
        for w in matched:
            target[w] += contribution / len(matched)

    active = row_features.indices[(row_features.indices >= span.start) & (row_features.indices < span.stop)]
    for j in active:
        add(terms[j - span.start], float(row_contribs[j]))
    for term, share in _stacked_term_shares(row_contribs, row_features, pipeline, column, text, class_name):
        add(term, share)
    per_word = {w: whole.get(w, 0.0) + chars.get(w, 0.0) for w in set(whole) | set(chars)}
    backed = {w: c for w, c in per_word.items() if c * sign > 0 and whole.get(w, 0.0) * sign > 0}
    pool = backed or {w: c for w, c in per_word.items() if c * sign > 0}
    ranked = sorted(pool.items(), key=lambda wc: (-abs(wc[1]), wc[0]))
    return [{"term": w, "contribution": round(c, DIGITS)} for w, c in ranked[:TOP_TERMS]]


_PREPOSITIONS = frozenset({"via", "by", "from", "in", "at", "on", "through", "with"})


def _label(name: str) -> str:
    return name.replace("_", " ")


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.2f}"


def _effect(contribution: float, department: str) -> str:
    sign = "+" if contribution >= 0 else "\u2212"
    size = abs(contribution)
    return f"({sign}{size:.1f} toward {department})" if size >= 0.1 else f"({sign}{size:.2f} toward {department})"


def describe(driver: str, kind: str, contribution: float, raw: dict, terms: list[dict], department: str,
             show: Callable[[str, Any], str | None] | None = None) -> str:
    """One plain sentence per driver, e.g. "claimed amount 12,400 (+0.6 toward Property)".
    ``show(driver, value)`` words a number the caller knows better (an amount in its currency)."""
    value = raw.get(driver)
    label = _label(driver)
    if kind == "text":
        if terms:
            quoted = ", ".join(f"'{t['term']}'" for t in terms)
            what = f"{label} mentions {quoted}"
        else:
            what = f"{label} is empty" if not words(value) else f"{label} has no decisive words"
    elif value is None:
        what = f"{label} not given"
    elif kind == "numeric":
        what = f"{label} {(show(driver, value) if show is not None else None) or _number(value)}"
    elif kind == "categorical" and str(value).lower() in ("true", "false"):
        # "injury reported: no", not "injury reported is false"
        what = f"{label}: {'yes' if str(value).lower() == 'true' else 'no'}"
    elif kind == "categorical":
        # "reported via mobile app", not "reported via is mobile_app"
        shown = str(value).replace("_", " ")
        joiner = " " if label.rsplit(" ", 1)[-1] in _PREPOSITIONS else " is "
        what = f"{label}{joiner}{shown}"
    else:
        what = f"{label} {value}"
        lag = _lag_days(raw) if driver == "report_date" else None
        if lag is not None:
            what += f", {abs(lag)} day{'' if abs(lag) == 1 else 's'} {'before' if lag < 0 else 'after'} loss"
    return f"{what} {_effect(contribution, department)}"


def _lag_days(raw: dict) -> int | None:
    if raw.get("loss_date") and raw.get("report_date"):
        return (dt.date.fromisoformat(raw["report_date"]) - dt.date.fromisoformat(raw["loss_date"])).days
    return None


def explain_rows(contribs: np.ndarray, X: sp.csr_matrix, pipeline: FeaturePipeline, raw_rows: list[dict],
                 classes: list[str], predicted: list[int], department_names: dict[str, str]) -> list[tuple[dict, list]]:
    """For each row: (shap_values, drivers).

    shap_values = {"base": {class: b}, class: {driver: c}, ..., "terms": {text column: [{term, contribution}]}}
    drivers = top drivers of the predicted class: [{"feature", "contribution", "text"}], largest |c| first.
    """
    grouped, base, names = group_by_source(contribs, pipeline)
    kinds = {n: pipeline.kind_of(n) for n in names}
    text_cols = pipeline.columns("text")
    out = []
    for i, raw in enumerate(raw_rows):
        p = predicted[i]
        shap_values: dict = {"base": {c: round(float(base[i, j]), DIGITS) for j, c in enumerate(classes)}}
        for j, c in enumerate(classes):
            shap_values[c] = {n: round(float(grouped[i, j, g]), DIGITS) for g, n in enumerate(names)}
        row_features = X[i]
        terms = {col: top_terms(contribs[i, p], row_features, pipeline, col, raw.get(col),
                                1.0 if grouped[i, p, names.index(col)] >= 0 else -1.0, classes[p])
                 for col in text_cols}
        shap_values["terms"] = terms
        department = department_names.get(classes[p], classes[p])
        order = np.argsort(-np.abs(grouped[i, p]), kind="stable")[:TOP_DRIVERS]
        drivers = [{"feature": names[g], "contribution": round(float(grouped[i, p, g]), DIGITS),
                    "text": describe(names[g], kinds[names[g]], float(grouped[i, p, g]), raw,
                                     terms.get(names[g], []), department)}
                   for g in order if abs(grouped[i, p, g]) >= MIN_DRIVER]
        out.append((shap_values, drivers))
    return out
