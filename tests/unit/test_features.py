"""The feature pipeline: one JSON schema rebuilds exactly the training matrix."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ml.features import LAG_FEATURE, FeaturePipeline
from ml.stacking import TextStacker
from ml.text import TextVectorizer, term_words
from tests.specs import BASIC_SPEC

SPEC = BASIC_SPEC


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "description": ["cracked windshield", "windshield chip", "roof leak after storm", None,
                        "hail damage to roof", "windsheild crack"],
        "line_of_business": ["auto", "auto", "property", None, "property", "auto"],
        "claimed_amount": [1200.0, 0.0, None, 50.0, 9000.0, 300.0],
        "loss_date": ["2025-01-01", "2025-01-03", None, "2025-02-01", "2025-02-10", "2025-03-01"],
        "report_date": ["2025-01-04", "2025-01-03", "2025-01-09", None, "2025-02-12", "2025-03-02"],
    })


def _dense(X) -> np.ndarray:
    """Unstored cells as NaN (that is how XGBoost reads a CSR matrix)."""
    out = np.full(X.shape, np.nan, dtype=np.float32)
    coo = X.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


def test_schema_round_trip_gives_identical_matrix():
    frame = _frame()
    pipe = FeaturePipeline(SPEC, text_options={"min_df": 1})
    X = pipe.fit_transform(frame)
    schema = json.loads(json.dumps(pipe.to_schema()))  # must survive JSONB
    again = FeaturePipeline.from_schema(schema)
    X2 = again.transform(frame)
    np.testing.assert_array_equal(_dense(X), _dense(X2))
    assert again.feature_names == pipe.feature_names == schema["feature_names"]
    assert again.feature_types == pipe.feature_types
    assert len(pipe.sources) == X.shape[1]


def test_dense_columns_store_real_zeros_and_nan_for_missing():
    frame = _frame()
    pipe = FeaturePipeline(SPEC, text_options={"min_df": 1}).fit(frame)
    D = _dense(pipe.transform(frame))
    names = pipe.feature_names
    amount = D[:, names.index("claimed_amount")]
    assert amount[1] == 0.0 and math.isnan(amount[2])
    lag = D[:, names.index(LAG_FEATURE)]
    assert lag[0] == 3 and lag[1] == 0 and math.isnan(lag[3])
    assert D[0, names.index("loss_date__month")] == 1
    assert D[0, names.index("loss_date__weekday")] == 2  # 2025-01-01 was a Wednesday
    assert set(pipe.feature_types[: names.index(LAG_FEATURE) + 1]) == {"q", "c"}
    # No absolute time: dates only appear as parts and the lag.
    assert not any(n in ("loss_date", "report_date") for n in names)


def test_unknown_category_and_missing_values_become_missing():
    pipe = FeaturePipeline(SPEC, min_category_count=1).fit(_frame())
    assert pipe.categories["line_of_business"] == ["auto", "property"]
    new = pd.DataFrame({"line_of_business": ["marine", " auto ", None]})  # other columns absent
    D = _dense(pipe.transform(new))
    col = D[:, pipe.feature_names.index("line_of_business")]
    assert math.isnan(col[0]) and col[1] == 0 and math.isnan(col[2])
    assert np.isnan(D[:, pipe.feature_names.index("claimed_amount")]).all()


def test_rare_categories_are_not_learned():
    frame = pd.DataFrame({"line_of_business": ["auto"] * 3 + ["marine"]})
    pipe = FeaturePipeline([{"name": "line_of_business", "kind": "categorical"}]).fit(frame)
    assert pipe.categories["line_of_business"] == ["auto"]


def test_text_vocabulary_words_bigrams_and_char_grams():
    docs = ["cracked windshield", "cracked windshield again", "windsheild cracked", "roof"]
    vec = TextVectorizer(min_df=2).fit(docs)
    assert "w:cracked" in vec.terms and "w:cracked windshield" in vec.terms
    assert "w:roof" not in vec.terms  # min_df
    assert "c:win" in vec.terms  # shared by the typo and the right spelling
    X = vec.transform(["windsheild"])
    assert X.nnz > 0  # a typo still lights up character n-grams
    np.testing.assert_allclose(np.linalg.norm(X.toarray(), axis=1), 1.0, rtol=1e-6)
    binary = TextVectorizer(min_df=2, weighting="binary").fit(docs)
    assert set(binary.transform(["cracked windshield"]).data) == {1.0}


def test_text_vocabulary_is_capped_by_document_frequency():
    docs = [f"common word{i}" for i in range(10)] + ["common word1"]
    vec = TextVectorizer(min_df=1, max_word_features=2, max_char_features=0).fit(docs)
    # df: common=11, "common word1"=2, word1=2 (tie broken alphabetically), the rest 1.
    assert vec.terms == ["w:common", "w:common word1"]


def test_term_words_maps_char_grams_to_the_document_words():
    assert term_words("c:crac", ["cracked", "windshield"]) == ["cracked"]
    assert term_words("w:cracked windshield", ["cracked", "windshield"]) == ["cracked", "windshield"]


def test_raw_values_are_json_ready():
    pipe = FeaturePipeline(SPEC, text_options={"min_df": 1}).fit(_frame())
    rows = pipe.raw_values(_frame())
    json.dumps(rows)
    assert rows[0] == {"description": "cracked windshield", "line_of_business": "auto",
                       "claimed_amount": 1200.0, "loss_date": "2025-01-01", "report_date": "2025-01-04"}
    assert rows[3]["description"] is None and rows[2]["claimed_amount"] is None


def test_bad_kind_is_rejected():
    with pytest.raises(ValueError):
        FeaturePipeline([{"name": "x", "kind": "image"}])


def _labelled(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    rng = np.random.default_rng(seed)
    phrases = {"GLASS": ["cracked windshield", "windshield chip"], "PROP": ["roof leak", "burst pipe"],
               "LIAB": ["slipped on floor", "fell on stairs"]}
    labels = [sorted(phrases)[i % 3] for i in range(n)]
    return pd.DataFrame({
        "description": [rng.choice(phrases[c]) + (" again" if rng.random() < 0.3 else "") for c in labels],
        "line_of_business": rng.choice(["auto", "property"], n),
        "claimed_amount": rng.gamma(2.0, 500.0, n),
        "loss_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D"),
        "report_date": pd.Timestamp("2025-05-01"),
    }), labels


def test_stacked_pipeline_round_trips_to_identical_matrices():
    frame, labels = _labelled()
    pipe = FeaturePipeline(SPEC, text_options={"min_df": 1})
    X_train = pipe.fit_transform(frame, labels)
    schema = json.loads(json.dumps(pipe.to_schema()))
    assert schema["schema_version"] == 4 and set(schema["stack"]) == {"description"}
    # The stacked model has its own word vocabulary (terms + idf) and a classes x terms matrix.
    stacked = schema["stack"]["description"]
    assert stacked["vectorizer"]["terms"] and stacked["vectorizer"]["max_char_features"] == 0
    assert len(stacked["coef"]) == 3 and len(stacked["coef"][0]) == len(stacked["vectorizer"]["terms"])
    again = FeaturePipeline.from_schema(schema)
    np.testing.assert_array_equal(_dense(pipe.transform(frame)), _dense(again.transform(frame)))
    assert again.feature_names == pipe.feature_names == schema["feature_names"]
    assert again.sources == pipe.sources and again.feature_types == pipe.feature_types
    span = pipe.stack_slice("description")
    assert span.stop == X_train.shape[1] == len(pipe.sources)
    # Base-margin output (the default): the terms' part of the 3 logits, then the 3 intercepts.
    assert pipe.sources[span] == ["description"] * 6
    assert pipe.feature_types[span] == ["margin"] * 3 + ["margin_bias"] * 3
    st = pipe.stack["description"]
    D_logits = _dense(pipe.transform(frame))[:, span]
    np.testing.assert_allclose(D_logits[:, 3:], np.tile(st.intercept, (len(frame), 1)), rtol=1e-6)
    from scipy.special import log_softmax
    np.testing.assert_allclose(log_softmax(D_logits[:, :3] + D_logits[:, 3:], axis=1),
                               st.log_proba(frame["description"].tolist()), atol=1e-4)
    # Everything but the stacked block is the same in the training matrix and at scoring.
    D_train, D_score = _dense(X_train), _dense(pipe.transform(frame))
    np.testing.assert_array_equal(D_train[:, : span.start], D_score[:, : span.start])
    assert not np.isnan(D_score[:, span]).any()
    # Without labels there is nothing to stack; version-1 schemas still load.
    plain = FeaturePipeline(SPEC, text_options={"min_df": 1})
    X_plain = plain.fit_transform(frame)
    assert plain.stack == {} and X_plain.shape[1] == span.start
    v1 = {k: v for k, v in plain.to_schema().items() if k not in ("stack", "stack_options")}
    v1["schema_version"] = 1
    np.testing.assert_array_equal(_dense(FeaturePipeline.from_schema(v1).transform(frame)), _dense(X_plain))
    # Version-2 stackers (no vocabulary of their own: they read the trees' n-grams) still load and score.
    old = FeaturePipeline(SPEC, text_options={"min_df": 1}, stack_options={"own_vocabulary": False})
    old.fit(frame, labels)
    v2 = json.loads(json.dumps(old.to_schema()))
    v2["schema_version"] = 2
    assert "vectorizer" not in v2["stack"]["description"]
    np.testing.assert_array_equal(_dense(FeaturePipeline.from_schema(v2).transform(frame)),
                                  _dense(old.transform(frame)))


def test_stacked_features_are_out_of_fold():
    """Every row carries a token unique to it and a random label: a model that saw
    the row's label memorises it, an out-of-fold one cannot."""
    rng = np.random.default_rng(0)
    n = 300
    labels = [str(c) for c in rng.choice(["A", "B", "C"], n)]
    frame = pd.DataFrame({"description": [f"claim tok{i}x tok{i}y" for i in range(n)]})
    spec = [{"name": "description", "kind": "text"}]
    pipe = FeaturePipeline(spec, text_options={"min_df": 1, "max_word_features": 5000, "max_char_features": 0},
                           stack_options={"C": 100.0})
    from scipy.special import log_softmax

    def log_proba(D):  # base-margin block: terms' part + intercepts = logits
        block = D[:, pipe.stack_slice("description")]
        return log_softmax(block[:, :3] + block[:, 3:], axis=1)

    oof = log_proba(_dense(pipe.fit_transform(frame, labels)))
    insample = log_proba(_dense(pipe.transform(frame)))
    y = np.array([pipe.stack["description"].classes.index(c) for c in labels])
    rows = np.arange(n)
    assert np.exp(insample[rows, y]).mean() > 0.8  # memorised
    assert np.exp(oof[rows, y]).mean() < 0.45  # about chance (1/3)
    assert not np.allclose(oof, insample)


def test_numpy_stacker_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    frame, labels = _labelled(150, seed=1)
    texts = frame["description"].tolist()
    # Own vocabulary (the default): word uni/bi-grams, sublinear TF-IDF.
    st = TextStacker(C=3.0)
    st.fit_oof(texts, labels)
    assert st.terms and all(t.startswith("w:") for t in st.terms)
    X = st.matrix(texts)
    ref = LogisticRegression(C=3.0, max_iter=1000, tol=1e-4).fit(X, labels)
    # Coefficients are stored rounded to 4 decimals.
    np.testing.assert_allclose(np.exp(st.log_proba(texts)), ref.predict_proba(X), atol=2e-3)
    again = TextStacker.from_dict(json.loads(json.dumps(st.to_dict())))
    np.testing.assert_array_equal(again.log_proba(texts), st.log_proba(texts))
    np.testing.assert_array_equal(again.coef, st.coef)
    # Version-2 style (the trees' n-grams as input). Two classes: sklearn keeps one
    # coefficient row; the stacker rebuilds both.
    vec = TextVectorizer(min_df=1).fit(texts)
    G = vec.transform(texts)
    two = [lab if lab == "GLASS" else "OTHER" for lab in labels]
    st2 = TextStacker(C=3.0, own_vocabulary=False)
    st2.fit_oof(texts, two, G)
    ref2 = LogisticRegression(C=3.0, max_iter=1000, tol=1e-4).fit(G, two)
    np.testing.assert_allclose(np.exp(st2.log_proba(texts, G)), ref2.predict_proba(G), atol=2e-3)
    again2 = TextStacker.from_dict(json.loads(json.dumps(st2.to_dict())))
    assert again2.vectorizer is None
    np.testing.assert_array_equal(again2.log_proba(texts, G), st2.log_proba(texts, G))


def test_meaningful_words_for_quotes():
    from ml.text import meaningful

    assert meaningful("windshield") and meaningful("dmg") and meaningful("ws") and meaningful("ph")
    assert not any(meaningful(w) for w in ("and", "the", "of", "at", "a", "95", "2019", "x"))


def test_token_length_option_drops_one_character_tokens_and_round_trips():
    vec = TextVectorizer(min_df=1, max_char_features=0, min_token_length=2).fit(["a cracked windshield 2", "x y"])
    assert vec.terms == ["w:cracked", "w:cracked windshield", "w:windshield"]
    again = TextVectorizer.from_dict(json.loads(json.dumps(vec.to_dict())))
    assert again.min_token_length == 2 and again.terms == vec.terms
    old = {k: v for k, v in vec.to_dict().items() if k != "min_token_length"}
    assert TextVectorizer.from_dict(old).min_token_length == 1  # older schemas kept every token


def test_small_frames_transform_exactly_like_large_ones():
    """Intake scores one claim at a time through a row-by-row fast path; it must
    match the vectorised path value for value, including messy inputs."""
    import datetime as dt

    import numpy as np
    import pandas as pd

    from ml.features import SMALL_FRAME, FeaturePipeline

    spec = [{"name": "line_of_business", "kind": "categorical"}, {"name": "claimed_amount", "kind": "numeric"},
            {"name": "loss_date", "kind": "date"}, {"name": "report_date", "kind": "date"},
            {"name": "injury_reported", "kind": "categorical"}, {"name": "description", "kind": "text"}]
    rows = [
        {"line_of_business": "auto", "claimed_amount": 1200.5, "loss_date": dt.date(2025, 1, 3),
         "report_date": dt.date(2025, 1, 9), "injury_reported": True, "description": "cracked windshield"},
        {"line_of_business": " property ", "claimed_amount": "980", "loss_date": "2025-02-28",
         "report_date": None, "injury_reported": "False", "description": "roof leak"},
        {"line_of_business": None, "claimed_amount": "n/a", "loss_date": None, "report_date": "2025-03-01",
         "injury_reported": None, "description": ""},
        {"line_of_business": "unknown-line", "claimed_amount": None, "loss_date": pd.NaT,
         "report_date": dt.date(2025, 3, 5), "injury_reported": False, "description": None},
    ] * 3
    frame = pd.DataFrame(rows)
    pipe = FeaturePipeline(spec)
    pipe.fit(frame)
    assert len(frame) > SMALL_FRAME
    big = pipe.transform(frame).toarray()
    for i in range(len(frame)):
        one = pipe.transform(frame.iloc[[i]]).toarray()
        np.testing.assert_array_equal(np.isnan(one[0]), np.isnan(big[i]))
        np.testing.assert_allclose(np.nan_to_num(one[0], nan=-1), np.nan_to_num(big[i], nan=-1))
