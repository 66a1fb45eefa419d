"""The feature pipeline: one JSON schema rebuilds exactly the training matrix."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ml.features import LAG_FEATURE, FeaturePipeline
from ml.text import TextVectorizer, term_words

SPEC = [
    {"name": "description", "kind": "text"},
    {"name": "line_of_business", "kind": "categorical"},
    {"name": "claimed_amount", "kind": "numeric"},
    {"name": "loss_date", "kind": "date"},
    {"name": "report_date", "kind": "date"},
]


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
