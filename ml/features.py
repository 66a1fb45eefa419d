"""The one feature pipeline used by training and scoring.

Built from a dataset's feature_spec (``[{"name", "kind"}]``), fitted once on
training claims, and serialised as a JSON-able *feature schema* so that the
scorer rebuilds exactly the same matrix from the database row later.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ml.stacking import DEFAULT_OUTPUT, TextStacker
from ml.text import TextVectorizer

KINDS = ("numeric", "categorical", "text", "date")
# 2: optional stacked linear text models ("stack") over the trees' n-grams;
# 3: the stacked models have their own vocabulary; 4: the stacked models' logits
# can be the router's base margin (stack output "margin"). Versions 1-3 still load.
SCHEMA_VERSION = 4
SUPPORTED_SCHEMA_VERSIONS = (1, 2, 3, 4)
STACK_MARK = ":lr:"
INTERCEPT_MARK = ":lr-intercept:"
# Feature types of a "margin" stacked block (ml/router.py reads them): the
# terms' part of the text model's logits and its intercepts. XGBoost never
# sees these columns: the router adds them up into the base margin.
MARGIN_TYPE = "margin"
MARGIN_BIAS_TYPE = "margin_bias"
LAG_FEATURE = "report_lag_days"


def _as_category_strings(values: pd.Series) -> pd.Series:
    """Categories compare as trimmed strings so '1', 1 and ' 1' are one level."""
    out = values.astype("string").str.strip()
    return out.mask(out == "", pd.NA)


def _as_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce")


def _dense_to_csr(block: np.ndarray) -> sp.csr_matrix:
    """Store every cell explicitly: in a CSR matrix XGBoost reads an unstored
    cell as *missing*, so a real 0 (or category code 0) must be kept."""
    n, d = block.shape
    return sp.csr_matrix(
        (block.ravel(), np.tile(np.arange(d, dtype=np.int32), n), np.arange(n + 1, dtype=np.int64) * d),
        shape=(n, d),
    )


class FeaturePipeline:
    """Numeric as-is, categoricals as fixed integer codes (XGBoost native
    categorical), dates as month/weekday (+ report lag), text as n-grams plus,
    when fitted with labels, the out-of-fold class log-probabilities of a
    linear model over those n-grams (see ml/stacking.py)."""

    def __init__(self, spec: list[dict], *, text_options: dict | None = None,
                 max_categories: int = 200, min_category_count: int = 2,
                 stack_options: dict | None = None):
        for feat in spec:
            if feat.get("kind") not in KINDS:
                raise ValueError(f"feature {feat.get('name')!r}: kind must be one of {KINDS}")
        self.spec = [{"name": f["name"], "kind": f["kind"]} for f in spec]
        self.text_options = dict(text_options or {})
        self.max_categories = max_categories
        self.min_category_count = min_category_count
        self.categories: dict[str, list[str]] = {}
        self.text: dict[str, TextVectorizer] = {}
        # {"enabled": bool, "C": float, "folds": int, "vocabulary": {TextVectorizer options},
        #  "output": "margin" | "log_proba"}; stacking needs labels at fit.
        self.stack_options = {"enabled": True, "output": DEFAULT_OUTPUT, **(stack_options or {})}
        self.stack: dict[str, TextStacker] = {}

    # -- spec helpers -------------------------------------------------------
    def columns(self, kind: str | None = None) -> list[str]:
        return [f["name"] for f in self.spec if kind is None or f["kind"] == kind]

    def kind_of(self, column: str) -> str:
        return next(f["kind"] for f in self.spec if f["name"] == column)

    @property
    def has_lag(self) -> bool:
        dates = self.columns("date")
        return "loss_date" in dates and "report_date" in dates

    # -- fit / transform ----------------------------------------------------
    def fit(self, frame: pd.DataFrame, labels: list[str] | None = None) -> "FeaturePipeline":
        """Fit on training rows. With ``labels`` the text columns also get a
        stacked linear model (use ``fit_transform`` for the training matrix:
        it holds the out-of-fold predictions)."""
        self._fit(frame, labels)
        return self

    def _fit(self, frame: pd.DataFrame, labels: list[str] | None) -> dict[str, np.ndarray]:
        """Fit everything; returns the out-of-fold stacked block per text column."""
        self.stack = {}
        for col in self.columns("categorical"):
            counts = _as_category_strings(self._column(frame, col)).value_counts()
            counts = counts[counts >= self.min_category_count]
            # Most frequent first, name as tie-break: deterministic codes.
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: self.max_categories]
            self.categories[col] = [str(k) for k, _ in ordered]
        for col in self.columns("text"):
            self.text[col] = TextVectorizer(**self.text_options).fit(self._column(frame, col).tolist())
        oof: dict[str, np.ndarray] = {}
        options = {k: v for k, v in self.stack_options.items() if k != "enabled"}
        if labels is not None and self.stack_options["enabled"] and len(set(labels)) >= 2:
            labels = list(labels)
            if len(labels) != len(frame):
                raise ValueError("labels must have one entry per training row")
            for col in self.columns("text"):
                if not self.text[col].terms:
                    continue
                texts = self._column(frame, col).tolist()
                self.stack[col] = TextStacker(**options)
                grams = None if self.stack[col].vectorizer is not None else self.text[col].transform(texts)
                oof[col] = self.stack[col].fit_oof(texts, labels, grams)
        return oof

    def transform(self, frame: pd.DataFrame) -> sp.csr_matrix:
        return self._transform(frame, None)

    def fit_transform(self, frame: pd.DataFrame, labels: list[str] | None = None) -> sp.csr_matrix:
        """The training matrix: as ``transform`` except that the stacked columns
        hold out-of-fold predictions (no row is scored by a model that saw its label)."""
        return self._transform(frame, self._fit(frame, labels))

    def _transform(self, frame: pd.DataFrame, stacked: dict[str, np.ndarray] | None) -> sp.csr_matrix:
        layout = self._dense_layout()
        dense = np.empty((len(frame), len(layout)), dtype=np.float32)
        for j, (_, _, source, part) in enumerate(layout):
            dense[:, j] = self._dense_column(frame, source, part)
        blocks = [_dense_to_csr(dense)]
        texts = {col: self._column(frame, col).tolist() for col in self.columns("text")}
        grams = {col: self.text[col].transform(texts[col]) for col in self.columns("text")}
        blocks += [grams[col] for col in self.columns("text")]
        for col in self.stack_columns:
            block = stacked[col] if stacked is not None else self.stack[col].block(texts[col], grams[col])
            blocks.append(_dense_to_csr(np.asarray(block, dtype=np.float32)))
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    # -- feature metadata ---------------------------------------------------
    def _dense_layout(self) -> list[tuple[str, str, str, str]]:
        """(feature name, xgboost type, source column, part) of the non-text features."""
        layout = [(c, "q", c, "value") for c in self.columns("numeric")]
        layout += [(c, "c", c, "category") for c in self.columns("categorical")]
        for c in self.columns("date"):
            layout += [(f"{c}__month", "q", c, "month"), (f"{c}__weekday", "q", c, "weekday")]
        if self.has_lag:
            # The lag is a property of when the claim was reported.
            layout.append((LAG_FEATURE, "q", "report_date", "lag"))
        return layout

    @property
    def stack_columns(self) -> list[str]:
        """Text columns with a stacked linear model, in spec order."""
        return [c for c in self.columns("text") if c in self.stack]

    @property
    def feature_names(self) -> list[str]:
        names = [n for n, _, _, _ in self._dense_layout()]
        for col in self.columns("text"):
            names += [f"{col}:{t}" for t in self.text[col].terms]
        for col in self.stack_columns:
            names += [f"{col}{STACK_MARK}{c}" for c in self.stack[col].classes]
            if self.stack[col].output == "margin":
                names += [f"{col}{INTERCEPT_MARK}{c}" for c in self.stack[col].classes]
        return names

    @property
    def feature_types(self) -> list[str]:
        types = [t for _, t, _, _ in self._dense_layout()]
        for col in self.columns("text"):
            types += ["q"] * len(self.text[col].terms)
        for col in self.stack_columns:
            k = len(self.stack[col].classes)
            types += [MARGIN_TYPE] * k + [MARGIN_BIAS_TYPE] * k if self.stack[col].output == "margin" else ["q"] * k
        return types

    @property
    def sources(self) -> list[str]:
        """The input column each feature comes from (SHAP values are grouped by it:
        n-grams and stacked log-probabilities of a text column are that column)."""
        srcs = [s for _, _, s, _ in self._dense_layout()]
        for col in self.columns("text"):
            srcs += [col] * len(self.text[col].terms)
        for col in self.stack_columns:
            srcs += [col] * self.stack[col].width
        return srcs

    @property
    def uses_margin(self) -> bool:
        """Whether a stacked text model feeds the router's base margin."""
        return any(self.stack[c].output == "margin" for c in self.stack_columns)

    def stack_slice(self, column: str) -> slice:
        start = len(self._dense_layout()) + sum(len(self.text[c].terms) for c in self.columns("text"))
        for col in self.stack_columns:
            width = self.stack[col].width
            if col == column:
                return slice(start, start + width)
            start += width
        raise KeyError(column)

    def text_slice(self, column: str) -> slice:
        start = len(self._dense_layout())
        for col in self.columns("text"):
            width = len(self.text[col].terms)
            if col == column:
                return slice(start, start + width)
            start += width
        raise KeyError(column)

    # -- raw values ---------------------------------------------------------
    def raw_values(self, frame: pd.DataFrame) -> list[dict]:
        """The spec columns of each row as JSON-able values (what the model saw)."""
        out: list[dict] = [{} for _ in range(len(frame))]
        for feat in self.spec:
            col, kind = feat["name"], feat["kind"]
            values = self._column(frame, col)
            if kind == "numeric":
                conv = [None if (v is None or (isinstance(v, float) and math.isnan(v))) else float(v)
                        for v in pd.to_numeric(values, errors="coerce").astype(float)]
            elif kind == "date":
                conv = [None if pd.isna(v) else v.date().isoformat() for v in _as_dates(values)]
            else:
                conv = [None if pd.isna(v) else str(v) for v in values]
            for row, v in zip(out, conv):
                row[col] = v
        return out

    # -- serialisation ------------------------------------------------------
    def to_schema(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "spec": self.spec,
            "text_options": self.text_options,
            "max_categories": self.max_categories,
            "min_category_count": self.min_category_count,
            "categories": self.categories,
            "text": {col: vec.to_dict() for col, vec in self.text.items()},
            "stack_options": self.stack_options,
            "stack": {col: st.to_dict() for col, st in self.stack.items()},
            "feature_names": self.feature_names,
            "feature_types": self.feature_types,
            "sources": self.sources,
        }

    @classmethod
    def from_schema(cls, schema: dict) -> "FeaturePipeline":
        if schema.get("schema_version") not in SUPPORTED_SCHEMA_VERSIONS:
            raise ValueError(f"unsupported feature schema version {schema.get('schema_version')!r}")
        pipe = cls(schema["spec"], text_options=schema["text_options"],
                   max_categories=schema["max_categories"], min_category_count=schema["min_category_count"],
                   stack_options=schema.get("stack_options"))
        if schema["schema_version"] < 4 and "output" not in (schema.get("stack_options") or {}):
            pipe.stack_options["output"] = "log_proba"  # what older versions did
        pipe.categories = {k: list(v) for k, v in schema["categories"].items()}
        pipe.text = {k: TextVectorizer.from_dict(v) for k, v in schema["text"].items()}
        pipe.stack = {k: TextStacker.from_dict(v) for k, v in schema.get("stack", {}).items()}
        return pipe

    # -- internals ----------------------------------------------------------
    @staticmethod
    def _column(frame: pd.DataFrame, col: str) -> pd.Series:
        if col in frame.columns:
            return frame[col]
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)

    def _dense_column(self, frame: pd.DataFrame, source: str, part: str) -> np.ndarray:
        if len(frame) <= SMALL_FRAME:
            return self._dense_column_small(frame, source, part)
        if part == "category":
            codes = {c: i for i, c in enumerate(self.categories[source])}
            # Unknown categories become missing rather than a made-up code.
            values = _as_category_strings(self._column(frame, source)).map(codes)
        elif part == "lag":
            lag = _as_dates(self._column(frame, "report_date")) - _as_dates(self._column(frame, "loss_date"))
            values = lag.dt.days
        elif part in ("month", "weekday"):
            dates = _as_dates(self._column(frame, source))
            values = dates.dt.month if part == "month" else dates.dt.day_of_week
        else:
            values = pd.to_numeric(self._column(frame, source), errors="coerce")
        return values.astype("Float64").to_numpy(dtype=np.float32, na_value=np.nan)

    def _dense_column_small(self, frame: pd.DataFrame, source: str, part: str) -> np.ndarray:
        """Row-by-row twin of the vectorised path for a handful of claims (intake):
        pandas' per-column overhead would dominate. Must give identical values
        (a test compares the two)."""
        def col(name: str) -> list:
            return self._column(frame, name).tolist()

        if part == "category":
            codes = {c: i for i, c in enumerate(self.categories[source])}
            values = [codes.get(_category_string(v), np.nan) for v in col(source)]
        elif part == "lag":
            values = [_days_between(lo, hi) for lo, hi in zip(col("loss_date"), col("report_date"))]
        elif part in ("month", "weekday"):
            dates = [_to_date(v) for v in col(source)]
            values = [np.nan if d is None else (d.month if part == "month" else d.weekday()) for d in dates]
        else:
            values = [_to_number(v) for v in col(source)]
        return np.asarray(values, dtype=np.float32)


SMALL_FRAME = 8


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def _category_string(value) -> str | None:
    if _is_missing(value):
        return None
    text = str(value).strip()
    return text or None


def _to_date(value):
    if _is_missing(value):
        return None
    stamp = pd.to_datetime(value, errors="coerce")
    return None if pd.isna(stamp) else stamp


def _days_between(loss, report) -> float:
    lo, hi = _to_date(loss), _to_date(report)
    return np.nan if lo is None or hi is None else float((hi - lo).days)


def _to_number(value) -> float:
    if _is_missing(value):
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan

