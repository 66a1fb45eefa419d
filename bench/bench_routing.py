"""Cost of scoring and explaining claims: raw XGBoost predict vs exact
TreeSHAP vs approximate contributions, batched and one claim at a time.

    .venv/bin/python bench/bench_routing.py [--claims 20000] [--single 200]

Uses the real lgpif_peril claims (description text + amount), repeated to
--claims rows, through the same ml/ pipeline and explanation code as
services.routing (database writes excluded).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.explain import explain_rows  # noqa: E402
from ml.features import FeaturePipeline  # noqa: E402
from ml.router import train_router  # noqa: E402

FLAGS = ["Vandalism", "Fire", "Lightning", "Wind", "Hail", "Vehicle", "WaterNW", "WaterW", "Misc"]
SPEC = [{"name": "description", "kind": "text"}, {"name": "claimed_amount", "kind": "numeric"}]


def timed(fn, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--claims", type=int, default=20000)
    parser.add_argument("--single", type=int, default=200)
    args = parser.parse_args()

    df = pd.read_csv(args.data / "lgpif_peril" / "peril.training.csv")
    df = df.assign(target=df[FLAGS].idxmax(axis=1), description=df["Description"].str.strip(),
                   claimed_amount=df["Loss"])
    t = time.perf_counter()
    pipe = FeaturePipeline(SPEC)
    router, info = train_router(pipe.fit_transform(df), df["target"].tolist(), pipe.feature_types)
    print(f"train on {len(df)} claims: {time.perf_counter() - t:.1f}s "
          f"({info['rounds_used']} rounds x {len(router.classes)} classes, {len(pipe.feature_names)} features)")

    claims = pd.concat([df] * (args.claims // len(df) + 1), ignore_index=True).iloc[: args.claims]
    X = pipe.transform(claims)
    data = router.dmatrix(X)
    names = {c: c for c in router.classes}
    n = len(claims)
    batch = {
        "transform (features)": timed(lambda: pipe.transform(claims)),
        "raw predict (calibrated proba)": timed(lambda: router.predict_proba(data)),
        "exact TreeSHAP contributions": timed(lambda: router.contributions(data)),
        "approx contributions": timed(lambda: router.contributions(data, approx=True)),
    }
    contribs = router.contributions(data)
    pred = router.predict_proba(data).argmax(axis=1).tolist()
    raw = pipe.raw_values(claims)
    batch["grouping + driver texts"] = timed(lambda: explain_rows(contribs, X, pipe, raw, router.classes, pred, names))
    print(f"\nbatch of {n} claims (ms per claim):")
    for k, v in batch.items():
        print(f"  {k:34s} {1000 * v / n:8.3f}   (total {v:.2f}s)")

    rows = [claims.iloc[[i]] for i in range(args.single)]

    def one(method):
        def go():
            for row in rows:
                d = router.dmatrix(pipe.transform(row))
                if method == "predict":
                    router.predict_proba(d)
                else:
                    router.contributions(d, approx=method == "approx")
        return go

    print(f"\nsingle claim, incl. feature transform (ms per claim, mean of {args.single}):")
    for label, method in (("raw predict", "predict"), ("exact TreeSHAP", "exact"), ("approx", "approx")):
        print(f"  {label:34s} {1000 * timed(one(method)) / args.single:8.3f}")


if __name__ == "__main__":
    main()
