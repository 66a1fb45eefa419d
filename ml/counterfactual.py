"""What would have to differ for a claim to go to another department.

Searches small edits of the claim's own facts (one at a time, then pairs of
the most promising ones), scores every candidate in one batch with the model,
and keeps the smallest edit that makes the target class the top class:
fewest facts changed, then the smallest total magnitude (numeric moves are
measured in quantile ranks, categorical swaps and words count as 1).
Pure: the caller passes a ``predict`` function (frame -> probabilities).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from ml.text import WORD_PREFIX, meaningful, words

MAX_CATEGORY_VALUES = 6
MAX_WORDS = 8
TOP_FOR_PAIRS = 12
MAX_PER_FEATURE = 2
LAG_DAYS = (0, 1, 3, 7, 14, 30, 60, 120)
DEFAULT_BUDGET = 200


@dataclass(frozen=True)
class Change:
    feature: str
    kind: str            # categorical | numeric | word_add | word_drop | lag
    old: Any
    new: Any
    magnitude: float

    def describe(self, show: Callable[[str, Any], str | None] | None = None) -> str:
        """``show(feature, value)`` words a value the caller knows better (an amount in
        the deployment's currency; ml/ knows no currencies), or returns None."""
        name = self.feature.replace("_", " ")
        if self.kind == "word_add":
            return f'the description mentioned "{self.new}"'
        if self.kind == "word_drop":
            return f'the description did not mention "{self.old}"'
        if self.kind == "lag":
            def days(n) -> str:
                return f"{n} day" if n in (1, -1) else f"{n} days"

            old = "unknown" if self.old is None else days(self.old)
            return f"the claim had been reported {days(self.new)} after the loss (not {old})"
        def word(value) -> str:
            text = show(self.feature, value) if show is not None and not _missing(value) else None
            return _show(value) if text is None else text

        if _missing(self.old):
            return f"the {name} were {word(self.new)} (not given now)"
        return f"the {name} were {word(self.new)} instead of {word(self.old)}"


@dataclass
class Counterfactual:
    found: bool
    source: str
    target: str
    changes: list[Change] = field(default_factory=list)
    probability: float = 0.0          # of the target after the change
    baseline: float = 0.0             # of the target now
    candidates: int = 0

    def sentence(self, names: dict[str, str], threshold: float | None = None,
                 show: Callable[[str, Any], str | None] | None = None) -> str:
        target = names.get(self.target, self.target)
        if not self.found:
            return (f"No small change to this claim's facts ({self.candidates} tried) would make "
                    f"{target} SCOPE's first choice.")
        facts = " and ".join(c.describe(show) for c in self.changes)
        if threshold is not None and self.probability < threshold:
            return (f"If {facts}, {target} would become SCOPE's first choice ({self.probability:.0%}), "
                    f"still below the {threshold:.0%} threshold, so it would go to Triage.")
        return f"If {facts}, SCOPE would route it to {target} ({self.probability:.0%})."


def _show(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not given"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"
    if str(value).lower() in ("true", "false"):  # "were false instead of true" is code, not English
        return "“yes”" if str(value).lower() == "true" else "“no”"
    return str(value).replace("_", " ")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _as_date(value):
    if _missing(value):
        return None
    ts = pd.to_datetime(value, errors="coerce")
    return None if pd.isna(ts) else ts.date()


def _rank(grid: list[float], value: float) -> float:
    """Quantile rank of a value on a grid of quantiles (0..1)."""
    if not grid:
        return 0.0
    return float(np.searchsorted(np.asarray(grid), value, side="left")) / max(1, len(grid) - 1)


def single_changes(row: dict, *, categorical: dict[str, list[str]], numeric_grid: dict[str, list[float]],
                   text_column: str | None, add_words: list[str], drop_words: list[str],
                   has_lag: bool) -> list[Change]:
    """Candidate one-fact edits of ``row`` (the raw claim values the model reads)."""
    out: list[Change] = []
    for col, values in categorical.items():
        current = None if _missing(row.get(col)) else str(row.get(col)).strip()
        for v in values[:MAX_CATEGORY_VALUES]:
            if v != current:
                out.append(Change(col, "categorical", current, v, 1.0))
    for col, grid in numeric_grid.items():
        raw = pd.to_numeric(pd.Series([row.get(col)]), errors="coerce").iloc[0]
        current = None if pd.isna(raw) else float(raw)
        here = _rank(grid, current) if current is not None else 0.5
        for v in dict.fromkeys(grid):
            if current is None or not math.isclose(v, current, rel_tol=1e-9, abs_tol=1e-9):
                out.append(Change(col, "numeric", current, float(v), abs(_rank(grid, v) - here) or 0.01))
    if text_column:
        present = set(words(row.get(text_column)))
        out += [Change(text_column, "word_add", None, w, 1.0) for w in add_words[:MAX_WORDS] if w not in present]
        out += [Change(text_column, "word_drop", w, None, 1.0) for w in drop_words[:MAX_WORDS] if w in present]
    if has_lag:
        loss, report = _as_date(row.get("loss_date")), _as_date(row.get("report_date"))
        if loss is not None:
            lag = None if report is None else (report - loss).days
            for days in LAG_DAYS:
                if days != lag:
                    out.append(Change("report_date", "lag", lag, days,
                                      abs(days - (lag or 0)) / max(LAG_DAYS)))
    return out


def apply(row: dict, changes: list[Change] | tuple[Change, ...]) -> dict:
    new = dict(row)
    for c in changes:
        if c.kind in ("categorical", "numeric"):
            new[c.feature] = c.new
        elif c.kind == "word_add":
            new[c.feature] = f"{new.get(c.feature) or ''} {c.new}".strip()
        elif c.kind == "word_drop":
            kept = [w for w in words(new.get(c.feature)) if w != c.old]
            new[c.feature] = " ".join(kept)
        elif c.kind == "lag":
            new["report_date"] = _as_date(new.get("loss_date")) + dt.timedelta(days=int(c.new))
    return new


def _overlaps(a: Change, b: Change) -> bool:
    return a.feature == b.feature and not (a.kind.startswith("word") and b.kind.startswith("word"))


def search(row: dict, predict: Callable[[pd.DataFrame], np.ndarray], classes: list[str], target: str,
           singles: list[Change], *, budget: int = DEFAULT_BUDGET) -> Counterfactual:
    """Score the single edits (and, if none flips the decision, pairs of the
    ones that moved most toward ``target``) within ``budget`` rows in total."""
    t = classes.index(target)
    singles = singles[: max(0, budget - 1)]
    frame = pd.DataFrame([row] + [apply(row, [c]) for c in singles])
    proba = predict(frame)
    base, proba = proba[0], proba[1:]
    source = classes[int(base.argmax())]
    result = Counterfactual(False, source, target, baseline=float(base[t]), candidates=len(singles))
    best = _best([(c,) for c in singles], proba, t)
    if best is None and singles and budget - 1 - len(singles) > 0:
        # The gain over the runner-up class: how close each edit got to flipping.
        gap = proba[:, t] - np.where(np.arange(proba.shape[1]) == t, -np.inf, proba).max(axis=1)
        top, per_feature = [], {}
        for i in np.argsort(-gap):
            # Keep the pair pool diverse: the best two edits of each fact at most.
            c = singles[i]
            if per_feature.get(c.feature, 0) < MAX_PER_FEATURE:
                top.append(c)
                per_feature[c.feature] = per_feature.get(c.feature, 0) + 1
            if len(top) == TOP_FOR_PAIRS:
                break
        pairs = [(a, b) for i, a in enumerate(top) for b in top[i + 1:] if not _overlaps(a, b)]
        pairs = pairs[: budget - 1 - len(singles)]
        if pairs:
            pair_proba = predict(pd.DataFrame([apply(row, list(p)) for p in pairs]))
            result.candidates += len(pairs)
            best = _best(pairs, pair_proba, t)
    if best is not None:
        changes, p = best
        result.found, result.changes, result.probability = True, list(changes), p
    return result


def _best(options: list[tuple[Change, ...]], proba: np.ndarray, t: int):
    flipped = [i for i in range(len(options)) if int(proba[i].argmax()) == t]
    if not flipped:
        return None
    i = min(flipped, key=lambda i: (len(options[i]), round(sum(c.magnitude for c in options[i]), 6), -proba[i, t]))
    return options[i], float(proba[i, t])


def word_candidates(terms: list[str], coef: np.ndarray, classes: list[str], source: str, target: str,
                    present: set[str]) -> tuple[list[str], list[str]]:
    """Single words of a linear text model's vocabulary that push from ``source``
    toward ``target`` (to add) and present words that push the other way (to drop)."""
    if source not in classes or target not in classes:
        return [], []
    diff = coef[classes.index(target)] - coef[classes.index(source)]
    scored = [(diff[j], term[len(WORD_PREFIX):]) for j, term in enumerate(terms)
              if term.startswith(WORD_PREFIX) and " " not in term and meaningful(term[len(WORD_PREFIX):])]
    add = [w for s, w in sorted(scored, reverse=True) if s > 0 and w not in present][:MAX_WORDS]
    drop = [w for s, w in sorted(scored) if s < 0 and w in present][:MAX_WORDS]
    return add, drop
