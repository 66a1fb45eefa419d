"""Counterfactuals and leaf-proximity neighbours on a small trained router (no database)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.counterfactual import Change, apply, search, single_changes, word_candidates
from ml.features import FeaturePipeline
from ml.neighbours import leaf_embedding, nearest
from ml.router import train_router
from tests.specs import BASIC_SPEC

SPEC = BASIC_SPEC
WORDS = {"AUTO_GLASS": "windshield", "PROPERTY": "roof", "LIABILITY": "slipped"}


def _claims(n: int, seed: int = 0) -> pd.DataFrame:
    """Line of business decides auto vs the rest; big amounts are liability; the description hints."""
    rng = np.random.default_rng(seed)
    lob = rng.choice(["auto", "property"], n)
    amount = rng.gamma(2.0, 1000.0, n)
    big = rng.random(n) < 0.3
    amount[big] = rng.uniform(50_000, 90_000, big.sum())
    label = np.where(big, "LIABILITY", np.where(lob == "auto", "AUTO_GLASS", "PROPERTY"))
    loss = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    return pd.DataFrame({
        "description": [f"claim {WORDS[c] if rng.random() < 0.5 else 'reported'} today" for c in label],
        "line_of_business": lob, "claimed_amount": amount, "loss_date": loss,
        "report_date": loss + pd.to_timedelta(rng.integers(0, 30, n), unit="D"), "department": label,
    })


@pytest.fixture(scope="module")
def model():
    frame = _claims(900)
    pipe = FeaturePipeline(SPEC, text_options={"min_df": 1})
    labels = frame["department"].tolist()
    router, _ = train_router(pipe.fit_transform(frame, labels), labels, pipe.feature_types,
                             params={"num_boost_round": 60})
    predict = lambda f: router.predict_proba(pipe.transform(f))  # noqa: E731
    grid = {"claimed_amount": sorted(frame["claimed_amount"].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).tolist())}
    return pipe, router, predict, grid, frame


def _singles(pipe, row, grid, source, target):
    st = pipe.stack["description"]
    add, drop = word_candidates(st.terms, st.coef, st.classes, source, target,
                                set(str(row["description"]).split()))
    return single_changes(row, categorical=pipe.categories, numeric_grid=grid, text_column="description",
                          add_words=add, drop_words=drop, has_lag=pipe.has_lag)


def test_counterfactual_flips_the_decision_and_says_so(model):
    pipe, router, predict, grid, _ = model
    row = {"description": "claim reported today", "line_of_business": "auto", "claimed_amount": 1200.0,
           "loss_date": "2025-03-01", "report_date": "2025-03-04"}
    classes = router.classes
    proba = predict(pd.DataFrame([row]))[0]
    assert classes[proba.argmax()] == "AUTO_GLASS"
    result = search(row, predict, classes, "PROPERTY", _singles(pipe, row, grid, "AUTO_GLASS", "PROPERTY"))
    assert result.found and result.source == "AUTO_GLASS"
    assert len(result.changes) == 1 and result.changes[0].feature == "line_of_business"
    assert result.changes[0].new == "property"
    # Re-predict the edited claim independently: the second choice is now the first.
    edited = predict(pd.DataFrame([apply(row, result.changes)]))[0]
    assert classes[edited.argmax()] == "PROPERTY"
    assert edited[classes.index("PROPERTY")] == pytest.approx(result.probability, abs=1e-6)
    text = result.sentence({"PROPERTY": "Property"}, threshold=0.5)
    assert text.startswith("If the line of business were property instead of auto, SCOPE would route it to Property (")


def test_every_found_counterfactual_really_flips(model):
    pipe, router, predict, grid, frame = model
    classes = router.classes
    checked = 0
    for row in frame.drop(columns="department").head(40).to_dict("records"):
        proba = predict(pd.DataFrame([row]))[0]
        source, target = (classes[i] for i in np.argsort(-proba)[:2])
        result = search(row, predict, classes, target, _singles(pipe, row, grid, source, target))
        assert result.candidates <= 200
        if result.found:
            checked += 1
            edited = predict(pd.DataFrame([apply(row, result.changes)]))[0]
            assert classes[edited.argmax()] == target
    assert checked >= 10


def test_not_found_is_said_honestly(model):
    pipe, router, predict, grid, _ = model
    row = {"description": "claim reported today", "line_of_business": "auto", "claimed_amount": 1200.0,
           "loss_date": "2025-03-01", "report_date": "2025-03-04"}
    only_dates = [Change("report_date", "lag", 3, 4, 0.01)]
    result = search(row, predict, router.classes, "LIABILITY", only_dates)
    assert not result.found and result.candidates == 1
    assert "No small change" in result.sentence({"LIABILITY": "Liability"})


def test_a_lag_of_one_day_is_singular():
    assert Change("report_date", "lag", 1, 30, 0.2).describe() == \
        "the claim had been reported 30 days after the loss (not 1 day)"
    assert "reported 1 day after the loss (not 0 days)" in Change("report_date", "lag", 0, 1, 0.2).describe()


def test_apply_edits_words_and_lag():
    row = {"description": "Roof leak, roof damaged", "loss_date": "2025-01-01", "report_date": "2025-01-02"}
    out = apply(row, [Change("description", "word_drop", "roof", None, 1), Change("description", "word_add", None, "pipe", 1),
                      Change("report_date", "lag", 1, 30, 0.2)])
    assert out["description"] == "leak damaged pipe"
    assert str(out["report_date"]) == "2025-01-31"
    assert row["description"] == "Roof leak, roof damaged"  # the claim itself is untouched


def test_neighbours_rank_alike_claims_first(model):
    pipe, router, _, _, frame = model
    leaves = leaf_embedding(router.booster, router.dmatrix(pipe.transform(frame)), rounds=20)
    assert leaves.shape == (len(frame), 20 * len(router.classes))
    rows, sims = nearest(leaves, leaves[0], k=5, exclude=np.arange(len(frame)) == 0)
    assert 0 not in rows and len(rows) == 5 and list(sims) == sorted(sims, reverse=True)
    labels = frame["department"].to_numpy()
    assert (labels[rows] == labels[0]).mean() >= 0.8
    only = np.zeros(len(frame), dtype=bool)
    only[[3, 4]] = True
    rows, _ = nearest(leaves, leaves[0], k=5, candidates=only)
    assert set(rows) == {3, 4}


def test_an_amount_is_worded_by_the_caller_and_the_rest_by_ml():
    """ml/ knows no currencies: the service words amounts in the deployment's own."""
    from ml.counterfactual import Change, Counterfactual

    cf = Counterfactual(found=True, source="AUTO_PD", target="AUTO_GLASS", probability=0.61, changes=[
        Change("claimed_amount", "numeric", 4419.46, 450.0, 1.0), Change("vehicle_count", "numeric", None, 1.0, 1.0)])

    def show(feature, value):
        return f"€{value:,.0f}" if feature == "claimed_amount" else None

    text = cf.sentence({"AUTO_GLASS": "Auto Glass"}, show=show)
    assert "the claimed amount were €450 instead of €4,419" in text
    assert "the vehicle count were 1 (not given now)" in text
    assert "claimed amount were 450 instead of 4,419" in cf.sentence({})  # without a caller's words


def test_a_yes_no_fact_reads_yes_or_no_not_true_or_false():
    change = Change("injury_reported", "categorical", "true", "false", 1.0)
    assert change.describe() == "the injury reported were “no” instead of “yes”"
    assert Change("police_report", "categorical", None, "true", 1.0).describe() == \
        "the police report were “yes” (not given now)"
