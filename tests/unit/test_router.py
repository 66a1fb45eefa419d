"""Router training, calibration, metrics and explanations (no database)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ml.calibration import calibrated_proba, fit_temperature, log_loss
from ml.explain import explain_rows, group_by_source
from ml.features import FeaturePipeline
from ml.metrics import classification_report, expected_calibration_error, majority_baseline
from ml.router import TRIAGE, Router, class_weights, route, train_router
from ml.text import meaningful, words
from tests.specs import BASIC_SPEC

SPEC = BASIC_SPEC
PHRASES = {
    "AUTO_GLASS": ["cracked windshield", "windshield chip", "side window glass broken"],
    "PROPERTY": ["roof leak after storm", "burst pipe in kitchen", "hail damage to roof"],
    "LIABILITY": ["customer slipped on floor", "visitor fell on stairs", "slip and fall"],
}
NAMES = {"AUTO_GLASS": "Auto Glass", "PROPERTY": "Property", "LIABILITY": "Liability / Bodily Injury"}


def _claims(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes = sorted(PHRASES)
    label = [codes[i % 3] for i in range(n)]
    loss = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    return pd.DataFrame({
        "description": [rng.choice(PHRASES[c]) for c in label],
        "line_of_business": [("auto" if c == "AUTO_GLASS" else "property") if rng.random() < 0.7 else None
                             for c in label],
        "claimed_amount": rng.gamma(2.0, 2000.0, n),
        "loss_date": loss,
        "report_date": loss + pd.to_timedelta(rng.integers(0, 30, n), unit="D"),
        "department": label,
    })


@pytest.fixture(scope="module")
def trained():
    frame = _claims(600)
    pipe = FeaturePipeline(SPEC, text_options={"min_df": 1})
    labels = frame["department"].tolist()
    X = pipe.fit_transform(frame, labels)  # with labels: the stacked text model is on
    assert "description" in pipe.stack
    router, info = train_router(X, labels, pipe.feature_types, params={"num_boost_round": 60})
    return pipe, router, info


def test_router_learns_and_round_trips_through_ubj(trained):
    pipe, router, info = trained
    test = _claims(150, seed=1)
    proba = router.predict_proba(pipe.transform(test))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    pred = [router.classes[i] for i in proba.argmax(axis=1)]
    assert np.mean(np.array(pred) == test["department"].to_numpy()) > 0.95
    again = Router.from_bytes(router.to_bytes(), classes=router.classes, temperature=router.temperature,
                              feature_types=pipe.feature_types)
    np.testing.assert_allclose(again.predict_proba(pipe.transform(test)), proba, rtol=1e-6)
    assert info["n_fit"] + info["n_early_stopping"] + info["n_calibration"] == 600
    assert info["temperature"] == router.temperature


def test_threshold_sends_unsure_claims_to_triage():
    proba = np.array([[0.9, 0.1], [0.55, 0.45], [0.3, 0.7]])
    predicted, routed, conf = route(proba, ["A", "B"], threshold=0.6)
    assert predicted == ["A", "A", "B"] and routed == ["A", TRIAGE, "B"]
    np.testing.assert_allclose(conf, [0.9, 0.55, 0.7])


def test_temperature_lowers_log_loss_of_an_overconfident_model():
    rng = np.random.default_rng(0)
    n, k = 4000, 3
    true_logits = rng.normal(size=(n, k))
    y = np.array([rng.choice(k, p=p) for p in calibrated_proba(true_logits, 1.0)])
    overconfident = true_logits * 4.0
    t = fit_temperature(overconfident, y)
    assert 3.0 < t < 5.0
    assert log_loss(overconfident, y, t) < log_loss(overconfident, y, 1.0)


def test_ece_of_calibrated_vs_overconfident_predictions():
    rng = np.random.default_rng(1)
    n = 20000
    conf = rng.uniform(0.5, 1.0, n)
    y = (rng.uniform(size=n) >= conf).astype(int)  # class 0 is right with probability conf
    calibrated = np.column_stack([conf, 1 - conf])
    assert expected_calibration_error(calibrated, y) < 0.02
    overconfident = np.column_stack([np.full(n, 0.99), np.full(n, 0.01)])
    assert expected_calibration_error(overconfident, y) > 0.2


def test_classification_report_and_baseline():
    rep = classification_report(["A", "A", "B", "C"], ["A", "B", "B", "C"], ["A", "B", "C"])
    assert rep["accuracy"] == 0.75
    assert rep["per_class"]["A"] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert rep["confusion"] == {"labels": ["A", "B", "C"], "matrix": [[1, 1, 0], [0, 1, 0], [0, 0, 1]]}
    base = majority_baseline(["A", "A", "B"], ["A", "B", "B", "A"])
    assert base["label"] == "A" and base["accuracy"] == 0.5


@pytest.mark.parametrize("approx", [False, True])
def test_contributions_plus_base_sum_to_the_calibrated_margin(trained, approx):
    pipe, router, _ = trained
    X = pipe.transform(_claims(40, seed=2))
    contribs = router.contributions(X, approx=approx)
    np.testing.assert_allclose(contribs.sum(axis=2), router.margins(X) / router.temperature, atol=1e-3)
    grouped, base, names = group_by_source(contribs, pipe)
    assert sorted(names) == sorted(f["name"] for f in SPEC)
    # Grouping only re-buckets: drivers + base still sum to the margin.
    np.testing.assert_allclose(grouped.sum(axis=2) + base, contribs.sum(axis=2), atol=1e-4)


def test_explanations_name_words_of_the_claim(trained):
    pipe, router, _ = trained
    frame = _claims(30, seed=3)
    X = pipe.transform(frame)
    contribs = router.contributions(X)
    proba = router.predict_proba(X)
    predicted = proba.argmax(axis=1).tolist()
    raw = pipe.raw_values(frame)
    out = explain_rows(contribs, X, pipe, raw, router.classes, predicted, NAMES)
    for (shap_values, drivers), row, p in zip(out, raw, predicted):
        assert set(shap_values["base"]) == set(router.classes)
        assert set(shap_values[router.classes[p]]) == {f["name"] for f in SPEC}
        top = drivers[0]
        assert top["feature"] == "description"  # the pattern lives in the text
        assert f"toward {NAMES[router.classes[p]]}" in top["text"]
        terms = shap_values["terms"]["description"]
        assert terms and all(t["term"] in words(row["description"]) for t in terms)
        # Only meaningful words are quoted: "slip and fall" never quotes 'and'.
        assert all(meaningful(t["term"]) for t in terms)
        assert all(f"'{t['term']}'" in top["text"] for t in terms)
        assert len(drivers) <= 6
        assert [abs(d["contribution"]) for d in drivers] == sorted((abs(d["contribution"]) for d in drivers),
                                                                   reverse=True)


def test_training_needs_two_classes():
    pipe = FeaturePipeline(SPEC[:1], text_options={"min_df": 1})
    X = pipe.fit_transform(pd.DataFrame({"description": ["a b"] * 10}))
    with pytest.raises(ValueError, match="two distinct"):
        train_router(X, ["A"] * 10, pipe.feature_types)


def test_stacked_features_are_grouped_under_the_text_column(trained):
    pipe, router, info = trained
    span = pipe.stack_slice("description")
    k = len(router.classes)
    assert pipe.sources[span] == ["description"] * (2 * k)
    assert pipe.feature_names[span] == ([f"description:lr:{c}" for c in router.classes]
                                        + [f"description:lr-intercept:{c}" for c in router.classes])
    # Base margin: the trees never see the text model's columns, they boost from its logits.
    assert info["base_margin"] and router.uses_margin
    assert router.booster.num_features() == span.start
    test = _claims(50, seed=6)
    X = pipe.transform(test)
    logits = router.base_margin(X)
    st = pipe.stack["description"]
    np.testing.assert_allclose(logits, st.matrix(test["description"].tolist()) @ st.coef.T + st.intercept,
                               atol=1e-4)
    trees = router.booster.predict(router.dmatrix(X), output_margin=True).reshape(len(test), k) - logits
    np.testing.assert_allclose(router.margins(X), logits + trees, atol=1e-5)


def test_log_proba_stacking_still_trains_and_explains():
    """The v3 layout (log-probabilities as tree features) stays available and exact."""
    frame = _claims(300, seed=7)
    pipe = FeaturePipeline(SPEC, text_options={"min_df": 1}, stack_options={"output": "log_proba"})
    labels = frame["department"].tolist()
    router, info = train_router(pipe.fit_transform(frame, labels), labels, pipe.feature_types,
                                params={"num_boost_round": 30})
    assert not info["base_margin"] and pipe.feature_types[pipe.stack_slice("description")] == ["q"] * 3
    X = pipe.transform(_claims(20, seed=8))
    np.testing.assert_allclose(router.contributions(X).sum(axis=2), router.margins(X) / router.temperature,
                               atol=1e-3)


def test_saved_and_loaded_base_margin_model_predicts_the_same(trained):
    """JSON schema + UBJ artifact rebuild the base-margin router exactly (no pickle)."""
    pipe, router, _ = trained
    schema = json.loads(json.dumps(pipe.to_schema()))
    pipe2 = FeaturePipeline.from_schema(schema)
    again = Router.from_bytes(router.to_bytes(), classes=router.classes, temperature=router.temperature,
                              feature_types=pipe2.feature_types)
    assert again.uses_margin and pipe2.feature_types == pipe.feature_types == schema["feature_types"]
    test = _claims(80, seed=9)
    X, X2 = pipe.transform(test), pipe2.transform(test)
    np.testing.assert_array_equal(X.toarray(), X2.toarray())
    np.testing.assert_array_equal(again.predict_proba(X2), router.predict_proba(X))
    np.testing.assert_array_equal(again.contributions(X2), router.contributions(X))


def test_text_driver_is_the_exact_sum_of_its_terms(trained):
    """Base margin: the description driver = trees' n-gram contributions + the text
    model's terms' part, and that part is exactly sum(coef x tf-idf) / T per class;
    the text model's intercept / T sits in the base value."""
    from ml.explain import _stacked_term_shares

    pipe, router, _ = trained
    frame = _claims(10, seed=10)
    X = pipe.transform(frame)
    contribs = router.contributions(X)
    st = pipe.stack["description"]
    span = pipe.stack_slice("description")
    texts = frame["description"].tolist()
    for i, text in enumerate(texts):
        own = st.matrix([text])
        for k, c in enumerate(router.classes):
            exact = sum(st.term_logits(own, k).values()) / router.temperature
            np.testing.assert_allclose(contribs[i, k, span].sum(), exact, atol=1e-4)
            shares = _stacked_term_shares(contribs[i, k], X[i], pipe, "description", text, c)
            np.testing.assert_allclose(sum(v for _, v in shares), exact, atol=1e-4)
    # Base = text-model intercept + the trees' expected output (both / T).
    tree_bias = contribs[:, :, -1] - st.intercept / router.temperature
    np.testing.assert_allclose(tree_bias, np.tile(tree_bias[0], (len(frame), 1)), atol=1e-4)


def test_class_weights_and_refit():
    y = np.array([0] * 90 + [1] * 10)
    assert np.all(class_weights(y, 2, "none") == 1.0)
    sqrt = class_weights(y, 2, "sqrt")
    np.testing.assert_allclose(sqrt.mean(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(sqrt[-1] / sqrt[0], 3.0, rtol=1e-5)  # sqrt(0.9 / 0.1)
    balanced = class_weights(y, 2, "balanced")
    np.testing.assert_allclose(balanced[-1] / balanced[0], 9.0, rtol=1e-5)
    with pytest.raises(ValueError):
        class_weights(y, 2, "heavy")
    frame = _claims(300, seed=4)
    pipe = FeaturePipeline(SPEC, text_options={"min_df": 1})
    labels = frame["department"].tolist()
    router, info = train_router(pipe.fit_transform(frame, labels), labels, pipe.feature_types,
                                params={"num_boost_round": 30, "class_weight": "sqrt", "refit": True})
    assert info["n_refit"] == info["n_fit"] + info["n_early_stopping"]
    assert router.booster.num_boosted_rounds() == info["rounds_used"]
    test = _claims(60, seed=5)
    pred = np.array(router.classes)[router.predict_proba(pipe.transform(test)).argmax(axis=1)]
    assert np.mean(pred == test["department"].to_numpy()) > 0.95


def test_categorical_drivers_read_as_plain_words():
    from ml.explain import describe

    via = describe("reported_via", "categorical", 0.4, {"reported_via": "mobile_app"}, [], "Auto Glass")
    assert via == "reported via mobile app (+0.4 toward Auto Glass)"
    state = describe("state", "categorical", -0.3, {"state": "CA"}, [], "Property")
    assert state == "state is CA (\u22120.3 toward Property)"


@pytest.mark.parametrize("stored", ["false", "False", False])
def test_yes_no_facts_read_as_yes_or_no(stored):
    from ml.explain import describe

    text = describe("injury_reported", "categorical", 0.07, {"injury_reported": stored}, [], "Liability")
    assert text == "injury reported: no (+0.07 toward Liability)"
    assert describe("police_report", "categorical", 0.2, {"police_report": "true"}, [], "Liability") == \
        "police report: yes (+0.2 toward Liability)"
