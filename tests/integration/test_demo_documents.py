"""A first start's demo documents (jobs.bootstrap → services.demo_documents), on the shared web
database: on about a quarter of the open claims and every claim of a demo SIU case, files that
pass the upload checks and name their claim, each in the claim's history, dated after the
report and never in the future; the same files again for the same seed."""
import datetime as dt
import hashlib

from sqlalchemy import delete, func, select

from db.models import OPEN_STATUSES, AuditLog, Claim, ClaimDocument, ClaimEvent, SiuCase, SiuCaseClaim
from services import demo_documents
from services.claim_documents import check_file
from services.demo_data import END_DATE

# The web database's demo ends on END_DATE: what the seed wrote is dated within days of it,
# what tests attach or open later is dated now.
SEEDED_BEFORE = dt.datetime.combine(END_DATE + dt.timedelta(days=8), dt.time(0), dt.timezone.utc)
LINE_KINDS = {"auto": {"estimate", "police_report", "correspondence"},
              "property": {"estimate", "invoice", "correspondence"},
              "workers_comp": {"medical", "correspondence"},
              "general_liability": {"medical", "correspondence", "invoice"}}


def seeded(s):
    return s.execute(select(ClaimDocument, Claim).join(Claim, Claim.id == ClaimDocument.claim_id)
                     .where(ClaimDocument.uploaded_at < SEEDED_BEFORE).order_by(ClaimDocument.id)).all()


def test_a_first_start_gives_claims_a_file_of_real_documents(web_app, app_session):
    def check(s):
        rows = seeded(s)
        assert len(rows) > 40  # 1,500 demo claims in the web database: ~140 open
        now = dt.datetime.now(dt.timezone.utc)
        events = {e.data["document_id"]: e for e in s.scalars(select(ClaimEvent).where(ClaimEvent.kind == "document"))}
        for doc, claim in rows:
            up = check_file(doc.filename, doc.content)  # what the upload would accept, as what its name says
            assert up.type.content_type == doc.content_type and up.sha256 == doc.sha256
            assert doc.size_bytes == len(doc.content) and doc.removed_at is None
            assert claim.claim_number.encode() in doc.content
            assert doc.kind in LINE_KINDS[claim.line_of_business], (claim.line_of_business, doc.kind)
            if doc.kind == "police_report":
                assert claim.extra.get("police_report") is True
            reported = claim.report_date or claim.loss_date
            assert reported < doc.uploaded_at.date() <= reported + dt.timedelta(days=2) and doc.uploaded_at < now
            event = events[doc.id]   # in the claim's history, as the upload writes it
            assert (event.claim_id, event.actor_id, event.at, event.data["filename"], event.data["kind"]) == \
                (doc.claim_id, doc.uploaded_by, doc.uploaded_at, doc.filename, doc.kind)
            assert doc.uploaded_by is not None
        by_claim = {}
        for doc, claim in rows:
            by_claim.setdefault(claim.id, []).append(doc)
        assert {len(docs) for docs in by_claim.values()} <= {1, 2, 3}
        # Every claim of the demo's SIU cases (the ones tests open are dated now).
        case_claims = set(s.scalars(select(SiuCaseClaim.claim_id).join(SiuCase, SiuCase.id == SiuCaseClaim.case_id)
                                    .where(SiuCase.opened_at < SEEDED_BEFORE)))
        assert case_claims and case_claims <= set(by_claim)
        # About a quarter of the other open claims.
        open_ids = set(s.scalars(select(Claim.id).where(Claim.status.in_(OPEN_STATUSES),
                                                        Claim.claim_number.like("SYN-%"))))  # not tests' claims
        share = len((open_ids - case_claims) & set(by_claim)) / len(open_ids - case_claims)
        assert 0.15 < share < 0.35, share
        # Seed data, not people's uploads: no audit entries claim anyone attached them.
        assert not s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "claim.document_attached",
            AuditLog.target_id.in_([str(c) for c in by_claim]), AuditLog.at < SEEDED_BEFORE))
    app_session(check)


def test_the_claim_page_lists_seeded_documents(web_app, client_for, app_session):
    from tests.webutil import render_page

    number, filename = app_session(lambda s: next(
        (c.claim_number, d.filename) for d, c in seeded(s) if c.department.code in ("AUTO_PD", "AUTO_GLASS")))
    _, page = render_page(client_for("adjuster"), f"/claims/{number}")
    assert filename in page and "No documents yet." not in page and "Document attached" in page


def test_the_same_seed_writes_the_same_files(web_database_url):
    from db.session import make_engine, make_session_factory, normalise_url

    engine = make_engine(normalise_url(web_database_url))
    try:
        with make_session_factory(engine)() as s:
            before = {(d.claim_id, d.filename, d.kind, d.uploaded_at) for d, _ in seeded(s)}
            assert demo_documents.seed(s) == {}  # never twice
            runs = []
            for seed in (42, 42, 43):  # each written and rolled back at the end
                s.execute(delete(ClaimEvent).where(ClaimEvent.kind.in_(("document", "document_removed"))))
                s.execute(delete(ClaimDocument))
                assert demo_documents.seed(s, seed=seed)["documents"] > len(before) * 0.8
                runs.append({(d.claim_id, d.filename, d.kind, d.uploaded_at, d.sha256) for d, _ in seeded(s)})
                assert all(hashlib.sha256(d.content).hexdigest() == d.sha256 for d, _ in seeded(s))
            s.rollback()
        assert runs[0] == runs[1]                      # byte for byte
        assert len(runs[0] & runs[2]) < len(runs[0]) / 2
        # As the first start wrote them. Tests have closed claims, opened cases and changed
        # parties and adjusters since (in the files' text): the claims both have, by name and date.
        again = {x[:4] for x in runs[0]}
        both = {x[0] for x in before} & {x[0] for x in again}
        assert len(both) > 0.9 * len({x[0] for x in before})
        assert {x for x in before if x[0] in both} == {x for x in again if x[0] in both}
    finally:
        engine.dispose()
