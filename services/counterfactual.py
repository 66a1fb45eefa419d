"""The counterfactual for a claim's decision: the smallest change of its own
facts that would make the current champion choose the second-choice department."""
from __future__ import annotations

import json

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Claim, Department
from ml.counterfactual import Counterfactual, search, single_changes, word_candidates
from ml.text import meaningful, words
from services import currency as currency_fmt
from services.cache import cached, make_key
from services.claims_frame import load_frame
from services.privacy import mask
from services.routing import LoadedModel, load_champion, predict_frame
from services.similar_claims import numeric_grids

# A decision and a champion version never change, so the answer for the pair holds until
# either does; an hour bounds the memory it takes in the cache.
CACHE_TTL = 3600


def _text_words(model: LoadedModel, column: str, source: str, target: str, present: set[str]):
    stacker = model.pipeline.stack.get(column)
    if stacker is None or not len(stacker.coef):
        # Without a linear text model there is no cheap direction per word: only try removals.
        return [], [w for w in dict.fromkeys(words(" ".join(present))) if meaningful(w)][:8]
    terms = stacker.terms if stacker.terms is not None else model.pipeline.text[column].terms
    return word_candidates(terms, stacker.coef, stacker.classes, source, target, present)


def compute(session: Session, model: LoadedModel, claim: Claim) -> tuple[Counterfactual, dict] | None:
    frame = load_frame(session, claim.dataset, claim_ids=[claim.id])
    if frame.empty:
        return None
    pipeline = model.pipeline
    row = frame.iloc[0].to_dict()
    proba = predict_frame(model, frame)[0]
    order = np.argsort(-proba)
    if len(order) < 2:
        return None
    source, target = model.classes[order[0]], model.classes[order[1]]
    grids = numeric_grids(session, model)
    text_cols = pipeline.columns("text")
    text_col = text_cols[0] if text_cols else None
    add, drop = ([], [])
    if text_col:
        add, drop = _text_words(model, text_col, source, target, set(words(row.get(text_col))))
    singles = single_changes(
        row, categorical={c: v for c, v in pipeline.categories.items()},
        numeric_grid={c: grids[c] for c in pipeline.columns("numeric") if c in grids},
        text_column=text_col, add_words=add, drop_words=drop, has_lag=pipeline.has_lag)
    result = search(row, lambda f: predict_frame(model, f), model.classes, target, singles)
    return result, row


# Claim columns that hold money: the counterfactual words their values in the deployment's currency.
MONEY_FEATURES = frozenset({"claimed_amount", "reserve_amount", "paid_amount"})


def claim_counterfactual(session: Session, claim: Claim, *, decision_id: int | None,
                         threshold: float | None = None, currency: str = currency_fmt.DEFAULT,
                         hidden: frozenset[str] = frozenset()) -> dict | None:
    """Words and details for the page, cached per (decision, champion version). Values of
    ``hidden`` features (services.privacy.hidden_for: personal data the user may not see) are masked."""
    model = load_champion(session, claim.dataset)
    if model is None:
        return None
    # In the shared cache (Redis when configured), so every web worker profits from one search.
    key = make_key("counterfactual", session.get_bind().url.render_as_string(hide_password=True),
                   decision_id or -claim.id, model.version, threshold, currency, sorted(hidden))

    def search_now():
        computed = compute(session, model, claim)
        if computed is None:
            return None
        result, _ = computed
        names = dict(session.execute(select(Department.code, Department.name)).all())
        def show(feature, value):
            if feature in hidden:
                return mask(feature, value)
            return currency_fmt.money_short(value, currency) if feature in MONEY_FEATURES else None

        def plain(feature, value):
            return mask(feature, value) if feature in hidden else value

        out = {"found": result.found, "text": result.sentence(names, threshold, show),
               "model_version": model.version,
               "source": result.source, "target": result.target, "probability": result.probability,
               "baseline": result.baseline, "candidates": result.candidates,
               "changes": [{"feature": c.feature, "kind": c.kind, "old": plain(c.feature, c.old),
                            "new": plain(c.feature, c.new)}
                           for c in result.changes]}
        return json.loads(json.dumps(out, default=_plain))  # numpy scalars and dates as JSON types

    return cached(key, search_now, ttl=CACHE_TTL)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
