"""The demo's claim documents, built without a database: real one-page PDFs (a cross-reference
table a reader can follow), files that pass the upload checks as what their names say, saying
the claim's own number, policy, dates and amounts, the same for the same seed."""
import datetime as dt
import random
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest

from services import demo_documents as dd
from services.claim_documents import PDF, TEXT, check_file

AT = dt.datetime(2026, 10, 3, 10, 15, tzinfo=dt.timezone.utc)


def claim(lob: str, **kw):
    row = dict(claim_number=f"SYN-0042-{abs(hash(lob)) % 10**8:08d}", policy_number="PAU-8018281",
               line_of_business=lob, loss_date=dt.date(2026, 9, 28), report_date=dt.date(2026, 10, 1),
               claimed_amount=Decimal("8894.90"), description="fnol via web, fender bender at residential street.",
               state="OK", region="South", postcode="73404",
               extra={"police_report": True, "vehicle_count": 2, "weather": "rain", "injury_reported": True})
    row.update(kw)
    parties = {"claimant": SimpleNamespace(name="RYAN JOHNSON", email="ryan.johnson@aol.com", phone="6179139602",
                                           address="8614 CEDAR BLVD BRISTOL OK 73404", plate=None),
               "insured": SimpleNamespace(name="MICHAEL JONES", email=None, phone=None, address=None,
                                          plate="Y0TR6NS"),
               "provider": SimpleNamespace(name="ROBINSON HEALTH CENTER", email=None, phone=None, address=None,
                                           plate=None),
               "repair_shop": SimpleNamespace(name="KIM CAR CARE", email=None, phone=None, plate=None,
                                              address="5945 SPRING PL MANCHESTER NM 87092")}
    return dd.Facts(SimpleNamespace(**row), parties, "Chris Ng <adjuster@scope.example>")


def pdf_text(data: bytes) -> str:
    """The text the page shows: the strings of its content stream's Tj operators."""
    stream = re.search(rb"stream\n(.*?)\nendstream", data, re.S).group(1).decode("latin-1")
    return "\n".join(s.replace("\\(", "(").replace("\\)", ")").replace("\\\\", "\\")
                     for s in re.findall(r"\(((?:[^()\\]|\\.)*)\) Tj", stream))


def test_a_built_pdf_has_a_cross_reference_table_a_reader_can_follow():
    page = dd._Page()
    page.line("Repair estimate (copy) \\ back-slash", 16, bold=True)
    page.row("Estimate total", "$1,234.50", bold=True)
    data = dd.build_pdf(page, "Estimate (test)", AT)
    assert data.startswith(b"%PDF-1.4\n") and data.endswith(b"%%EOF\n")
    startxref = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data).group(1))
    assert data[startxref:].startswith(b"xref\n0 8\n")
    entries = re.findall(rb"(\d{10}) 00000 n \n", data[startxref:])
    assert len(entries) == 7
    for n, offset in enumerate(entries, start=1):  # each entry points at its own object
        assert data[int(offset):].startswith(b"%d 0 obj\n" % n), n
    length = int(re.search(rb"/Length (\d+)", data).group(1))
    assert re.search(rb"stream\n(.*?)\nendstream", data, re.S).group(1).__len__() == length
    assert "Repair estimate (copy) \\ back-slash" in pdf_text(data)
    assert b"/Title (Estimate \\(test\\))" in data and b"/CreationDate (D:20261003101500Z)" in data


@pytest.mark.parametrize("lob, kinds", [
    ("auto", {"estimate", "police_report", "correspondence"}),
    ("property", {"estimate", "invoice", "correspondence"}),
    ("workers_comp", {"medical", "correspondence"}),
    ("general_liability", {"medical", "correspondence", "invoice"}),
])
def test_every_file_passes_the_upload_checks_and_names_its_claim(lob, kinds):
    facts = claim(lob)
    made = {}
    for seed in range(40):  # enough seeds for every kind of the line
        for name, kind, note, data, at in dd.documents_for(facts, random.Random(seed), AT):
            up = check_file(name, data)  # raises on a type its name does not say, or one not kept
            assert up.filename == name and up.type is (TEXT if name.endswith(".txt") else PDF)
            text = data.decode("utf-8") if up.type is TEXT else pdf_text(data)
            assert facts.number in text and facts.policy in text, (name, text)
            assert note and len(note) <= 500 and at >= AT
            made.setdefault(kind, (name, text))
    assert set(made) == kinds
    if "estimate" in made:
        total = Decimal(re.search(r"Estimate total\n\$([\d,.]+)", made["estimate"][1]).group(1).replace(",", ""))
        assert Decimal("0.9") * facts.amount <= total <= Decimal("1.03") * facts.amount
    if lob == "auto":   # the claim's own repair shop wrote the estimate
        assert made["estimate"][1].startswith("Kim Car Care\n5945 Spring Pl Manchester NM 87092\n")
    if "medical" in made:
        assert made["medical"][1].startswith("Robinson Health Center\n")
    if lob == "general_liability":   # an injury's invoice is the clinic's bill
        assert made["invoice"][0].startswith("medical-bill-") and "Robinson Health Center" in made["invoice"][1]
        billed = re.search(r"Billed to date\n(\$[\d,.]+)", made["medical"][1]).group(1)
        assert f"Balance due\n{billed}" in made["invoice"][1]   # the summary and the bill agree
    if "police_report" in made:
        name, text = made["police_report"]
        number = re.search(r"Report number\n(\S+)", text).group(1)
        assert name == f"police-report-{number}.pdf" and "September 28, 2026" in text  # the loss date
    if "correspondence" in made:
        text = made["correspondence"][1]
        assert text.startswith("From: Ryan Johnson <ryan.johnson@aol.com>\nTo: Chris Ng")
        assert "September 28, 2026: Fender bender at residential street." in text  # no intake jargon


def test_the_items_of_an_estimate_add_up_to_its_total():
    _, _, note, data = dd.repair_estimate(claim("property"), random.Random(7), AT)
    text = pdf_text(data)
    amounts = [Decimal(a.replace(",", "")) for a in re.findall(r"\$([\d,]+\.\d\d)", text)]
    *items, subtotal, tax, total = amounts
    assert sum(items) == subtotal and subtotal + tax == total and note.endswith(f"${total:,.2f}")


def test_no_police_report_when_the_claim_says_none_was_filed_and_no_amounts_without_one():
    for seed in range(30):
        kinds = {d[1] for d in dd.documents_for(claim("auto", extra={"police_report": False}),
                                                random.Random(seed), AT)}
        assert "police_report" not in kinds
        kinds = {d[1] for d in dd.documents_for(claim("property", claimed_amount=None), random.Random(seed), AT)}
        assert kinds == {"correspondence"}


def test_the_same_seed_makes_the_same_files():
    one = dd.documents_for(claim("auto"), random.Random("42:SYN-1"), AT)
    two = dd.documents_for(claim("auto"), random.Random("42:SYN-1"), AT)
    other = dd.documents_for(claim("auto"), random.Random("43:SYN-1"), AT)
    assert one == two and one != other
    assert [dd._picked(42, f"SYN-{i}") for i in range(400)] == [dd._picked(42, f"SYN-{i}") for i in range(400)]
    share = sum(dd._picked(42, f"SYN-0042-{i:08d}") for i in range(4000)) / 4000
    assert 0.2 < share < 0.3  # about a quarter


def test_addresses_and_descriptions_read_as_written_by_people():
    assert dd._address("4679 MILL LN FAIRVIEW FL 33631") == "4679 Mill Ln Fairview FL 33631"
    assert dd._said("FNOL via phone: guest hurt hand on broken chair.") == "Guest hurt hand on broken chair"
    assert dd._said("") == "Loss as reported at first notice"


def test_nothing_is_uploaded_or_dated_after_the_latest_moment():
    """A claim reported yesterday: its documents' first upload falls after now. Clamped to now,
    an estimate read 'Date written: <tomorrow>' when only the upload time was moved."""
    latest = AT - dt.timedelta(hours=20)   # AT is the day after the report, hours later
    for seed in range(20):
        for _name, kind, _, data, at in dd.documents_for(claim("auto"), random.Random(seed), AT, latest):
            assert at <= latest
            if kind == "estimate":
                assert f"Date written\n{dd._day(latest.date())}" in pdf_text(data)
