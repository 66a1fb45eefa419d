"""Every page, in a real browser, over a large database: how long each server request
behind a page takes (the product's p95 < 500 ms target) and how long until the page
has settled.

Builds a scratch database of N claims (``bench_operations.populate``: demo claims,
team, one synthetic decision per claim, moves, verdicts; rollups refreshed), serves it
with gunicorn exactly as ``scope run`` does (2 gthread workers x 4 threads, the shipped
gunicorn config), signs each role in with Chromium and opens each of its pages
``--visits`` times after one warm-up visit. For every Dash callback request it records
the server's time to first byte (Playwright's request timing: responseStart -
requestStart); for every visit, the time from navigation until no request has been in
flight for 0.5 s (the quiet window itself not counted). The claim page has its own
benchmark (bench/claim_page.py) with a trained model; here decisions are synthetic.

    .venv/bin/python bench/bench_pages.py --claims 1000000 [--keep]
    .venv/bin/python bench/bench_pages.py --database postgresql://.../scope_bench_pages_<id>  # again, same data
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_operations import _p, populate  # noqa: E402
from tests import dbutil  # noqa: E402

SECRET_KEY = "bench-pages-secret-key-" + "x" * 32
PAGES = {
    "adjuster": ["/", "/my-work", "/queues?department=AUTO_PD", "/rings", "/fraud-alerts", "/intake", "/profile",
                 "/tokens"],
    "viewer": ["/dashboard", "/alerts", "/queues?department=PROPERTY", "/siu-cases"],
    "manager": ["/reassign", "/rings", "/fraud-alerts", "/siu-cases", "/workload", "/operations", "/analytics",
                "/models", "/dashboard/report"],
    "admin": ["/admin/users", "/admin/departments", "/admin/audit", "/admin/jobs"],
}
QUIET_S = 0.5
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET_KEY, SCOPE_LOG_LEVEL="WARNING")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app:server", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
         "--timeout", "120"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5):  # nosec B310 - our local server
                time.sleep(5)  # the second worker too
                return proc, base
        except OSError:
            time.sleep(1)
    proc.kill()
    raise SystemExit("gunicorn did not start")


class _Tracker:
    """The requests a page has in flight, and the callback timings of recorded visits."""

    def __init__(self, callbacks: dict):
        self.inflight: set = set()
        self.callbacks = callbacks
        self.path: str | None = None
        self.record = False

    def started(self, request) -> None:
        self.inflight.add(request)

    def failed(self, request) -> None:
        self.inflight.discard(request)

    def finished(self, request) -> None:
        self.inflight.discard(request)
        if self.record and "_dash-update-component" in request.url:
            timing = request.timing
            self.callbacks[self.path].append(timing["responseStart"] - timing["requestStart"])

    def settle(self, page) -> None:
        quiet_since = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.inflight:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_S:
                return
            page.wait_for_timeout(25)
        raise RuntimeError(f"{page.url} did not settle in 60 s")


def measure(base: str, visits: int) -> tuple[dict, dict]:
    from playwright.sync_api import sync_playwright

    from tests.browser.test_claim_flow import sign_in

    callbacks: dict[str, list[float]] = defaultdict(list)
    settle: dict[str, list[float]] = defaultdict(list)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("SCOPE_CHROMIUM", "/usr/bin/chromium"),
                                     args=CHROMIUM_ARGS)
        for role, paths in PAGES.items():
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            page = context.new_page()
            tracker = _Tracker(callbacks)
            page.on("request", tracker.started)
            page.on("requestfailed", tracker.failed)
            page.on("requestfinished", tracker.finished)
            sign_in(page, base, f"{role}@scope.example", f"scope-demo-{role}")
            for path in paths:
                for visit in range(visits + 1):
                    tracker.path, tracker.record = path, visit > 0
                    started = time.perf_counter()
                    page.goto(base + path)
                    tracker.settle(page)
                    if visit:
                        settle[path].append((time.perf_counter() - started - QUIET_S) * 1000)
            context.close()
        browser.close()
    return callbacks, settle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--visits", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (to profile a page)")
    parser.add_argument("--prefix", default="scope_bench_pages", help="name prefix of the scratch database")
    parser.add_argument("--database", metavar="URL",
                        help="measure a database kept by an earlier --keep run (upgraded to head, never dropped; "
                             "--claims is then ignored)")
    args = parser.parse_args()

    from db.session import make_engine, make_session_factory, normalise_url
    from services import aggregates, fraud_alerts, fraud_rings
    from tests import mfautil

    if args.database:
        url, admin = args.database, None
    else:
        url, admin = dbutil.create_database(args.prefix)
    print(f"database {url}", flush=True)
    proc = None
    try:
        dbutil.upgrade(url)
        if admin is not None:
            engine = make_engine(normalise_url(url))
            factory = make_session_factory(engine)
            populate(engine, factory, args.claims)
            with factory.begin() as s:
                aggregates.refresh(s)
                started = time.perf_counter()
                fraud_rings.refresh(s)  # what the hourly detect_rings job keeps
                print(f"fraud_rings.refresh {time.perf_counter() - started:.1f} s", flush=True)
                started = time.perf_counter()
                raised = fraud_alerts.refresh(s)  # and raise_fraud_alerts after it
                print(f"fraud_alerts.refresh {time.perf_counter() - started:.1f} s {raised}", flush=True)
                for email in mfautil.DEMO_MFA_EMAILS:
                    mfautil.enrol_known(s, email, mfautil.DEMO_TOTP_SECRET, SECRET_KEY)
            engine.dispose()
        mfautil.use_web_database(url)
        proc, base = _serve(url)
        callbacks, settle = measure(base, args.visits)
        every = [ms for values in callbacks.values() for ms in values]
        print(f"\n{'page':<28} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}   settled p50 / p95 ms")
        for path in [p for paths in PAGES.values() for p in paths]:
            values = callbacks.get(path) or [0.0]
            print(f"{path:<28} {len(callbacks.get(path, [])):>8} {statistics.median(values):>7.0f} "
                  f"{_p(values, 0.95):>7.0f} {max(values):>7.0f}   "
                  f"{statistics.median(settle[path]):.0f} / {_p(settle[path], 0.95):.0f}")
        print(f"\nall callback requests: n={len(every)}, p50 {statistics.median(every):.0f} ms, "
              f"p95 {_p(every, 0.95):.0f} ms, max {max(every):.0f} ms", flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if args.keep or admin is None:
            print(f"kept {url}", flush=True)
        else:
            dbutil.drop_database(url, admin)
            print("dropped the scratch database", flush=True)


if __name__ == "__main__":
    main()
