"""Claim page speed: the callbacks a browser calls when it opens a claim.

    DATABASE_URL=postgresql://... .venv/bin/python bench/claim_page.py [--claims 40] [--cold 3] [--role viewer]

Uses an existing database set up like the demo (`scope run`'s first start:
demo users, synthetic claims, a champion, routed claims). Signs in as a demo
user through the real sign-in form with Flask's test client, then, per claim
that was never opened in this process, times what the browser asks for:

- the page callback (`_pages_content`: the layout with the stored decision,
  probabilities, waterfall and reasons: the main content),
- every callback that fires on `claim-key` when the page opens (the insights).

"cold" rounds first forget the process's caches (champion model, neighbour
index, counterfactuals), as after a restart; the next rounds do the same and then
wait for ``app.warm_up`` (what a web process starts with). Nothing is written except what
a page view writes (usage events, audit of sign-in).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

SECRET = "bench-secret-key-" + "x" * 32


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def forget_caches() -> None:
    from services import routing, similar_claims
    from services.cache import get_cache

    routing._cache.clear()
    similar_claims._indexes.clear()
    getattr(similar_claims, "_grids", {}).clear()  # absent before the grids had a cache of their own
    get_cache().clear()  # counterfactuals live in the shared cache


def opening_callbacks(dash_app) -> list[tuple[str, dict]]:
    """Callbacks that run by themselves when a claim page opens (input claim-key)."""
    out = []
    for key, entry in dash_app.callback_map.items():
        if entry.get("prevent_initial_call"):
            continue
        if any(d["id"] == "claim-key" for d in entry["inputs"]):
            out.append((key, entry))
    return out


def call(client, key: str, entry: dict, number: str) -> tuple[float, int]:
    many = isinstance(entry["output"], list)
    outs = [{"id": o.component_id, "property": o.component_property}
            for o in (entry["output"] if many else [entry["output"]])]
    body = {"output": key, "outputs": outs if many else outs[0],
            "inputs": [{"id": "claim-key", "property": "data", "value": number}],
            "state": [], "changedPropIds": ["claim-key.data"]}
    t = time.perf_counter()
    response = client.post("/_dash-update-component", json=body)
    return (time.perf_counter() - t) * 1000, response.status_code


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=40, help="warm claims to time (each opened once)")
    parser.add_argument("--cold", type=int, default=3, help="claims opened right after forgetting the caches")
    parser.add_argument("--role", default="viewer", help="demo role without MFA: viewer or adjuster")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("set DATABASE_URL to a database set up like the demo")
    say = lambda *a: print(*a, flush=True)  # noqa: E731

    from app import create_app
    from config import Settings
    from db.flask_db import read_session
    from db.models import Claim, RoutingDecision
    from jobs.bootstrap import DEMO_LOGINS
    from tests.conftest import login
    from tests.webutil import render_page

    app = create_app(Settings(database_url=url, secret_key=SECRET))
    client = app.server.test_client()
    client.get("/healthz")
    creds = next(d for d in DEMO_LOGINS if d.role == args.role)
    assert login(client, creds.email, creds.password).status_code == 302, "sign-in failed"
    callbacks = opening_callbacks(app)
    say(f"callbacks on opening: {[k for k, _ in callbacks]}")
    with app.server.app_context():
        session = read_session()
        # Open, routed claims spread over the table (the ones people open).
        numbers = session.scalars(
            select(Claim.claim_number).where(Claim.status != "closed", select(RoutingDecision.id).where(
                RoutingDecision.claim_id == Claim.id).exists()).order_by(Claim.id)).all()
        session.close()
    wanted = args.claims + 2 * args.cold
    numbers = numbers[::max(1, len(numbers) // wanted)][:wanted]

    def open_claim(number: str) -> dict:
        t = time.perf_counter()
        status, body = render_page(client, f"/claims/{number}")
        times = {"page": (time.perf_counter() - t) * 1000}
        assert status == 200 and "Routing decision" in body, (status, body[:300])
        for key, entry in callbacks:
            ms, code = call(client, key, entry, number)
            assert code == 200, (key, code)
            times[key] = ms
        return times

    import app as app_module

    warm_up = getattr(app_module, "warm_up", None)  # absent in older versions (to compare with them)
    cold, started, warm = [], [], []
    for number in numbers[: args.cold]:
        forget_caches()
        cold.append(open_claim(number))
    for number in numbers[args.cold: 2 * args.cold] if warm_up else []:
        forget_caches()
        t = time.perf_counter()
        warm_up(app).join()  # what a web process does when it starts (app.server)
        say(f"warm-up took {(time.perf_counter() - t) * 1000:.0f} ms")
        started.append(open_claim(number))
    for number in numbers[2 * args.cold:]:
        warm.append(open_claim(number))

    names = ["page"] + [k for k, _ in callbacks]
    say(f"\n{'callback':70} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for label, rows in (("cold (caches forgotten, no warm-up)", cold), ("after a start's warm-up", started),
                        ("first open of each claim", warm)):
        if not rows:
            continue
        say(f"-- {label}")
        for name in names + ["sum (sequential)"]:
            values = [sum(r.values()) if name == "sum (sequential)" else r[name] for r in rows]
            say(f"{name[:70]:70} {len(values):3d} {statistics.median(values):8.1f} {pct(values, 0.95):8.1f} "
                f"{max(values):8.1f}")
    say(json.dumps({"claims": len(numbers), "role": args.role}))


if __name__ == "__main__":
    main()
