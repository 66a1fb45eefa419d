"""Intake end to end over HTTP: one claim per POST (latency), a few concurrent
clients (throughput), one 10,000-claim batch, and the raw XGBoost predict time
per claim on the same claims for comparison.

    .venv/bin/python bench/bench_intake.py [--demo-claims 5000] [--single 300] [--clients 4]

Starts gunicorn on 127.0.0.1 (a free port) against a scratch database with the
demo data and trained model, creates an API token, measures, then stops
gunicorn and drops the database. Loopback only.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import dbutil  # noqa: E402

DESCRIPTIONS = (
    "Rear-ended at a traffic light, bumper and tail light broken, no injuries.",
    "Hail storm cracked the windshield while parked at the mall.",
    "Pipe burst in the upstairs bathroom and water came through the kitchen ceiling.",
    "Customer slipped on a wet floor in the store and broke her wrist.",
    "Warehouse worker strained his back lifting boxes onto a pallet.",
    "Kitchen fire spread to the cabinets, smoke damage in the living room.",
    "Other driver ran a stop sign, passenger taken to hospital with neck pain.",
)
LOBS = ("auto", "auto", "property", "general_liability", "workers_comp", "property", "auto")


def claim(i: int) -> dict:
    k = i % len(DESCRIPTIONS)
    return {"policy_number": f"PAU-{i % 10_000_000:07d}", "line_of_business": LOBS[k],
            "loss_date": (dt.date.today() - dt.timedelta(days=1 + i % 60)).isoformat(),
            "description": DESCRIPTIONS[k] + f" Ref {i}.", "claimed_amount": 500 + (i * 37) % 40_000,
            "state": random.choice(("CA", "TX", "NY", "FL", "IL")), "postcode": f"{10000 + i % 89999:05d}",
            "reported_via": "web", "injury_reported": k in (3, 4, 6), "witness_count": i % 3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, token: str, body: dict, timeout: float = 120) -> tuple[int, dict]:
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo-claims", type=int, default=5000)
    parser.add_argument("--single", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from config import Settings
    from db.session import make_engine, make_session_factory, normalise_url
    from jobs import bootstrap

    url, admin = dbutil.create_database("scope_bench")
    proc = None
    try:
        dbutil.upgrade(url)
        engine = make_engine(normalise_url(url))
        factory = make_session_factory(engine)
        t0 = time.perf_counter()
        bootstrap.run(factory, Settings(database_url=url), demo_claims=args.demo_claims, say=lambda *_: None)
        print(f"bootstrap ({args.demo_claims:,} claims + model): {time.perf_counter() - t0:.1f} s")
        from sqlalchemy import select

        from db.models import User
        from services.api_tokens import create_token
        with factory.begin() as session:
            user = session.scalar(select(User).where(User.email == "manager@scope.example"))
            _, token = create_token(session, user, name="bench", scopes=["claims:write", "claims:read"])

        port = free_port()
        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-" + "x" * 40, SCOPE_LOG_LEVEL="WARNING")
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "app:server", "--bind", f"127.0.0.1:{port}",
                                 "--workers", str(args.workers), "--worker-class", "gthread", "--threads", "4",
                                 "--timeout", "300", "--chdir", str(ROOT), "--access-logfile", "/dev/null"],
                                env=env, cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        # Warm every worker (model load, first import) before timing.
        for i in range(4 * args.workers):
            post(base + "/api/v1/claims", token, claim(10_000_000 - i))

        latencies = []
        for i in range(args.single):
            start = time.perf_counter()
            status, _ = post(base + "/api/v1/claims", token, claim(i))
            latencies.append((time.perf_counter() - start) * 1000)
            assert status == 201, status
        print(f"single POST x{args.single}: p50 {pct(latencies, .5):.1f} ms, p95 {pct(latencies, .95):.1f} ms, "
              f"p99 {pct(latencies, .99):.1f} ms")

        done, errors, stop = [0], [0], time.perf_counter() + args.seconds
        lock = threading.Lock()

        def client(offset: int) -> None:
            i = offset
            while time.perf_counter() < stop:
                status, _ = post(base + "/api/v1/claims", token, claim(100_000 + i))
                with lock:
                    done[0] += status == 201
                    errors[0] += status != 201
                i += args.clients

        threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        print(f"sustained: {args.clients} clients, {elapsed:.1f} s: {done[0] / elapsed:.1f} claims/s "
              f"({done[0]} ok, {errors[0]} errors)")

        items = [claim(1_000_000 + i) for i in range(args.batch)]
        start = time.perf_counter()
        status, body = post(base + "/api/v1/claims/batch", token, {"claims": items}, timeout=600)
        batch_s = time.perf_counter() - start
        assert status == 201, (status, str(body)[:300])
        print(f"batch of {args.batch:,}: {batch_s:.2f} s end to end ({args.batch / batch_s:,.0f} claims/s)")

        import pandas as pd

        from services.claims_frame import load_frame
        from services.routing import load_champion, predict_frame
        from sqlalchemy import text
        with factory() as session:
            ids = list(session.scalars(text("SELECT id FROM claims WHERE claim_number LIKE 'FNOL-%' ORDER BY id")))
            model = load_champion(session, "synthetic")
            frame = load_frame(session, "synthetic", claim_ids=ids)
        predict_frame(model, frame.head(10))
        start = time.perf_counter()
        predict_frame(model, frame)
        batched = (time.perf_counter() - start) / len(frame) * 1000
        singles = []
        for i in range(min(200, len(frame))):
            row = frame.iloc[[i]]
            s = time.perf_counter()
            predict_frame(model, pd.DataFrame(row))
            singles.append((time.perf_counter() - s) * 1000)
        single_ms = statistics.median(singles)
        print(f"raw predict (features + XGBoost) on the same {len(frame):,} claims: {batched:.3f} ms/claim batched, "
              f"{single_ms:.2f} ms for one claim")
        print(f"ratio: single POST p50 / one-claim predict = {pct(latencies, .5) / single_ms:.0f}x; "
              f"batch per claim / batched predict = {batch_s * 1000 / args.batch / batched:.0f}x")
        engine.dispose()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        dbutil.drop_database(url, admin)


if __name__ == "__main__":
    main()
