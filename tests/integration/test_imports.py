import csv
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from db.models import AuditLog, Claim, Department, ImportBatch
from services.datasets import ensure_dataset, get_dataset
from services.imports import ImportFailed, import_csv, read_mapped_frame
from tests.conftest import shared_csv

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "import"
MAPPINGS = ROOT / "data" / "mappings"

TEST_MAPPING = {
    "name": "test_motor",
    "claim_number_prefix": "TST-",
    "columns": {"claim_number": "ClaimRef", "policy_number": "Policy", "loss_date": "LossDate",
                "claimed_amount": "Amount", "description": "Notes"},
    "constants": {"line_of_business": "auto"},
    "target": {"column": "Cover", "values": {"Glass": "AUTO_GLASS", "Collision": "AUTO_PD"}},
    "extra": ["DriverAge"],
    "validate": {
        "Policy": {"required": True},
        "LossDate": {"type": "date", "required": True, "formats": ["%Y-%m-%d", "%d/%m/%Y"]},
        "Amount": {"type": "decimal", "required": True, "min": 0},
        "Cover": {"allowed": ["Glass", "Collision"], "synonyms": {"windscreen": "Glass"}},
        "DriverAge": {"type": "banded"},
    },
    "features": [{"name": "description", "kind": "text"}, {"name": "DriverAge", "kind": "numeric"}],
}


@pytest.fixture()
def mapping_file(tmp_path):
    path = tmp_path / "test_motor.yaml"
    path.write_text(yaml.safe_dump(TEST_MAPPING))
    return path


def broken_mapping(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump({**TEST_MAPPING, "target": {"column": "Cover", "values": {"Glass": "NOPE"}}}))
    return path


def run(session, csv_path, mapping_path, dataset, tmp_path, **kw):
    return import_csv(session, csv_path, mapping_path, dataset, tmp_path / "reports", route=False, **kw)


def report_lines(summary):
    with open(summary["report_path"], newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def count_claims(session, dataset):
    return session.scalar(select(func.count()).select_from(Claim).where(Claim.dataset == dataset))


def test_good_rows_import_and_each_bad_row_is_reported(db_session, mapping_file, tmp_path):
    summary = run(db_session, FIXTURES / "claims_with_errors.csv", mapping_file, "test_motor", tmp_path)

    assert summary | {"report_path": None, "batch_id": None} == {
        "dataset": "test_motor", "rows": 8, "imported": 3, "duplicates": 0, "rejected": 5, "blank_lines": 0,
        "report_path": None, "batch_id": None, "routed": 0, "parties": 0}
    problems = {(int(r["row"]), r["column"]): r for r in report_lines(summary)}
    assert set(problems) == {(3, "LossDate"), (4, "Amount"), (5, "Policy"), (6, "Cover"), (7, "Amount")}
    assert "not a date" in problems[3, "LossDate"]["reason"]
    assert "below the minimum" in problems[4, "Amount"]["reason"]
    assert "required value is missing" in problems[5, "Policy"]["reason"]
    assert "'Submarine' is not an allowed value" in problems[6, "Cover"]["reason"]
    assert problems[7, "Amount"]["value"] == "abc" and "not a number" in problems[7, "Amount"]["reason"]

    claims = {c.claim_number: c for c in db_session.scalars(select(Claim).where(Claim.dataset == "test_motor"))}
    assert set(claims) == {"TST-C001", "TST-C007", "TST-c008"}
    c1, c7, c8 = claims["TST-C001"], claims["TST-C007"], claims["TST-c008"]
    assert c1.description == "cracked windscreen" and c1.extra == {"DriverAge": 33.0}
    assert c1.status == "closed" and c1.closed_at is not None and c1.line_of_business == "auto"
    assert c7.loss_date.isoformat() == "2024-02-05" and c7.department.code == "AUTO_PD"
    assert c8.department.code == "AUTO_GLASS" and str(c8.claimed_amount) == "75.25"

    batch = db_session.get(ImportBatch, summary["batch_id"])
    assert (batch.n_rows, batch.n_imported, batch.n_rejected, batch.actor) == (8, 3, 5, "system")
    assert len(batch.file_sha256) == 64 and batch.finished_at is not None
    audit = db_session.scalars(select(AuditLog).where(AuditLog.action == "claims.import").order_by(AuditLog.id)).all()
    assert audit[-1].target_id == str(batch.id) and audit[-1].after["imported"] == 3
    assert get_dataset(db_session, "test_motor").feature_spec[1]["source"] == "extra"


def test_reimporting_the_same_file_adds_nothing(db_session, mapping_file, tmp_path):
    first = run(db_session, FIXTURES / "claims_with_errors.csv", mapping_file, "test_motor", tmp_path)
    second = run(db_session, FIXTURES / "claims_with_errors.csv", mapping_file, "test_motor", tmp_path)
    assert (first["imported"], second["imported"], second["duplicates"], second["rejected"]) == (3, 0, 3, 5)
    assert count_claims(db_session, "test_motor") == 3


def test_rows_without_ids_import_once_each_even_when_identical(db_session, tmp_path):
    mapping = tmp_path / "perils.yaml"
    mapping.write_text(yaml.safe_dump({
        "name": "perils", "claim_number_prefix": "PRL-",
        "columns": {"description": "Description", "claimed_amount": "Loss"},
        "target": {"column": "Peril", "values": {"wind": "PROPERTY", "hail": "PROPERTY"}},
        "features": [{"name": "description", "kind": "text"}],
    }))
    first = run(db_session, FIXTURES / "no_ids.csv", mapping, "perils", tmp_path)
    second = run(db_session, FIXTURES / "no_ids.csv", mapping, "perils", tmp_path)
    assert (first["imported"], second["imported"], second["duplicates"]) == (3, 0, 3)
    numbers = db_session.scalars(select(Claim.claim_number).where(Claim.dataset == "perils")).all()
    assert len(set(numbers)) == 3 and all(n.startswith("PRL-") for n in numbers)


def test_a_claim_number_another_dataset_holds_rejects_only_that_row(db_session, mapping_file, tmp_path):
    # Another dataset already owns TST-C007: that row is reported by name; its batch mate C001 still imports.
    ensure_dataset(db_session, "other", [{"name": "description", "kind": "text"}])
    db_session.add(Claim(claim_number="TST-C007", dataset="other", source_key="x", status="closed"))
    db_session.flush()

    summary = run(db_session, FIXTURES / "claims_with_errors.csv", mapping_file, "test_motor", tmp_path,
                  batch_size=2)

    assert (summary["imported"], summary["rejected"]) == (2, 6)
    assert sorted(db_session.scalars(select(Claim.claim_number).where(Claim.dataset == "test_motor"))) == [
        "TST-C001", "TST-c008"]
    taken = [r for r in report_lines(summary) if int(r["row"]) == 8]
    assert [r["reason"] for r in taken] == ["claim number TST-C007 already belongs to dataset 'other'"]


@pytest.mark.parametrize("make_input, message", [
    (lambda tmp, m: (tmp / "nope.csv", m), "file not found"),
    (lambda tmp, m: (FIXTURES / "no_ids.csv", m), "not in the header"),
    (lambda tmp, m: (FIXTURES / "claims_with_errors.csv", tmp / "missing.yaml"), "cannot read"),
    (lambda tmp, m: (FIXTURES / "claims_with_errors.csv", broken_mapping(tmp)), "'NOPE' is neither"),
])
def test_unusable_input_fails_cleanly_and_writes_nothing(db_session, mapping_file, tmp_path, make_input, message):
    before = db_session.scalar(select(func.count()).select_from(ImportBatch))
    csv_path, mapping_path = make_input(tmp_path, mapping_file)
    with pytest.raises(ImportFailed, match=message) as err:
        run(db_session, csv_path, mapping_path, "test_motor", tmp_path)
    assert "\n" not in str(err.value)
    assert db_session.scalar(select(func.count()).select_from(ImportBatch)) == before
    assert get_dataset(db_session, "test_motor") is None


def test_read_mapped_frame_validates_without_storing(mapping_file):
    frame, rejects = read_mapped_frame(FIXTURES / "claims_with_errors.csv", mapping_file)
    assert list(frame["claim_number"]) == ["TST-C001", "TST-C007", "TST-c008"]
    assert list(frame["department"]) == ["AUTO_PD" if c == "TST-C007" else "AUTO_GLASS" for c in frame["claim_number"]]
    assert {"description", "DriverAge", "loss_date", "line"} <= set(frame.columns)
    assert {r["row"] for r in rejects} == {3, 4, 5, 6, 7}


REAL = [
    ("lgpif_peril", "lgpif_peril/peril.training.csv",
     {"PERIL_VANDALISM": 35.5, "PERIL_VEHICLE": 17.1, "PERIL_LIGHTNING": 16.7, "PERIL_WATER_W": 8.5,
      "PERIL_MISC": 7.3, "PERIL_WIND": 5.9, "PERIL_WATER_NW": 4.0, "PERIL_FIRE": 3.4, "PERIL_HAIL": 1.5}),
    ("fremotor1", "fremotor1/fremotor1_claims_with_policy.csv",
     {"LIABILITY": 45.4, "AUTO_GLASS": 34.6, "AUTO_PD": 10.3, "MOTOR_THEFT": 6.2, "MOTOR_OTHER": 2.3,
      "MOTOR_FIRE": 1.2}),
    ("vehicle_fraud", "vehicle_fraud/fraud_oracle_1994_1995.csv", {"SIU": 6.3, "AUTO_PD": 93.7}),
]


@pytest.mark.parametrize("dataset, relative, shares", REAL, ids=[r[0] for r in REAL])
def test_real_dataset_imports(db_session, tmp_path, dataset, relative, shares):
    path = shared_csv(relative)
    summary = run(db_session, path, MAPPINGS / f"{dataset}.yaml", dataset, tmp_path)

    assert summary["imported"] + summary["rejected"] == summary["rows"]
    assert summary["rejected"] <= summary["rows"] * 0.01
    lines = report_lines(summary)
    assert all(r["reason"] for r in lines)
    assert len({r["row"] for r in lines}) == summary["rejected"]

    counts = dict(db_session.execute(
        select(Department.code, func.count()).join(Claim, Claim.department_id == Department.id)
        .where(Claim.dataset == dataset).group_by(Department.code)).all())
    total = sum(counts.values())
    assert total == summary["imported"]
    for code, pct in shares.items():
        assert abs(100 * counts.get(code, 0) / total - pct) < 0.5, code

    spec = get_dataset(db_session, dataset).feature_spec
    assert spec and "paid_amount" not in {f["name"] for f in spec}


def test_real_vehicle_fraud_dates_and_labels(db_session, tmp_path):
    path = shared_csv("vehicle_fraud/fraud_oracle_1994_1995.csv")
    run(db_session, path, MAPPINGS / "vehicle_fraud.yaml", "vehicle_fraud", tmp_path)
    rows = db_session.execute(select(Claim.loss_date, Claim.report_date, Claim.fraud_label, Department.code)
                              .join(Department).where(Claim.dataset == "vehicle_fraud")).all()
    assert all(loss and report and report >= loss for loss, report, _, _ in rows)
    assert all(label == (code == "SIU") for _, _, label, code in rows)
    assert {loss.year for loss, *_ in rows} == {1994, 1995}


# -- parties (the claim's people and businesses) ---------------------------------

PARTY_MAPPING = {
    **TEST_MAPPING, "name": "party_import", "claim_number_prefix": "IPT-",
    "parties": [
        {"role": "claimant", "columns": {"name": "Claimant Name", "phone": "Claimant Phone",
                                         "email": "Claimant Email"}},
        {"role": "repair_shop", "columns": {"name": "Garage Name", "bank_account": "Garage Bank Acct"}},
    ],
    # A party column's rule may only say which values mean "not recorded".
    "validate": {**TEST_MAPPING["validate"], "Claimant Phone": {"missing": ["n/a"]}},
}


@pytest.fixture()
def party_mapping(tmp_path):
    path = tmp_path / "party_import.yaml"
    path.write_text(yaml.safe_dump(PARTY_MAPPING))
    return path


def parties_of(session, dataset):
    from db.models import Party

    rows = session.execute(select(Claim.claim_number, Party).join(Party, Party.claim_id == Claim.id)
                           .where(Claim.dataset == dataset).order_by(Party.id)).all()
    return [(number, p.role, p.name, p.phone, p.email, p.bank_account) for number, p in rows]


def test_party_columns_are_validated_like_intake_and_stored_normalised(db_session, party_mapping, tmp_path):
    summary = run(db_session, FIXTURES / "claims_with_parties.csv", party_mapping, "party_import", tmp_path)

    assert (summary["imported"], summary["rejected"], summary["parties"]) == (4, 3, 4)
    problems = {(int(r["row"]), r["column"]): r for r in report_lines(summary)}
    assert set(problems) == {(4, "Claimant Phone"), (5, "Claimant Email"), (7, "Garage Bank Acct")}
    assert problems[4, "Claimant Phone"]["value"] == "••••"  # masked (docs/import-mappings.md)
    assert problems[4, "Claimant Phone"]["reason"] == "Claimant phone: must have 7 to 15 digits"
    assert problems[5, "Claimant Email"]["reason"] == "Claimant email: must look like name@example.com"
    assert problems[7, "Garage Bank Acct"]["reason"] == "Repair shop bank account: has no letters or digits"

    # Normalised as intake stores them; a block whose columns are all empty is simply absent.
    assert parties_of(db_session, "party_import") == [
        ("IPT-P001", "claimant", "Ann Smith", "4449017731", "ann.smith@example.com", None),
        ("IPT-P001", "repair_shop", "Fix-It Motors", None, None, "GB29NWBK60161331926819"),
        ("IPT-P002", "claimant", "Bob Jones", "4449017731", None, None),
        ("IPT-P007", "claimant", "Gil Fox", None, None, None),  # "N/A" is listed as missing
    ]
    claims = {c.claim_number: c for c in db_session.scalars(select(Claim).where(Claim.dataset == "party_import"))}
    assert set(claims) == {"IPT-P001", "IPT-P002", "IPT-P005", "IPT-P007"}
    # Personal data: not in extra, not router features, not in the validated frame.
    assert claims["IPT-P001"].extra == {"DriverAge": 33.0}
    assert {f["name"] for f in get_dataset(db_session, "party_import").feature_spec} == {"description", "DriverAge"}
    frame, _ = read_mapped_frame(FIXTURES / "claims_with_parties.csv", party_mapping)
    assert not {"parties", "Claimant Phone", "Garage Name"} & set(frame.columns)


def test_reimport_adds_no_duplicate_parties(db_session, party_mapping, tmp_path):
    first = run(db_session, FIXTURES / "claims_with_parties.csv", party_mapping, "party_import", tmp_path)
    second = run(db_session, FIXTURES / "claims_with_parties.csv", party_mapping, "party_import", tmp_path)
    assert (first["parties"], second["imported"], second["duplicates"], second["parties"]) == (4, 0, 4, 0)
    assert len(parties_of(db_session, "party_import")) == 4


def test_claims_imported_before_the_mapping_had_parties_get_them_once(db_session, tmp_path):
    without = tmp_path / "without.yaml"
    without.write_text(yaml.safe_dump({k: v for k, v in PARTY_MAPPING.items() if k != "parties"}))
    with_parties = tmp_path / "with.yaml"
    with_parties.write_text(yaml.safe_dump(PARTY_MAPPING))
    csv_path = tmp_path / "no_bad_parties.csv"  # the three good rows of the fixture (no rejects either way)
    lines = (FIXTURES / "claims_with_parties.csv").read_text().splitlines(keepends=True)
    csv_path.write_text("".join([lines[0], lines[1], lines[2], lines[5]]))

    first = run(db_session, csv_path, without, "party_import", tmp_path)
    assert (first["imported"], first["parties"]) == (3, 0) and parties_of(db_session, "party_import") == []
    second = run(db_session, csv_path, with_parties, "party_import", tmp_path)
    assert (second["imported"], second["duplicates"], second["parties"]) == (0, 3, 3)
    third = run(db_session, csv_path, with_parties, "party_import", tmp_path)
    assert third["parties"] == 0
    assert [(n, role) for n, role, *_ in parties_of(db_session, "party_import")] == [
        ("IPT-P001", "claimant"), ("IPT-P001", "repair_shop"), ("IPT-P002", "claimant")]


def test_imported_claims_sharing_a_phone_are_linked(db_session, party_mapping, tmp_path):
    from services.linked_claims import linked_claims
    from tests.partyutil import make_user

    run(db_session, FIXTURES / "claims_with_parties.csv", party_mapping, "party_import", tmp_path)
    claims = {c.claim_number: c for c in db_session.scalars(select(Claim).where(Claim.dataset == "party_import"))}
    links = linked_claims(db_session, make_user(db_session, "manager"), claims["IPT-P001"])
    by_number = {c.claim_number: c for c in links.claims}
    assert "IPT-P002" in by_number and "IPT-P005" not in by_number
    assert [(s.field, s.value) for s in by_number["IPT-P002"].shared] == [("phone", "4449017731")]


def test_a_party_column_missing_from_the_file_names_the_mapping(db_session, tmp_path):
    mapping = tmp_path / "garages.yaml"
    mapping.write_text(yaml.safe_dump({**PARTY_MAPPING, "parties": [
        {"role": "repair_shop", "columns": {"name": "Garage Name", "phone": "Garage Phone"}}]}))
    with pytest.raises(ImportFailed) as err:
        run(db_session, FIXTURES / "claims_with_parties.csv", mapping, "party_import", tmp_path)
    assert str(err.value) == ("mapping garages.yaml: party column(s) 'Garage Phone' (repair_shop's phone) "
                              "not in the header of claims_with_parties.csv")
    assert count_claims(db_session, "party_import") == 0


PARTY_HEADER = ("ClaimRef,Policy,LossDate,Amount,Cover,Notes,DriverAge,Claimant Name,Claimant Phone,Claimant Email,"
                "Garage Name,Garage Bank Acct\n")


def test_the_reject_report_masks_party_identifiers_and_the_rejected_rows_import_nothing(
        db_session, party_mapping, tmp_path):
    from db.models import Party

    long_account = "GB29 NWBK 6016 1331 9268 19 " * 3  # 84 characters as typed: more than intake takes
    text = PARTY_HEADER + (
        f"M001,P1,2024-01-05,100,Glass,chip,31 to 35,Ann Smith,4449017731,ann@example.com,Fix-It,{long_account}\n"
        "M002,P2,2024-01-06,200,Glass,chip,31 to 35,Bob Jones,+1 (444) 901-7799,bob.jones@example,,\n"
        "M003,P3,not a date,300,Glass,chip,31 to 35,Cy Dee,4449017700,cy@example.com,Garage,GB11BANK22223333\n"
        "M004,P4,2024-01-08,400,Glass,chip,31 to 35,Di Eve,4449017788,di@example.com,Garage,GB99BANK1234\n")
    csv_path = tmp_path / "masked.csv"
    csv_path.write_text(text)
    summary = run(db_session, csv_path, party_mapping, "party_mask", tmp_path)
    assert (summary["imported"], summary["rejected"]) == (1, 3)
    problems = {(int(r["row"]), r["column"]): r for r in report_lines(summary)}
    assert set(problems) == {(2, "Garage Bank Acct"), (3, "Claimant Email"), (4, "LossDate")}
    bank = problems[2, "Garage Bank Acct"]
    assert bank["value"] == "••••6819"
    assert bank["reason"] == "Repair shop bank account: must be at most 64 characters"
    assert problems[3, "Claimant Email"]["value"] == "b•••@example"  # enough to find it, not to use it
    assert problems[4, "LossDate"]["value"] == "not a date"  # not an identifier: as it was
    report = Path(summary["report_path"]).read_text(encoding="utf-8")
    for secret in ("NWBK", "6016", "bob.jones", "4449017731", "ann@example.com", "GB11BANK", "cy@example.com"):
        assert secret not in report, secret
    # Nothing of a rejected row is stored: no claim, no party.
    numbers = set(db_session.scalars(select(Claim.claim_number).where(Claim.dataset == "party_mask")))
    assert numbers == {"IPT-M004"}
    stored = db_session.execute(select(Party.role, Party.bank_account).join(Claim, Claim.id == Party.claim_id)
                                .where(Claim.dataset == "party_mask")).all()
    assert sorted(stored) == [("claimant", None), ("repair_shop", "GB99BANK1234")]


def test_a_row_an_unclosed_quote_swallowed_is_reported_with_its_parties_masked(db_session, party_mapping, tmp_path):
    text = PARTY_HEADER + (
        'Q001,P1,2024-01-05,100,Glass,chip,31 to 35,Ann Smith,4449017731,ann@example.com,"Fix-It,GB29NWBK6016\n'
        "Q002,P2,2024-01-06,200,Glass,chip,31 to 35,Bob Jones,4449017799,bob@example.com,,\n")
    csv_path = tmp_path / "quote.csv"
    csv_path.write_text(text)
    summary = run(db_session, csv_path, party_mapping, "party_quote", tmp_path)
    assert summary["imported"] == 0
    [line] = report_lines(summary)
    assert line["row"] == "2" and "unclosed quote: lines 2-3" in line["reason"]
    # The row as read, to find the quote; the identifiers of both rows are not in it.
    assert line["value"] == 'Q001,P1,2024-01-05,100,Glass,chip,31 to 35,A••• S•••,••••7731,a•••@example.com,"F••• …'
    for secret in ("4449017731", "ann@example.com", "GB29NWBK6016", "Bob Jones", "bob@example.com", "4449017799"):
        assert secret not in line["value"], secret
