"""Claim documents against the product's p95 < 500 ms per server request, through the app's own
code paths (Flask's test client, signed in as the demo adjuster, as ``bench/claim_page.py``):

- attaching through the claim page's Attach callback (the files as base64 data URLs in the
  callback's JSON, as the browser sends them): one file of 100 KB, 2 MB and 10 MB, and five of
  4 MB (20 MB, an upload's limit); the same sizes through the REST API's multipart POST and
  through ``services.claim_documents.attach`` alone (no HTTP, no JSON, no base64), to say where
  the time goes. Every file is new random bytes behind a PDF header: incompressible, as PDFs and
  photos are, and never a duplicate;
- the process's memory for a 20 MB upload: the growth of peak RSS (``resource.getrusage``
  ``ru_maxrss``, before any other large upload in this process) and, in one more untimed
  upload, the peak of Python's own allocations (``tracemalloc``; libpq's buffers are not in it);
- downloading a 10 MB document through ``/claim-documents/<id>`` (under the per-person limit
  of 60 a minute);
- opening a claim page (the layout callback, ``tests.webutil.render_page``) with 0, 10 and 100
  documents, and listing 100 through the REST API (``GET /api/v1/claims/<n>/documents``).

Each request's time is the app's (``ServerClock``: the WSGI call until its body is produced), with
the test client's (which also encodes the request and reads the response) beside it.

    .venv/bin/python bench/bench_claim_documents.py [--claims 2000] [--repeat 20]
    .venv/bin/python bench/bench_claim_documents.py --database postgresql://.../scope_bench_docs

Without ``--database`` a scratch database is set up as the run command's first start does
(``jobs.bootstrap.run``) and dropped at the end. With it (a database set up the same way), the
documents the bench attached are deleted at the end (their claims' 'document' events too; the
audit entries stay: the audit log is append-only).
"""
from __future__ import annotations

import argparse
import base64
import gc
import io
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from bench.bench_fraud_alerts import _line  # noqa: E402
from bench.bench_operations import _p  # noqa: E402
from tests import dbutil  # noqa: E402

SECRET = "bench-docs-secret-key-" + "x" * 32
KB, MB = 1024, 1024 * 1024
ATTACH_OUT = [("doc-msg", "children"), ("doc-list", "children"), ("doc-upload", "contents"),
              ("doc-upload", "filename"), ("doc-note", "value"), ("claim-refresh", "data")]
NOTE = "bench_claim_documents"   # every document the bench attaches carries it (the clean-up finds them)


def pdf_of(size: int) -> bytes:
    """``size`` bytes that detect() takes for a PDF, random after the header (incompressible)."""
    head = b"%PDF-1.7\n% bench\n"
    return head + os.urandom(size - len(head))


def data_url(data: bytes) -> str:
    return "data:application/pdf;base64," + base64.b64encode(data).decode()


class ServerClock:
    """The app's own time for a request (WSGI call to the last byte of the body produced), without
    the test client's work: encoding a 27 MB JSON request, reading a 10 MB response."""

    def __init__(self, server):
        self.last = 0.0
        inner = server.wsgi_app

        def timed(environ, start_response):
            t = time.perf_counter()
            try:
                chunks = list(inner(environ, start_response))
            finally:
                self.last = (time.perf_counter() - t) * 1000
            return chunks
        server.wsgi_app = timed


def _both(label: str, pairs: list[tuple[float, float]], extra: str = "") -> None:
    """Server time's line, the client's p50/p95 beside it."""
    client = [c for c, _ in pairs]
    _line(label, [sv for _, sv in pairs], f"client p50 {statistics.median(client):.0f} / p95 "
                                          f"{_p(client, 0.95):.0f} ms {extra}".rstrip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", metavar="URL", help="a database set up as the run command does (default: "
                                                          "a scratch one, dropped at the end)")
    parser.add_argument("--claims", type=int, default=2000, help="demo claims of the scratch database")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    scratch = None
    url = args.database
    if url is None:
        from config import Settings
        from db.session import make_engine, make_session_factory, normalise_url
        from jobs import bootstrap

        url, admin = dbutil.create_database("scope_bench_docs")
        scratch = (url, admin)
        t = time.perf_counter()
        dbutil.upgrade(url)
        engine = make_engine(normalise_url(url))
        bootstrap.run(make_session_factory(engine), Settings(database_url=url), demo_claims=args.claims,
                      say=lambda *_: None)
        engine.dispose()
        print(f"scratch database {url}: {args.claims:,} demo claims set up in {time.perf_counter() - t:.0f} s",
              flush=True)
    try:
        _run(url, args.repeat)
    finally:
        _cleanup(url)
        if scratch:
            dbutil.drop_database(*scratch)


def _run(url: str, repeat: int):
    from app import create_app
    from auth.current import SessionUser
    from config import Settings
    from db.flask_db import read_session, unit_of_work
    from db.models import OPEN_STATUSES, User
    from jobs.bootstrap import DEMO_LOGINS
    from services import api_tokens
    from services import claim_documents as docs
    from tests.conftest import login
    from tests.webutil import call_callback, render_page

    app = create_app(Settings(database_url=url, secret_key=SECRET))
    server = app.server
    clock = ServerClock(server)
    client = server.test_client()
    client.get("/healthz")
    creds = next(d for d in DEMO_LOGINS if d.email == "adjuster@scope.example")
    assert login(client, creds.email, creds.password).status_code == 302, "sign-in failed"
    with server.app_context():
        s = read_session()
        adjuster = s.scalar(select(User).where(User.email == creds.email))
        adjuster_id = adjuster.id
        # Open claims the adjuster can work, with no documents yet: one per upload, so no claim
        # reaches its 100-document limit and every page below starts from what the bench put there.
        numbers = list(s.scalars(text("""
            SELECT c.claim_number FROM claims c JOIN departments d ON d.id = c.department_id
            WHERE d.code = ANY(:codes) AND c.status = ANY(:open)
              AND NOT EXISTS (SELECT 1 FROM claim_documents x WHERE x.claim_id = c.id)
            ORDER BY c.id"""), {"codes": list(creds.departments), "open": list(OPEN_STATUSES)}))
        s.close()
    print(f"{len(numbers):,} open claims in the adjuster's departments without documents; "
          f"{repeat} timed calls per line, after one untimed", flush=True)
    pool = iter(numbers)

    def as_adjuster(session):
        return SessionUser.from_model(session.get(User, adjuster_id))

    def attach_via_callback(files: list[bytes]) -> tuple[float, float]:
        number = next(pool)
        t = time.perf_counter()
        response = call_callback(
            app, client, "doc-upload.contents", ATTACH_OUT, [("doc-attach", "n_clicks", 1)],
            [("doc-upload", "contents", [data_url(f) for f in files]),
             ("doc-upload", "filename", [f"estimate-{i}.pdf" for i in range(len(files))]),
             ("doc-kind", "value", "estimate"), ("doc-note", "value", NOTE), ("claim-key", "data", number)])
        elapsed = (time.perf_counter() - t) * 1000
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and f"Attached {len(files)} document" in body, body[:400]
        return elapsed, clock.last

    def attach_via_api(files: list[bytes]) -> tuple[float, float]:
        number = next(pool)
        data = {"kind": "estimate", "note": NOTE, "file": [(io.BytesIO(f), f"estimate-{i}.pdf")
                                                           for i, f in enumerate(files)]}
        t = time.perf_counter()
        response = api.post(f"/api/v1/claims/{number}/documents", data=data, headers=writer,
                            content_type="multipart/form-data")
        elapsed = (time.perf_counter() - t) * 1000
        assert response.status_code == 201, response.get_data(as_text=True)[:400]
        return elapsed, clock.last

    def attach_via_service(files: list[bytes]) -> tuple[float, float]:
        number = next(pool)
        with server.app_context():
            t = time.perf_counter()
            with unit_of_work() as session:
                user = as_adjuster(session)
                docs.attach(session, user, number, [(f"estimate-{i}.pdf", f) for i, f in enumerate(files)],
                            "estimate", NOTE)
            elapsed = (time.perf_counter() - t) * 1000
            return elapsed, elapsed

    with server.app_context():
        with unit_of_work() as session:
            _, token = api_tokens.create_token(session, session.get(User, adjuster_id), name="bench documents",
                                               scopes=["claims:read", "claims:write"])
    api = server.test_client()
    reader = writer = {"Authorization": f"Bearer {token}"}

    # Warm-up: the first callback of a process loads what every later one shares.
    attach_via_callback([pdf_of(100 * KB)])

    print("\nmemory, one upload of 5 x 4 MB through the callback (the first large upload of this process):",
          flush=True)
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ms, _ = attach_via_callback([pdf_of(4 * MB) for _ in range(5)])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"  peak RSS (getrusage ru_maxrss) {before / 1024:.0f} MB -> {after / 1024:.0f} MB: "
          f"+{(after - before) / 1024:.0f} MB for 20 MB of files ({ms:.0f} ms)", flush=True)
    files = [pdf_of(4 * MB) for _ in range(5)]
    gc.collect()
    tracemalloc.start()
    attach_via_callback(files)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  tracemalloc peak during the request (untimed; Python allocations only): {peak / MB:.0f} MB",
          flush=True)

    sizes = [("1 x 100 KB", [100 * KB]), ("1 x 2 MB", [2 * MB]), ("1 x 10 MB", [10 * MB]),
             ("5 x 4 MB (20 MB)", [4 * MB] * 5)]
    for title, via in (("the claim page's Attach callback (JSON, base64, service, commit, the card again)",
                        attach_via_callback),
                       ("REST API POST /api/v1/claims/<n>/documents (multipart/form-data)", attach_via_api),
                       ("services.claim_documents.attach + commit alone (no HTTP)", attach_via_service)):
        print(f"\nattach through {title}; server time (client's beside it):", flush=True)
        for label, parts in sizes:
            via([pdf_of(n) for n in parts])
            pairs = []
            for _ in range(repeat):
                files = [pdf_of(n) for n in parts]  # made before the clock starts
                pairs.append(via(files))
            if via is attach_via_service:
                _line(label, [sv for _, sv in pairs])
            else:
                _both(label, pairs)

    print("\ndownload, GET /claim-documents/<id> of a 10 MB document:", flush=True)
    number = next(pool)
    with server.app_context():
        with unit_of_work() as session:
            doc_id = docs.attach(session, as_adjuster(session), number, [("big.pdf", pdf_of(10 * MB))],
                                 "estimate", NOTE)[0].id
    pairs = []
    for i in range(min(repeat, 50) + 1):   # the limit: 60 a minute per person
        t = time.perf_counter()
        response = client.get(f"/claim-documents/{doc_id}")
        data = response.get_data()
        elapsed = (time.perf_counter() - t) * 1000
        assert response.status_code == 200 and len(data) == 10 * MB, response.status_code
        if i:
            pairs.append((elapsed, clock.last))
    _both("10 MB", pairs)

    print("\nclaim page (render_page: the layout with the Documents card), by the claim's documents:",
          flush=True)
    pages = {}
    for n in (0, 10, 100):
        number = next(pool)
        with server.app_context():
            for start in range(0, n, 5):   # as people attach them: up to five at a time
                with unit_of_work() as session:
                    docs.attach(session, as_adjuster(session), number,
                                [(f"scan-{start + i:03d}.pdf", pdf_of(200 * KB)) for i in range(min(5, n - start))],
                                "estimate", NOTE)
        pages[n] = number
        status, body = render_page(client, f"/claims/{number}")
        assert status == 200 and "Documents" in body, (status, body[:300])
        pairs = []
        for _ in range(repeat):
            t = time.perf_counter()
            status, body = render_page(client, f"/claims/{number}")
            pairs.append(((time.perf_counter() - t) * 1000, clock.last))
        _both(f"{n} documents", pairs, f"({len(body) / 1024:.0f} KB of JSON)")

    print("\nREST API, GET /api/v1/claims/<n>/documents (a token of the adjuster):", flush=True)
    for n in (10, 100):
        api.get(f"/api/v1/claims/{pages[n]}/documents", headers=reader)
        pairs = []
        for _ in range(repeat):
            t = time.perf_counter()
            response = api.get(f"/api/v1/claims/{pages[n]}/documents", headers=reader)
            pairs.append(((time.perf_counter() - t) * 1000, clock.last))
            assert response.status_code == 200 and len(response.get_json()["documents"]) == n
        _both(f"{n} documents", pairs)


def _cleanup(url: str) -> None:
    """The bench's documents and their history entries (audit entries stay: append-only)."""
    from db.session import make_engine, make_session_factory, normalise_url

    engine = make_engine(normalise_url(url))
    with make_session_factory(engine).begin() as session:
        ids = list(session.scalars(text("SELECT id FROM claim_documents WHERE note = :n"), {"n": NOTE}))
        session.execute(text("DELETE FROM claim_events WHERE kind = 'document' AND note = :n"), {"n": NOTE})
        session.execute(text("DELETE FROM claim_documents WHERE note = :n"), {"n": NOTE})
        session.execute(text("DELETE FROM api_tokens WHERE name = 'bench documents'"))
    engine.dispose()
    print(f"\ncleaned up: {len(ids):,} bench documents deleted", flush=True)


if __name__ == "__main__":
    main()
