"""Router quality on the three real datasets vs simple baselines, one run.

    .venv/bin/python bench/model_quality.py [--data ../shared/data] [--validation | --rolling K | --unseen-policies]

Reads the CSVs directly (no database) through the same ml/ pipeline the app
uses, splits each by time (lgpif: file order, it has no dates), and prints a
Markdown table for docs/model-quality.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# Before scikit-learn loads libgomp: spinning OpenMP threads made XGBoost up to
# 15x slower on a busy 2-core host (ml/router.py sets the same default, too late here).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import binomtest  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.features import FeaturePipeline  # noqa: E402
from ml.metrics import classification_report, expected_calibration_error, ranking_report  # noqa: E402
from ml.router import train_router  # noqa: E402

HOLDOUT = 0.2
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def lgpif(root: Path):
    df = pd.read_csv(root / "lgpif_peril" / "peril.training.csv")
    flags = ["Vandalism", "Fire", "Lightning", "Wind", "Hail", "Vehicle", "WaterNW", "WaterW", "Misc"]
    df = df.assign(target=df[flags].idxmax(axis=1), description=df["Description"].str.strip(),
                   claimed_amount=df["Loss"])
    spec = [{"name": "description", "kind": "text"}, {"name": "claimed_amount", "kind": "numeric"}]
    return df, spec, "file order (no dates)"


def fremotor(root: Path, with_dates: bool = False):
    df = pd.read_csv(root / "fremotor1" / "fremotor1_claims_with_policy.csv")
    df = df.sort_values(["OccurDate", "IDclaim"], kind="stable").reset_index(drop=True)
    df = df.assign(target=df["Guarantee"], loss_date=df["OccurDate"])
    # Policy and claim facts known at first notice; Payment (after settlement) and ids are left out.
    numeric = ["DrivAge", "BonusMalus", "LicenceNb", "VehAge", "PremWindscreen", "PremDamAll", "PremFire",
               "PremAcc1", "PremAcc2", "PremLegal", "PremTPLM", "PremTPLV", "PremServ", "PremTheft", "PremTot"]
    categorical = ["DrivGender", "MaritalStatus", "PayFreq", "JobCode", "VehClass", "VehPower", "VehGas",
                   "VehUsage", "Garage", "Area", "Region", "Channel", "Marketing"]
    spec = [{"name": c, "kind": "numeric"} for c in numeric] + [{"name": c, "kind": "categorical"} for c in categorical]
    if with_dates:
        # Left out by default: on the validation slice of the training part, loss month/weekday
        # cost the router 3-4 points of accuracy (they stand in for the drifting period).
        spec.append({"name": "loss_date", "kind": "date"})
    return df, spec, "OccurDate"


def vehicle_fraud(root: Path):
    df = pd.read_csv(root / "vehicle_fraud" / "fraud_oracle_1994_1995.csv")
    df = df.assign(_m=df["Month"].map(MONTHS.index), target=df["FraudFound_P"].map({0: "legit", 1: "fraud"}))
    df = df.sort_values(["Year", "_m", "WeekOfMonth"], kind="stable").reset_index(drop=True)
    numeric = ["WeekOfMonth", "WeekOfMonthClaimed", "Age", "Deductible", "DriverRating", "RepNumber"]
    skip = set(numeric) | {"FraudFound_P", "PolicyNumber", "Year", "target", "_m"}
    categorical = [c for c in df.columns if c not in skip]
    spec = [{"name": c, "kind": "numeric"} for c in numeric] + [{"name": c, "kind": "categorical"} for c in categorical]
    return df, spec, "Year + Month (+ week of month)"


def simple_baseline(train: pd.DataFrame, spec: list[dict]):
    """TF-IDF + logistic regression for text; one-hot + logistic regression otherwise."""
    texts = [f["name"] for f in spec if f["kind"] == "text"]
    nums = [f["name"] for f in spec if f["kind"] == "numeric"]
    cats = [f["name"] for f in spec if f["kind"] == "categorical"]
    parts = [(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), t) for t in texts]
    if cats:
        parts.append((make_pipeline(SimpleImputer(strategy="constant", fill_value="NA"),
                                    OneHotEncoder(handle_unknown="ignore", min_frequency=2)), cats))
    if nums:
        parts.append((make_pipeline(SimpleImputer(), StandardScaler()), nums))
    model = make_pipeline(make_column_transformer(*parts), LogisticRegression(max_iter=2000, C=5.0))
    frame = train.copy()
    frame[cats] = frame[cats].astype(str)
    model.fit(frame, train["target"])
    return model, cats


def evaluate(name: str, proba: np.ndarray, classes: list[str], truth: pd.Series, positive: str | None) -> dict:
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index.get(c, -1) for c in truth])
    pred = [classes[i] for i in proba.argmax(axis=1)]
    rep = classification_report(truth.tolist(), pred, sorted(set(classes) | set(truth)))
    row = {"model": name, "accuracy": rep["accuracy"], "macro_f1": rep["macro_f1"],
           "ece": expected_calibration_error(proba, y), "_proba": proba, "_classes": list(classes)}
    if positive is not None:
        row.update(ranking_report(proba[:, index[positive]], (truth == positive).to_numpy().astype(int)))
    return row


def split(df: pd.DataFrame, validation: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Time-ordered: training part / last 20% holdout; with ``validation`` the training
    part is split again (first 80% / last 20% = the validation slice)."""
    cut = int(len(df) * (1 - HOLDOUT))
    train, hold = df.iloc[:cut], df.iloc[cut:]
    if validation:
        cut = int(len(train) * (1 - HOLDOUT))
        train, hold = train.iloc[:cut], train.iloc[cut:]
    return train, hold


def fit_and_score(train: pd.DataFrame, hold: pd.DataFrame, spec: list[dict], positive: str | None = None,
                  params: dict | None = None, text_options: dict | None = None,
                  stack_options: dict | None = None) -> list[dict]:
    """Router (+ its stacked text model alone), majority class and the linear baseline,
    fitted on ``train`` and scored on ``hold``; rows keep their probabilities in ``_proba``."""
    rows = []
    t0 = time.perf_counter()
    pipe = FeaturePipeline(spec, text_options=text_options, stack_options=stack_options)
    labels = train["target"].tolist()
    router, info = train_router(pipe.fit_transform(train, labels), labels, pipe.feature_types, params=params)
    proba = router.predict_proba(pipe.transform(hold))
    rows.append({**evaluate("XGBoost router (ml/)", proba, router.classes, hold["target"], positive),
                 "seconds": time.perf_counter() - t0, "rounds": info["rounds_used"]})
    for col, stacker in pipe.stack.items():
        # Diagnostic: the stacked linear text model on its own (not what is served).
        texts = pipe._column(hold, col).tolist()
        lp = stacker.log_proba(texts, pipe.text[col].transform(texts))
        rows.append({**evaluate(f"stacked text model alone ({col}, ml/)", np.exp(lp), stacker.classes,
                                hold["target"], positive), "seconds": float("nan")})

    majority = train["target"].value_counts().idxmax()
    classes = sorted(train["target"].unique())
    prior = train["target"].value_counts(normalize=True).reindex(classes).to_numpy()
    # Majority class with the training class shares as its probabilities.
    const = np.tile(prior, (len(hold), 1))
    const[:, classes.index(majority)] += 1e-9  # argmax = the majority even on ties
    rows.append({**evaluate("majority class", const, classes, hold["target"], positive), "seconds": 0.0})

    t0 = time.perf_counter()
    model, cats = simple_baseline(train, spec)
    frame = hold.copy()
    frame[cats] = frame[cats].astype(str)
    label = "TF-IDF + logistic regression" if any(f["kind"] == "text" for f in spec) \
        else "one-hot + logistic regression"
    rows.append({**evaluate(label, model.predict_proba(frame), list(model.classes_), hold["target"], positive),
                 "seconds": time.perf_counter() - t0})
    return rows


def run(loader, root: Path, positive: str | None = None, params: dict | None = None,
        text_options: dict | None = None, stack_options: dict | None = None,
        validation: bool = False) -> tuple[list[dict], str, int, int]:
    df, spec, order = loader(root)
    train, hold = split(df, validation)
    rows = fit_and_score(train, hold, spec, positive, params, text_options, stack_options)
    return rows, order, len(train), len(hold)


# Variants compared on the lgpif validation slice (--validation): name, params, stack_options.
LGPIF_VARIANTS = [
    ("v3: log-probabilities as tree features", {}, {"output": "log_proba"}),
    ("v3 + no 1-char tokens", {}, {"output": "log_proba", "vocabulary": {"min_token_length": 2}}),
    ("base margin (default)", {}, {}),
    ("base margin + no 1-char tokens", {}, {"vocabulary": {"min_token_length": 2}}),
    ("base margin, depth 4, eta 0.05", {"max_depth": 4, "eta": 0.05}, {}),
    ("base margin + no 1-char tokens, depth 4, eta 0.05", {"max_depth": 4, "eta": 0.05},
     {"vocabulary": {"min_token_length": 2}}),
]


def validation(root: Path) -> None:
    """lgpif variants on the validation slice (train: first 80% of the training part)."""
    print("\n### lgpif_peril validation slice\n")
    print("| variant | router acc | router macro-F1 | ece | tree rounds | text model alone acc / macro-F1 "
          "| seconds |\n|---|---:|---:|---:|---:|---:|---:|")
    base = None
    for name, params, stack_options in LGPIF_VARIANTS:
        rows, *_ = run(lgpif, root, None, params, {}, stack_options, validation=True)
        r, alone = rows[0], rows[1]
        base = rows[-1]
        print(f"| {name} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {r['ece']:.3f} | {r['rounds']} | "
              f"{alone['accuracy']:.3f} / {alone['macro_f1']:.3f} | {r['seconds']:.1f} |", flush=True)
    print(f"| {base['model']} | {base['accuracy']:.3f} | {base['macro_f1']:.3f} | {base['ece']:.3f} | — | — | "
          f"{base['seconds']:.1f} |")


# App defaults (ml/router.py DEFAULT_PARAMS: depth 6, no class weights, stacked text
# model) except where the time-ordered validation slice of the training part chose
# otherwise (docs/model-quality.md lists the validation figures).
RUNS = [
    ("lgpif_peril (target: peril flag, 9 classes)", lgpif, None, {}, {}),
    ("fremotor1 (target: Guarantee, 6 classes)", fremotor, None, {"class_weight": "sqrt", "refit": True}, {}),
    ("vehicle_fraud (target: FraudFound_P)", vehicle_fraud, "fraud", {}, {}),
]
ROLLING_SHARE = 0.5  # the last half of the rows is cut into the K test blocks
BOOTSTRAP = 1000


def macro_f1(t: np.ndarray, p: np.ndarray, n_labels: int) -> float:
    """Macro-F1 over the labels present in truth or prediction (as ml.metrics), on integer codes."""
    cm = np.bincount(t * n_labels + p, minlength=n_labels * n_labels).reshape(n_labels, n_labels)
    tp, present = np.diag(cm), (cm.sum(0) + cm.sum(1)) > 0
    return float(np.mean(2 * tp[present] / (cm.sum(0) + cm.sum(1))[present]))


def overall_metric(metric: str, folds: list[tuple], m: int, n_labels: int, pos: int = -1) -> float:
    """Model m over all test blocks. folds: (truth, predictions, positive-class scores), integer
    label codes; pos = the positive label's code. Accuracy and macro-F1 on the pooled rows. ROC AUC
    and AP compare scores within a fold only (each fold's model has its own scale: pooled, even the
    constant scorer ranks): AUC over the positive-negative pairs of the same fold, AP averaged over
    all positives, i.e. per-fold values weighted by pairs / positives."""
    if metric in ("roc_auc", "average_precision"):
        fn = roc_auc_score if metric == "roc_auc" else average_precision_score
        ys = [f[0] == pos for f in folds]
        w = np.array([y.sum() * ((~y).sum() if metric == "roc_auc" else 1) for y in ys], dtype=float)
        vals = [fn(y, f[2][m]) if wi else 0.0 for y, f, wi in zip(ys, folds, w)]
        return float(np.dot(w, vals) / w.sum())
    t = np.concatenate([f[0] for f in folds])
    p = np.concatenate([f[1][m] for f in folds])
    return float(np.mean(t == p)) if metric == "accuracy" else macro_f1(t, p, n_labels)


def rolling(title: str, loader, root: Path, k: int, positive: str | None, params: dict,
            text_options: dict) -> None:
    """Expanding window: block j of the last half is scored by models fitted on every earlier row."""
    df, spec, order = loader(root)
    labels = sorted(df["target"].unique())
    code = {c: i for i, c in enumerate(labels)}
    edges = np.linspace(int(len(df) * (1 - ROLLING_SHARE)), len(df), k + 1).astype(int)
    metrics = ["accuracy"] + (["roc_auc", "average_precision"] if positive else ["macro_f1"])
    pos = code.get(positive, -1)
    t0, per_fold, folds = time.perf_counter(), [], []
    for a, b in zip(edges[:-1], edges[1:]):
        hold = df.iloc[a:b]
        rows = fit_and_score(df.iloc[:a], hold, spec, positive, params, text_options)
        per_fold.append(rows)
        preds = [np.array([code[r["_classes"][i]] for i in r["_proba"].argmax(axis=1)]) for r in rows]
        scores = [r["_proba"][:, r["_classes"].index(positive)] if positive else None for r in rows]
        folds.append((hold["target"].map(code).to_numpy(), preds, scores))
    names = [r["model"] for r in per_fold[0]]
    router, baselines = 0, [i for i, n in enumerate(names) if "ml/" not in n]
    fmt = lambda r: " / ".join(f"{r[m]:.3f}" for m in metrics)  # noqa: E731
    print(f"\n### {title}\n\nOrder: {order}; {len(df)} rows, test blocks from row {edges[0]} in {k} folds "
          f"({time.perf_counter() - t0:.0f} s). Cells: {' / '.join(metrics)}.\n")
    print("| fold | train | test | " + " | ".join(names) + " | " +
          " | ".join(f"router − {names[i]}" for i in baselines) + " |")
    print("|---|---:|---:|" + "---:|" * (len(names) + len(baselines)))
    diffs = np.array([[[rows[router][m] - rows[i][m] for m in metrics] for i in baselines] for rows in per_fold])
    for j, rows in enumerate(per_fold):
        n_pos = f" ({np.sum(folds[j][0] == pos)} {positive})" if positive else ""
        print(f"| {j + 1} | {edges[j]} | {edges[j + 1] - edges[j]}{n_pos} | " + " | ".join(fmt(r) for r in rows) + " | "
              + " | ".join(" / ".join(f"{d:+.3f}" for d in diffs[j, i]) for i in range(len(baselines))) + " |")
    mean = {m: [np.mean([rows[i][m] for rows in per_fold]) for i in range(len(names))] for m in metrics}
    se = diffs.std(axis=0, ddof=1) / np.sqrt(k)
    print(f"| mean | | {edges[-1] - edges[0]} | " + " | ".join(" / ".join(f"{mean[m][i]:.3f}" for m in metrics)
          for i in range(len(names))) + " | " + " | ".join(" / ".join(
              f"{d:+.3f} ± {e:.3f}" for d, e in zip(diffs.mean(0)[i], se[i])) for i in range(len(baselines)))
          + " |\n\n(± = standard error of the per-fold difference across folds.)\n")

    # Paired bootstrap: the same resampled rows (within each fold) for both models.
    rng = np.random.default_rng(0)
    draws = [[rng.integers(0, len(f[0]), len(f[0])) for f in folds] for _ in range(BOOTSTRAP)]
    resampled = [[(t[d], [q[d] for q in p], [None if q is None else q[d] for q in sc])
                  for (t, p, sc), d in zip(folds, idx)] for idx in draws]
    truth = np.concatenate([f[0] for f in folds])
    print(f"All {len(truth)} test rows (AUC, AP: within-fold pairs / positives); router − baseline with a "
          f"95% CI from {BOOTSTRAP} paired bootstrap resamples of the test rows within each fold:\n")
    for i in baselines:
        for m in metrics:
            r, b = (overall_metric(m, folds, x, len(labels), pos) for x in (router, i))
            boot = [overall_metric(m, f, router, len(labels), pos) - overall_metric(m, f, i, len(labels), pos)
                    for f in resampled]
            lo, hi = np.percentile(boot, [2.5, 97.5])
            line = f"- vs {names[i]}, {m}: {r:.3f} vs {b:.3f}, {r - b:+.3f} [{lo:+.3f}, {hi:+.3f}]"
            if m == "accuracy":
                r_ok, b_ok = (np.concatenate([f[1][x] for f in folds]) == truth for x in (router, i))
                wins, losses = int(np.sum(r_ok & ~b_ok)), int(np.sum(~r_ok & b_ok))
                p_value = binomtest(wins, wins + losses).pvalue if wins + losses else 1.0
                line += (f"; McNemar: only the router right {wins}, only the baseline right {losses}, "
                         f"exact p = {p_value:.3f}")
            print(line)


def log_loss_of(row: dict, truth: pd.Series) -> float:
    classes = row["_classes"]
    p = np.array([row["_proba"][i, classes.index(t)] if t in classes else 0.0 for i, t in enumerate(truth)])
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))


def unseen_policies(root: Path, folds: int = 5) -> None:
    """fremotor1 with K-fold cross-validation grouped by policy (IDpol): no policy has
    claims on both sides, so a model can only use what generalises to a new policy.
    Run over the whole file and over the holdout period alone (no drift across time)."""
    from sklearn.model_selection import GroupKFold

    df, spec, _ = fremotor(root)
    params = next(p for t, loader, _, p, _ in RUNS if loader is fremotor)
    print(f"\n### fremotor1, policy-grouped {folds}-fold cross-validation\n")
    print("| rows | model | accuracy | macro-F1 | log loss |\n|---|---|---:|---:|---:|")
    for name, part in (("whole file", df), ("holdout period only", df.iloc[int(len(df) * (1 - HOLDOUT)):])):
        part = part.reset_index(drop=True)
        scores: dict[str, list] = {}
        for fit_rows, test_rows in GroupKFold(folds).split(part, groups=part["IDpol"]):
            test = part.iloc[test_rows]
            for r in fit_and_score(part.iloc[np.sort(fit_rows)], test, spec, None, params, {}):
                scores.setdefault(r["model"], []).append((r["accuracy"], r["macro_f1"], log_loss_of(r, test["target"])))
        for model, vals in scores.items():
            acc, f1, ll = np.mean(vals, axis=0)
            print(f"| {name} ({len(part)}) | {model} | {acc:.3f} | {f1:.3f} | {ll:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--validation", action="store_true",
                        help="compare the lgpif variants on the validation slice instead")
    parser.add_argument("--rolling", type=int, metavar="K",
                        help="rolling-origin evaluation instead: the last half of each dataset in K time blocks")
    parser.add_argument("--unseen-policies", action="store_true",
                        help="fremotor1 cross-validated with each policy's claims on one side only")
    args = parser.parse_args()
    if args.unseen_policies:
        unseen_policies(args.data)
        return
    if args.validation:
        validation(args.data)
        return
    if args.rolling is not None:
        if args.rolling < 2:
            parser.error("--rolling needs K >= 2 (the per-fold standard error needs two folds)")
        for title, loader, positive, params, text_options in RUNS:
            rolling(title, loader, args.data, args.rolling, positive, params, text_options)
        return
    for title, loader, positive, params, text_options in RUNS:
        rows, order, n_train, n_hold = run(loader, args.data, positive, params, text_options)
        print(f"\n### {title}\n\nSplit: {order}; train {n_train}, holdout {n_hold} (last 20%).\n")
        extra = ["roc_auc", "average_precision", "precision_top_5pct"] if positive else []
        cols = ["accuracy", "macro_f1", "ece"] + extra + ["seconds"]
        print("| model | " + " | ".join(cols) + " |")
        print("|---|" + "---:|" * len(cols))
        for r in rows:
            print(f"| {r['model']} | " + " | ".join(f"{r[c]:.3f}" if c != "seconds" else f"{r[c]:.1f}"
                                                    for c in cols) + " |")


if __name__ == "__main__":
    main()
