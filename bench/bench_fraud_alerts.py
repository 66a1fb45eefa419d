"""Fraud alerts at scale, on a database kept by ``bench_pages.py --keep``:

- ``fraud_alerts.refresh`` timed twice (the first from no alerts, the second must change
  nothing), and the parts of its signal search (ring members, shared links, the latest
  routing decision per open claim);
- open alerts by kind of signal, and their precision against the demo's ground truth
  (``claims.fraud_label``) next to the base rate among open claims;
- ``list_alerts`` / ``counts`` for the demo manager and adjuster, ``alert_of_claim`` on
  claims with an alert;
- the /fraud-alerts page and a claim page with an alert, rendered through Flask's test
  client (the page callback, as bench/claim_page.py does).

    .venv/bin/python bench/bench_fraud_alerts.py --database postgresql://.../scope_bench_pages_<id>

Writes only the fraud alerts (replaced by the first refresh) and what a page view writes.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from bench.bench_operations import _p  # noqa: E402

SECRET_KEY = "bench-pages-secret-key-" + "x" * 32  # as bench_pages.py enrolled the MFA users
SNAPSHOT = "SELECT md5(string_agg(id || ':' || version || ':' || status || ':' || updated_at, ',' ORDER BY id)) " \
           "FROM fraud_alerts"


def _timed(fn, repeat: int = 5) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return times, out


def _line(label: str, times: list[float], extra: str = "") -> None:
    print(f"  {label:<44} p50 {statistics.median(times):7.0f} ms  p95 {_p(times, 0.95):7.0f} ms  "
          f"max {max(times):7.0f} ms  {extra}", flush=True)


# Proxy red flags from the first-notice facts (new policy, attorney, prior claims, late report):
# what a trained router's SIU probability leans on. Only a volume of model signals to read.
WHAT_IF = """
INSERT INTO routing_decisions (claim_id, model_version_id, predicted_department_id, routed_department_id,
    probabilities, confidence, threshold, features, shap_values, shap_method, drivers, decided_at)
SELECT d.claim_id, d.model_version_id, d.predicted_department_id, d.routed_department_id,
       jsonb_build_object('SIU', CASE f.n WHEN 0 THEN 0.01 WHEN 1 THEN 0.08 WHEN 2 THEN 0.3 ELSE 0.6 END
                                 + (hashtext(c.claim_number) & 255) / 255.0 * 0.1),
       d.confidence, d.threshold, d.features, d.shap_values, d.shap_method, d.drivers, d.decided_at
FROM (SELECT DISTINCT ON (claim_id) * FROM routing_decisions ORDER BY claim_id, id DESC) d
JOIN claims c ON c.id = d.claim_id
CROSS JOIN LATERAL (SELECT (coalesce((c.extra ->> 'policy_tenure_days')::int, 999) < 60)::int
                           + coalesce((c.extra ->> 'attorney_involved')::boolean, false)::int
                           + (coalesce((c.extra ->> 'prior_claims_3y')::int, 0) >= 2)::int
                           + coalesce((c.report_date - c.loss_date > 30)::int, 0) AS n) f
WHERE c.status <> 'closed'
"""


def _what_if_model(factory, users: dict, repeat: int) -> None:
    from services import fraud_alerts

    print("\nwhat if the router gave SIU probabilities (proxy red flags; rolled back):", flush=True)
    with factory() as s:
        t = time.perf_counter()
        n = s.execute(text(WHAT_IF)).rowcount
        print(f"  {n:,} new decisions with an SIU probability in {time.perf_counter() - t:.0f} s", flush=True)
        t = time.perf_counter()
        first = fraud_alerts.refresh(s)
        print(f"  refresh {time.perf_counter() - t:.1f} s {first}", flush=True)
        t = time.perf_counter()
        second = fraud_alerts.refresh(s)
        print(f"  refresh again {time.perf_counter() - t:.1f} s {second}", flush=True)
        for r in s.execute(text("""
                SELECT k.kind, count(*) AS n, count(*) FILTER (WHERE c.fraud_label) AS fraud
                FROM fraud_alerts a JOIN claims c ON c.id = a.claim_id
                CROSS JOIN LATERAL (SELECT DISTINCT e ->> 'kind' AS kind FROM jsonb_array_elements(a.signals) e) k
                WHERE a.status = 'open' GROUP BY k.kind ORDER BY k.kind""")):
            print(f"  {r.kind:<14} {r.n:>8,}  precision {r.fraud / r.n:6.1%}", flush=True)
        r = s.execute(text("SELECT count(*) AS n, count(*) FILTER (WHERE c.fraud_label) AS fraud FROM fraud_alerts a "
                           "JOIN claims c ON c.id = a.claim_id WHERE a.status = 'open'")).one()
        print(f"  {'all open':<14} {r.n:>8,}  precision {r.fraud / max(r.n, 1):6.1%}", flush=True)
        for role, user in users.items():
            times, (views, total) = _timed(lambda user=user: fraud_alerts.list_alerts(s, user), repeat)
            _line(f"list_alerts {role}", times, f"{len(views)} listed of {total:,}")
        s.rollback()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", metavar="URL", required=True, help="a database kept by bench_pages.py --keep")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-pages", action="store_true", help="skip the pages through the test client")
    parser.add_argument("--what-if-model", action="store_true",
                        help="also, in a transaction rolled back at the end: give open claims' latest decisions an "
                             "SIU probability from proxy red flags (the synthetic decisions have none, so the "
                             "model signal never fires), then refresh and read again")
    args = parser.parse_args()

    from dash._utils import to_json

    from auth.current import SessionUser
    from auth.permissions import Perm
    from components.fraud_alerts import list_body
    from db.models import OPEN_STATUSES, User
    from db.session import make_engine, make_session_factory, normalise_url
    from services import fraud_alerts, fraud_rings

    engine = make_engine(normalise_url(args.database))
    factory = make_session_factory(engine)
    open_sql = ", ".join(f"'{s}'" for s in OPEN_STATUSES)

    print("signal search, its parts (read only):", flush=True)
    with factory() as s:
        siu = fraud_alerts._siu_id(s)
        where = fraud_alerts._candidates_sql(siu)
        for label, fn in (
                ("ring members (fraud_rings x claims)", lambda: s.execute(text(
                    "SELECT c.id FROM fraud_rings r CROSS JOIN LATERAL unnest(r.claim_ids) AS m(id) "
                    f"JOIN claims c ON c.id = m.id WHERE {where}")).all()),  # nosec B608 (constants)
                ("shared_links", lambda: fraud_rings.shared_links(s)),
                ("latest SIU probability per open claim", lambda: fraud_alerts._latest_siu_probability(s, siu)),
                ("system_signals (all of it)", lambda: fraud_alerts.system_signals(s)[0])):
            times, out = _timed(fn, 1)
            print(f"  {label:<44} {times[0] / 1000:6.1f} s  {len(out):,} rows", flush=True)

    t = time.perf_counter()
    with factory.begin() as s:
        s.execute(text("DELETE FROM fraud_alerts"))
        first = fraud_alerts.refresh(s)
    print(f"\nrefresh from no alerts: {time.perf_counter() - t:.1f} s {first}", flush=True)
    with factory() as s:
        before = s.scalar(text(SNAPSHOT))
    t = time.perf_counter()
    with factory.begin() as s:
        second = fraud_alerts.refresh(s)
    elapsed = time.perf_counter() - t
    with factory() as s:
        same = s.scalar(text(SNAPSHOT)) == before
    print(f"refresh again:          {elapsed:.1f} s {second} ({'nothing changed' if same else 'CHANGED ROWS'})",
          flush=True)

    with factory() as s:
        print("\nopen alerts by kind of signal (an alert may have several):", flush=True)
        rows = s.execute(text("""
            SELECT k.kind, count(*) AS n, count(*) FILTER (WHERE c.fraud_label) AS fraud
            FROM fraud_alerts a JOIN claims c ON c.id = a.claim_id
            CROSS JOIN LATERAL (SELECT DISTINCT e ->> 'kind' AS kind FROM jsonb_array_elements(a.signals) e) k
            WHERE a.status = 'open' GROUP BY k.kind ORDER BY k.kind""")).all()
        for r in rows:
            print(f"  {r.kind:<14} {r.n:>8,}  precision {r.fraud / r.n:6.1%}", flush=True)
        total = s.execute(text("""
            SELECT count(*) AS n, count(*) FILTER (WHERE c.fraud_label) AS fraud,
                   count(*) FILTER (WHERE a.signal_count > 1) AS several,
                   count(*) FILTER (WHERE a.signal_count > 1 AND c.fraud_label) AS several_fraud
            FROM fraud_alerts a JOIN claims c ON c.id = a.claim_id WHERE a.status = 'open'""")).one()
        base = s.execute(text(f"""
            SELECT count(*) AS n, count(*) FILTER (WHERE fraud_label) AS fraud,
                   count(*) FILTER (WHERE {where}) AS cand,
                   count(*) FILTER (WHERE {where} AND fraud_label) AS cand_fraud
            FROM claims c WHERE c.status IN ({open_sql})""")).one()  # nosec B608 (constants)
        print(f"  {'all open':<14} {total.n:>8,}  precision {total.fraud / max(total.n, 1):6.1%} "
              f"({total.fraud:,} with fraud_label); with 2+ signals {total.several:,}, precision "
              f"{total.several_fraud / max(total.several, 1):.1%}", flush=True)
        print(f"  base rate: open claims {base.n:,}, fraud_label {base.fraud / base.n:.1%}; open outside SIU "
              f"(the candidates) {base.cand:,}, fraud_label {base.cand_fraud / max(base.cand, 1):.1%}; "
              f"recall of the alerts among candidates {total.fraud / max(base.cand_fraud, 1):.1%}", flush=True)

        print("\nreading (service calls, warm):", flush=True)
        users = {role: SessionUser.from_model(s.scalar(select(User).where(User.email == f"{role}@scope.example")))
                 for role in ("manager", "adjuster")}
        for role, user in users.items():
            s.expire_all()
            times, (views, n) = _timed(lambda user=user: fraud_alerts.list_alerts(s, user), args.repeat)
            _line(f"list_alerts {role}", times, f"{len(views)} listed of {n:,}")
            times, body = _timed(lambda views=views, n=n, user=user: list_body(
                views, n, "USD", status="open", can_decide=user.can(Perm.DECIDE_FRAUD)), args.repeat)
            _line(f"list_body {role} (the table's components)", times)
            times, js = _timed(lambda body=body: to_json(body), args.repeat)
            _line(f"to_json {role} (the response)", times, f"{len(js):,} bytes")
            times, tallies = _timed(lambda user=user: fraud_alerts.counts(s, user), args.repeat)
            _line(f"counts {role}", times, str(tallies))
        claims = {}
        for role, user in users.items():
            views, _ = fraud_alerts.list_alerts(s, user, limit=1)
            if not views:
                continue
            top = views[0]  # the first alert the user sees (most signals)
            claims[role] = top.claim_number
            times, view = _timed(lambda user=user, top=top: fraud_alerts.alert_of_claim(s, user, top.claim_id),
                                 args.repeat)
            _line(f"alert_of_claim {role} {top.claim_number}", times,
                  "signals shown: " + ", ".join(v.kind for v in view.signals))

    if args.what_if_model:
        _what_if_model(factory, users, args.repeat)
    if args.no_pages:
        engine.dispose()
        return
    import os

    from app import create_app
    from config import Settings
    from jobs.bootstrap import DEMO_LOGINS
    from tests import mfautil
    from tests.conftest import login
    from tests.webutil import render_page

    os.environ.pop("REDIS_URL", None)
    mfautil.use_web_database(args.database)
    app = create_app(Settings(database_url=args.database, secret_key=SECRET_KEY))
    print("\npages (the page callback through the test client, warm):", flush=True)
    for role in ("manager", "adjuster"):
        creds = next(d for d in DEMO_LOGINS if d.role == role)
        client = app.server.test_client()
        client.get("/healthz")
        assert login(client, creds.email, creds.password).status_code == 302, f"{role} sign-in failed"
        paths = ["/fraud-alerts"] + ([f"/claims/{claims[role]}"] if role in claims else [])
        for path in paths:
            render_page(client, path)  # warm-up
            times, (status, _) = _timed(lambda client=client, path=path: render_page(client, path), args.repeat)
            assert status == 200, (path, status)
            _line(f"{role} {path}", times)
    engine.dispose()


if __name__ == "__main__":
    main()
