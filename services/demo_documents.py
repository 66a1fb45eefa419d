"""Demo claim documents, so a claim page on a first start shows a claim file rather than
"No documents yet.": on about a quarter of the open claims, and on every claim of a demo SIU
case, one to three documents of the kinds its line of business gathers (auto: repair
estimate, police report when the claim says one was filed, the claimant's email; property:
contractor estimate, invoice; injury lines: medical report summary, the claimant's email and,
for general liability, the clinic's bill).

The files are small but real: one-page PDFs built here (no PDF library; a viewer opens them)
and plain-text emails, with the claim's own number, policy, dates, amounts and parties, so an
estimate's total is near the amount claimed and a police report names the loss date. They
pass ``claim_documents.detect`` as what their names say. Written in bulk, with each one's
'document' history entry (uploaded by the claim's adjuster a day or two after the report);
like the other demo seeds, no audit entries: nobody uploaded them. Deterministic by the seed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import textwrap
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from db.models import OPEN_STATUSES, Claim, ClaimDocument, ClaimEvent, Party, SiuCase, SiuCaseClaim, User, \
    user_departments
from services.claim_documents import detect

SHARE = 4           # one open claim in SHARE gets documents
MANAGER = "manager@scope.example"
CENT = Decimal("0.01")

# -- a one-page PDF -----------------------------------------------------------------------------
PAGE_W, PAGE_H, MARGIN = 612, 792, 64   # US Letter, in points
# Helvetica's and Helvetica-Bold's advance widths (per 1000 of the size) for ASCII 32-126, from
# the fonts' metrics: to right-align amounts; other characters count as an average letter.
_HELVETICA = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667,
    556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556,
    556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722,
    500, 500, 500, 334, 260, 334, 584)
_HELVETICA_BOLD = (
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722,
    611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556,
    611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778,
    556, 556, 500, 389, 280, 389, 584)


def _width(text: str, size: float, bold: bool = False) -> float:
    table = _HELVETICA_BOLD if bold else _HELVETICA
    return sum(table[ord(ch) - 32] if 32 <= ord(ch) <= 126 else 556 for ch in text) * size / 1000


def _pdf_text(text: str) -> str:
    text = text.replace("\u2014", "-").replace("\u2013", "-").replace("\u2019", "'")
    text = text.encode("latin-1", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


class _Page:
    """Lines top to bottom: each call writes at the cursor and moves it down."""

    def __init__(self):
        self.ops: list[str] = []
        self.y = PAGE_H - MARGIN

    def text(self, x: float, y: float, text: str, size: float = 10, bold: bool = False) -> None:
        self.ops.append(f"BT /{'F2' if bold else 'F1'} {size:g} Tf 1 0 0 1 {x:.1f} {y:.1f} Tm "
                        f"({_pdf_text(text)}) Tj ET")

    def line(self, text: str = "", size: float = 10, bold: bool = False, gap: float = 4) -> None:
        if text:
            self.text(MARGIN, self.y - size, text, size, bold)
        self.y -= size + gap

    def para(self, text: str, size: float = 10, width: int = 95) -> None:
        for part in textwrap.wrap(text, width) or [""]:
            self.line(part, size)

    def pair(self, label: str, value: str) -> None:
        self.text(MARGIN, self.y - 10, label, 10, bold=True)
        self.text(MARGIN + 130, self.y - 10, value, 10)
        self.y -= 14

    def row(self, left: str, right: str, bold: bool = False) -> None:
        self.text(MARGIN, self.y - 10, left, 10, bold)
        self.text(PAGE_W - MARGIN - _width(right, 10, bold), self.y - 10, right, 10, bold)
        self.y -= 15

    def rule(self) -> None:
        self.ops.append(f"0.6 w {MARGIN} {self.y - 3:.1f} m {PAGE_W - MARGIN} {self.y - 3:.1f} l S")
        self.y -= 10


def build_pdf(page: _Page, title: str, when: dt.datetime) -> bytes:
    """A valid PDF 1.4 of one page: catalog, pages, page, two standard fonts, the content
    stream and an info dictionary, with the cross-reference table's true byte offsets."""
    stream = "\n".join(page.ops).encode("latin-1")
    stamp = when.strftime("D:%Y%m%d%H%M%SZ")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
         "/Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>").encode(),
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        (f"<< /Title ({_pdf_text(title)}) /Producer (SCOPE demo data) /CreationDate ({stamp}) >>").encode("latin-1"),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, len(objects), xref))
    return bytes(out)


# -- what goes in them ---------------------------------------------------------------------------
def _money(value: Decimal) -> str:
    return f"${value:,.2f}"


def _split(total: Decimal, shares: list[float]) -> list[Decimal]:
    """``total`` in parts of about these shares, in cents, adding up to it exactly."""
    parts = [(total * Decimal(str(s)) / Decimal(str(sum(shares)))).quantize(CENT, ROUND_HALF_UP)
             for s in shares[:-1]]
    return parts + [total - sum(parts, Decimal(0))]


def _day(d: dt.date) -> str:
    return f"{d:%B} {d.day}, {d.year}"


SHOPS = ("Hartley Auto Body & Collision", "Precision Collision Center", "Main Street Auto Repair",
         "Lakeside Body Works", "Summit Paint & Body")
CONTRACTORS = ("Ridgeline Restoration LLC", "Cornerstone Home Repair", "BlueRiver Construction",
               "ServiceFirst Restoration", "Oakwood Builders")
CLINICS = ("Riverside Medical Group", "Northgate Occupational Health", "Valley Orthopedics & Sports Medicine",
           "Lakeview Urgent Care")


class Facts:
    """What one claim's documents say (from the claim and its parties)."""

    def __init__(self, row, parties: dict[str, Party], adjuster: str):
        self.number, self.policy, self.lob = row.claim_number, row.policy_number or "-", row.line_of_business
        self.loss = row.loss_date or row.report_date
        self.reported = row.report_date or row.loss_date
        self.amount = row.claimed_amount
        self.description = _said(row.description)
        self.state, self.region, self.postcode = row.state or "", row.region or "", row.postcode or ""
        self.extra = row.extra or {}
        claimant = parties.get("claimant") or parties.get("insured")
        self.claimant = (claimant.name if claimant and claimant.name else "The claimant").title()
        self.email = claimant.email if claimant and claimant.email else \
            self.claimant.lower().replace(" ", ".") + "@example.com"
        self.phone = _phone(claimant.phone if claimant else None)
        self.address = _address(claimant.address) if claimant else ""
        self.insured = (parties["insured"].name or "").title() if parties.get("insured") else self.claimant
        # The claim's own repair shop and clinic, when its parties name them.
        self.shop = _named(parties.get("repair_shop"))
        self.provider = _named(parties.get("provider"))
        if self.provider is None:  # one clinic for the summary and the bill alike
            pick = random.Random(f"clinic:{self.number}")
            self.provider = (pick.choice(CLINICS), _town(self, pick))
        self.plate = next((p.plate for p in parties.values() if p.plate), None)
        self.adjuster = adjuster
        # What the clinic billed so far: the same on its summary and on its bill.
        self.billed = (self.amount * Decimal(str(random.Random(f"billed:{self.number}").uniform(0.15, 0.35)))
                       ).quantize(CENT, ROUND_HALF_UP) if self.amount else None


def _named(party) -> tuple[str, str] | None:
    """(name, address) of a business among the parties."""
    if party is None or not party.name:
        return None
    return party.name.title(), _address(party.address)


def _said(description: str | None) -> str:
    """The claim's description as a sentence's body: no intake jargon in front, capitalised, no final stop."""
    text = re.sub(r"^fnol(\s+via\s+\w+)?\s*[,:/-]?\s*", "", (description or "").strip(), flags=re.I)
    text = text.rstrip(" .") or "Loss as reported at first notice"
    return text[0].upper() + text[1:]


def _address(address: str | None) -> str:
    """"8614 CEDAR BLVD BRISTOL OK 73404" as "8614 Cedar Blvd Bristol OK 73404"."""
    words = (address or "").split()
    state = len(words) - 2 if len(words) >= 3 and words[-1].isdigit() else -1
    return " ".join(w if i == state else w.title() for i, w in enumerate(words))


def _phone(digits: str | None) -> str:
    if digits and len(digits) == 10 and digits.isdigit():
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return digits or ""


def _head(page: _Page, issuer: str, address: str, title: str, facts: Facts) -> None:
    page.line(issuer, 13, bold=True, gap=3)
    page.line(address, 9, gap=14)
    page.line(title, 16, bold=True, gap=8)
    page.rule()
    page.pair("Claim number", facts.number)
    page.pair("Policy number", facts.policy)


def _town(facts: Facts, rng: random.Random) -> str:
    street = rng.choice(("Commerce Dr", "Industrial Pkwy", "Main St", "Route 9", "Harbor Rd"))
    return f"{rng.randint(100, 9899)} {street}, {facts.state} {facts.postcode}".strip()


def repair_estimate(facts: Facts, rng: random.Random, at: dt.datetime):
    total = (facts.amount * Decimal(str(rng.uniform(0.93, 1.02)))).quantize(CENT, ROUND_HALF_UP)
    before_tax = (total / Decimal("1.06")).quantize(CENT, ROUND_HALF_UP)
    auto = facts.lob == "auto"
    names = (("Parts (OEM and aftermarket)", "Body labor", "Paint labor", "Paint and materials", "Sublet: alignment")
             if auto else ("Demolition and removal", "Framing and drywall", "Flooring", "Painting and finish",
                           "Debris disposal"))
    shares = [0.42, 0.24, 0.12, 0.16, 0.06] if auto else [0.12, 0.34, 0.28, 0.18, 0.08]
    issuer, where = (facts.shop if auto and facts.shop else
                     (rng.choice(SHOPS if auto else CONTRACTORS), ""))
    page = _Page()
    _head(page, issuer, where or _town(facts, rng), "Repair estimate" if auto else "Contractor estimate", facts)
    page.pair("Estimate number", f"E-{at:%y%m}-{rng.randint(1000, 9999)}")
    page.pair("Date written", _day(at.date()))
    page.pair("Owner", facts.insured if auto else facts.claimant)
    page.pair("Date of loss", _day(facts.loss))
    if auto and facts.plate:
        page.pair("Vehicle plate", facts.plate)
    page.line(gap=6)
    page.para(f"Loss as reported: {facts.description}.")
    page.line(gap=6)
    page.row("Item", "Amount", bold=True)
    page.rule()
    for name, part in zip(names, _split(before_tax, shares)):
        page.row(name, _money(part))
    page.rule()
    page.row("Subtotal", _money(before_tax))
    page.row("Sales tax (6%)", _money(total - before_tax))
    page.row("Estimate total", _money(total), bold=True)
    page.line(gap=10)
    page.para("This estimate is based on a visual inspection; hidden damage found during repairs will be "
              "submitted as a supplement. Valid for 30 days.", 9)
    kind, name = ("estimate", f"repair-estimate-{facts.number}.pdf") if auto else \
        ("estimate", f"contractor-estimate-{facts.number}.pdf")
    note = f"{issuer}: {_money(total)}"
    return name, kind, note, build_pdf(page, f"Estimate for claim {facts.number}", at)


def invoice(facts: Facts, rng: random.Random, at: dt.datetime):
    total = (facts.amount * Decimal(str(rng.uniform(0.12, 0.3)))).quantize(CENT, ROUND_HALF_UP)
    issuer = rng.choice(CONTRACTORS)
    page = _Page()
    _head(page, issuer, _town(facts, rng), "Invoice", facts)
    page.pair("Invoice number", f"INV-{rng.randint(20000, 89999)}")
    page.pair("Invoice date", _day(at.date()))
    page.pair("Bill to", facts.claimant)
    page.pair("Service address", facts.address or "-")
    page.pair("Date of loss", _day(facts.loss))
    page.line(gap=6)
    page.row("Emergency services", "Amount", bold=True)
    page.rule()
    items = ("Emergency response and inspection", "Temporary protection (tarp, board-up)", "Water extraction "
             "and drying equipment, 3 days", "Labor")
    for name, part in zip(items, _split(total, [0.1, 0.25, 0.4, 0.25])):
        page.row(name, _money(part))
    page.rule()
    page.row("Amount due", _money(total), bold=True)
    page.line(gap=10)
    page.para("Payment due within 30 days. Work performed to prevent further damage to the property; "
              "permanent repairs are estimated separately.", 9)
    return (f"invoice-{facts.number}.pdf", "invoice", f"Emergency services, {_money(total)}",
            build_pdf(page, f"Invoice for claim {facts.number}", at))


def medical_bill(facts: Facts, rng: random.Random, at: dt.datetime):
    """The treating clinic's itemised bill (an injury claim's invoice)."""
    total = facts.billed
    clinic, where = facts.provider
    page = _Page()
    _head(page, clinic, where or _town(facts, rng), "Itemised bill", facts)
    page.pair("Account number", f"A-{rng.randint(100000, 999999)}")
    page.pair("Statement date", _day(at.date()))
    page.pair("Patient", facts.claimant)
    page.pair("Date of injury", _day(facts.loss))
    page.line(gap=6)
    page.row("Service", "Charge", bold=True)
    page.rule()
    items = ("Office visit, new patient", "X-ray, two views", "Physical therapy, 4 sessions", "Medication and supplies")
    for name, part in zip(items, _split(total, [0.25, 0.2, 0.45, 0.1])):
        page.row(name, _money(part))
    page.rule()
    page.row("Balance due", _money(total), bold=True)
    page.line(gap=10)
    page.para("Billed to the insurer named by the patient; the patient is not billed while the claim is open.", 9)
    return (f"medical-bill-{facts.number}.pdf", "invoice", f"{clinic}, {_money(total)}",
            build_pdf(page, f"Itemised bill, claim {facts.number}", at))


def police_report(facts: Facts, rng: random.Random, at: dt.datetime):
    number = f"{facts.state or 'PD'}-{facts.loss:%Y}-{rng.randint(100000, 999999)}"
    agency = f"{facts.region + ' ' if facts.region else ''}District Police Department"
    hour = rng.randint(7, 21)
    page = _Page()
    page.line(agency, 13, bold=True, gap=3)
    page.line(f"Records Division, {facts.state} {facts.postcode}".strip(), 9, gap=14)
    page.line("Traffic collision report (copy)", 16, bold=True, gap=8)
    page.rule()
    page.pair("Report number", number)
    page.pair("Date of incident", f"{_day(facts.loss)}, about {hour:02d}:{rng.choice((0, 15, 30, 45)):02d}")
    page.pair("Location", f"{facts.region or facts.state} area, ZIP {facts.postcode}".strip())
    page.pair("Vehicles involved", str(facts.extra.get("vehicle_count") or 2))
    page.pair("Injuries reported", "Yes" if facts.extra.get("injury_reported") else "None")
    page.pair("Reporting party", facts.insured)
    if facts.plate:
        page.pair("Vehicle 1 plate", facts.plate)
    page.pair("Insurance", f"Policy {facts.policy} (claim {facts.number})")
    page.line(gap=6)
    page.line("Narrative", 11, bold=True)
    page.para(f"Officer responded to a report of a collision. Parties stated: {facts.description}. "
              f"Weather: {facts.extra.get('weather') or 'clear'}. Witnesses: "
              f"{facts.extra.get('witness_count') or 'none'}. Vehicles were photographed and information "
              "exchanged between drivers.")
    page.line(gap=8)
    page.pair("Reporting officer", f"Ofc. {rng.choice(('J. Alvarez', 'M. Chen', 'R. Okafor', 'L. Brennan'))}, "
                                   f"badge {rng.randint(1000, 9999)}")
    page.pair("Copy issued", _day(at.date()))
    return (f"police-report-{number}.pdf", "police_report", f"Report {number}",
            build_pdf(page, f"Police report {number}", at))


def medical_summary(facts: Facts, rng: random.Random, at: dt.datetime):
    visit = min(facts.loss + dt.timedelta(days=rng.randint(0, 3)), at.date())
    clinic, where = facts.provider
    billed = facts.billed
    workers = facts.lob == "workers_comp"
    page = _Page()
    _head(page, clinic, where or _town(facts, rng), "Medical report summary", facts)
    page.pair("Patient", facts.claimant)
    page.pair("Date of injury", _day(facts.loss))
    page.pair("Date of visit", _day(visit))
    if workers:
        page.pair("Employer", facts.insured)
    page.line(gap=6)
    page.line("History", 11, bold=True)
    page.para(f"Patient reports: {facts.description}.")
    page.line(gap=4)
    page.line("Assessment and plan", 11, bold=True)
    page.para("Examination consistent with the reported mechanism of injury. No fracture seen on imaging. "
              "Anti-inflammatory medication and physical therapy twice a week for four weeks; follow-up visit "
              "in two weeks.")
    if workers:
        page.pair("Work status", rng.choice(("Modified duty, no lifting over 10 lb, 2 weeks",
                                             "Off work 5 days, then modified duty", "Full duty")))
    if billed is not None:
        page.pair("Billed to date", _money(billed))
    page.line(gap=8)
    page.para("Summary prepared for the insurer at the patient's authorisation. The full records are "
              "available on request.", 9)
    return (f"medical-summary-{facts.number}.pdf", "medical", f"{clinic}, visit {visit:%d %b %Y}",
            build_pdf(page, f"Medical report summary, claim {facts.number}", at))


def claimant_email(facts: Facts, rng: random.Random, at: dt.datetime):
    sent = at - dt.timedelta(hours=rng.randint(2, 20))
    first = facts.claimant.split(" ")[0]
    ask = {
        "auto": "The body shop has my car and is waiting for your approval before they start. Could you let me "
                "know if you need anything else from me, and whether a rental is covered meanwhile?",
        "property": "The contractor came out and put a tarp on; I have their invoice. When can someone come "
                    "to inspect the damage so the repairs can start?",
        "workers_comp": "I saw the doctor and have a copy of the work note. My supervisor asked me to send you "
                        "the paperwork: what else do you need, and when will the first payment be made?",
        "general_liability": "I am still getting treatment and the bills are adding up. Please tell me what "
                             "information you need from me and who I should send the medical bills to.",
    }.get(facts.lob, "Please let me know what else you need from me.")
    lines = [
        f"From: {facts.claimant} <{facts.email}>",
        f"To: {facts.adjuster}",
        f"Date: {sent:%a, %d %b %Y %H:%M} +0000",
        f"Subject: Claim {facts.number} - loss of {facts.loss:%m/%d/%Y}",
        "",
        "Hello,",
        "",
        *textwrap.wrap(f"I am writing about my claim {facts.number} (policy {facts.policy}) for what happened "
                       f"on {_day(facts.loss)}: {facts.description}.", 76),
        "",
        *textwrap.wrap(ask, 76),
        "",
        "Thank you,",
        first if rng.random() < 0.5 else facts.claimant,
        facts.phone,
        "",
    ]
    name = f"email-from-claimant-{sent:%Y-%m-%d}.txt"
    return name, "correspondence", f"Email from {facts.claimant}", "\n".join(lines).encode("utf-8")


# Which documents a line of business gathers, commonest first.
KINDS_BY_LINE = {
    "auto": (repair_estimate, police_report, claimant_email),
    "property": (repair_estimate, invoice, claimant_email),
    "workers_comp": (medical_summary, claimant_email),
    "general_liability": (medical_summary, claimant_email, medical_bill),
}


def documents_for(facts: Facts, rng: random.Random, first_at: dt.datetime,
                  latest: dt.datetime | None = None) -> list[tuple]:
    """One to three (filename, kind, note, bytes, uploaded_at) for a claim, none uploaded (nor
    dated inside: an estimate's "Date written") after ``latest``."""
    makers = list(KINDS_BY_LINE.get(facts.lob, (claimant_email,)))
    if police_report in makers and facts.extra.get("police_report") is not True:
        makers.remove(police_report)   # the claim says no report was filed
    if facts.amount is None or facts.amount <= 0:
        makers = [m for m in makers if m in (police_report, claimant_email)] or [claimant_email]
    n = min(len(makers), rng.choice((1, 1, 2, 2, 3)))
    out = []
    for i, make in enumerate(makers[:n]):
        at = first_at + dt.timedelta(hours=3 * i, minutes=rng.randint(0, 40))
        if latest is not None:
            at = min(at, latest)
        out.append((*make(facts, rng, at), at))
    return out


def _picked(seed: int, claim_number: str) -> bool:
    return hashlib.sha256(f"{seed}:{claim_number}:documents".encode()).digest()[0] % SHARE == 0


def seed(session: Session, *, seed: int = 42, now: dt.datetime | None = None) -> dict:
    """Documents on the demo's claims when there are none; returns what was made."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if session.scalar(select(func.count()).select_from(select(ClaimDocument.id).limit(1).subquery())):
        return {}
    leads = dict(session.execute(select(SiuCaseClaim.claim_id, SiuCase.lead_id)
                                 .join(SiuCase, SiuCase.id == SiuCaseClaim.case_id)).all())
    rows = [r for r in session.execute(
        select(Claim.id, Claim.claim_number, Claim.policy_number, Claim.line_of_business, Claim.loss_date,
               Claim.report_date, Claim.claimed_amount, Claim.description, Claim.state, Claim.region, Claim.postcode,
               Claim.extra, Claim.adjuster_id, Claim.department_id)
        .where(Claim.status.in_(OPEN_STATUSES) | Claim.id.in_(list(leads)))
        .order_by(Claim.id))
        if (r.id in leads or _picked(seed, r.claim_number)) and (r.report_date or r.loss_date)]
    if not rows:
        return {}
    users = {u.id: u for u in session.scalars(select(User))}
    manager = next((u.id for u in users.values() if u.email == MANAGER), None)
    team: dict[int, list[int]] = {}
    for dept, user_id in session.execute(
            select(user_departments.c.department_id, User.id).join(User, User.id == user_departments.c.user_id)
            .where(User.role == "adjuster", User.is_active).order_by(User.id)):
        team.setdefault(dept, []).append(user_id)
    parties: dict[int, dict[str, Party]] = {}
    for p in session.scalars(select(Party).where(Party.claim_id.in_([r.id for r in rows])).order_by(Party.id)):
        parties.setdefault(p.claim_id, {}).setdefault(p.role, p)

    documents, uploads = [], []
    for r in rows:
        rng = random.Random(f"{seed}:{r.claim_number}")
        crew = team.get(r.department_id) or []
        # Who uploaded them draws from its own sequence: the files do not change with who works the claim.
        pick = random.Random(f"{seed}:{r.claim_number}:uploader")
        uploader = r.adjuster_id or leads.get(r.id) or (crew[pick.randrange(len(crew))] if crew else manager)
        if uploader is None:
            continue
        who = users[uploader]
        facts = Facts(r, parties.get(r.id, {}), f"{who.name or who.email} <{who.email}>")
        reported = r.report_date or r.loss_date
        first_at = dt.datetime.combine(reported + dt.timedelta(days=rng.choice((1, 2))),
                                       dt.time(rng.randint(8, 15), rng.randint(0, 59)), dt.timezone.utc)
        for name, kind, note, data, at in documents_for(facts, rng, first_at, now - dt.timedelta(minutes=30)):
            documents.append(dict(claim_id=r.id, filename=name, content_type=detect(data).content_type,
                                  size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), kind=kind,
                                  note=note, content=data, uploaded_by=uploader, uploaded_at=at))
            uploads.append((r.id, uploader, at, note, name, kind))
    if not documents:
        return {}
    ids = session.scalars(insert(ClaimDocument).returning(ClaimDocument.id, sort_by_parameter_order=True),
                          documents).all()
    session.execute(insert(ClaimEvent), [
        dict(claim_id=claim_id, kind="document", actor_id=uploader, at=at, note=note,
             data={"document_id": doc_id, "filename": name, "kind": kind})
        for doc_id, (claim_id, uploader, at, note, name, kind) in zip(ids, uploads)])
    return {"documents": len(documents), "claims": len({d["claim_id"] for d in documents})}
