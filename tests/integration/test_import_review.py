"""Review findings on CSV import, evaluation and the matching CLI commands: bad input is
refused or rejected row by row with a reason, never dropped, never rewriting another dataset."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from db.models import ApiToken, Claim, Dataset, ImportBatch, User
from services.api_tokens import TokenError, create_token
from services.datasets import ensure_dataset, get_dataset
from services.demo_data import DATASET as DEMO, FEATURE_SPEC as DEMO_SPEC
from services.evaluation import EvaluationError, evaluate_csv
from services.imports import ImportFailed, import_csv
from services.users import UserError, create_user
from tests.integration.test_cli import scope

HEADER = "Ref,Amount,Notes,Cover\n"
MAPPING = {
    "name": "review_test",
    "claim_number_prefix": "RVW-",
    "columns": {"claim_number": "Ref", "claimed_amount": "Amount", "description": "Notes"},
    "constants": {"line_of_business": "auto"},
    "target": {"column": "Cover", "values": {"Glass": "AUTO_GLASS", "Collision": "AUTO_PD"}},
    "features": [{"name": "description", "kind": "text"}, {"name": "claimed_amount", "kind": "numeric"}],
}


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def mapping_file(tmp_path: Path, **changes) -> Path:
    path = tmp_path / f"mapping-{len(list(tmp_path.glob('mapping-*')))}.yaml"
    path.write_text(yaml.safe_dump({**MAPPING, **changes}))
    return path


def run(session, csv_path, mapping, dataset, tmp_path, **kw):
    return import_csv(session, csv_path, mapping, dataset, tmp_path / "reports", route=False, **kw)


def report(summary) -> list[dict]:
    with open(summary["report_path"], newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def numbers(session, dataset) -> list[str]:
    return sorted(session.scalars(select(Claim.claim_number).where(Claim.dataset == dataset)))


# -- 1. datasets ---------------------------------------------------------------------------

def test_import_never_rewrites_the_demo_dataset(db_session, tmp_path):
    ensure_dataset(db_session, DEMO, DEMO_SPEC, description="demo")
    before = (get_dataset(db_session, DEMO).feature_spec, get_dataset(db_session, DEMO).description)
    csv_path = write(tmp_path, "a.csv", HEADER + "A1,10,glass,Glass\n")
    with pytest.raises(ImportFailed, match=r"dataset 'synthetic' was not made by an import.*--dataset review_test"):
        run(db_session, csv_path, mapping_file(tmp_path), DEMO, tmp_path)
    ds = db_session.get(Dataset, DEMO, populate_existing=True)
    assert (ds.feature_spec, ds.description) == before
    assert numbers(db_session, DEMO) == []


def test_import_refuses_a_dataset_made_by_another_mapping_and_allows_the_same_again(db_session, tmp_path):
    csv_path = write(tmp_path, "a.csv", HEADER + "A1,10,glass,Glass\n")
    run(db_session, csv_path, mapping_file(tmp_path), "rv_one", tmp_path)
    other = mapping_file(tmp_path, features=[{"name": "description", "kind": "text"}])
    with pytest.raises(ImportFailed, match=r"dataset 'rv_one' was imported with another mapping.*features differ"):
        run(db_session, csv_path, other, "rv_one", tmp_path)
    assert get_dataset(db_session, "rv_one").feature_spec[1]["name"] == "claimed_amount"
    again = run(db_session, csv_path, mapping_file(tmp_path), "rv_one", tmp_path)
    assert (again["imported"], again["duplicates"]) == (0, 1)


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 61, "x/../../../tmp/h2/escaped", "Upper", "-x"])
def test_dataset_names_are_checked_before_anything_is_written(db_session, tmp_path, name):
    csv_path = write(tmp_path, "a.csv", HEADER + "A1,10,glass,Glass\n")
    with pytest.raises(ImportFailed, match="is not allowed"):
        run(db_session, csv_path, mapping_file(tmp_path), name, tmp_path)
    assert db_session.scalar(select(func.count()).select_from(ImportBatch).where(ImportBatch.dataset == name)) == 0
    assert not (tmp_path / "reports").exists()


def test_sixty_character_name_is_fine(db_session, tmp_path):
    csv_path = write(tmp_path, "a.csv", HEADER + "A1,10,glass,Glass\n")
    assert run(db_session, csv_path, mapping_file(tmp_path), "a" * 60, tmp_path)["imported"] == 1


# -- 2-6. rows -----------------------------------------------------------------------------

def test_a_nul_byte_rejects_only_its_row(db_session, tmp_path):
    csv_path = write(tmp_path, "nul.csv", HEADER + "A1,10,bad\x00note,Glass\nA2,20,fine,Glass\n")
    summary = run(db_session, csv_path, mapping_file(tmp_path), "rv_nul", tmp_path)
    assert (summary["imported"], summary["rejected"]) == (1, 1)
    assert [(r["row"], r["column"], r["reason"]) for r in report(summary)] == [
        ("2", "Notes", "contains a NUL byte (0x00)")]
    assert numbers(db_session, "rv_nul") == ["RVW-A2"]


def test_a_nul_byte_in_a_column_the_mapping_does_not_read_is_harmless(db_session, tmp_path):
    csv_path = write(tmp_path, "nul.csv", "Ref,Amount,Notes,Cover,Unused\nA1,10,note,Glass,x\x00y\n")
    summary = run(db_session, csv_path, mapping_file(tmp_path), "rv_nul_unused", tmp_path)
    assert (summary["imported"], summary["rejected"]) == (1, 0)


def test_same_file_into_a_second_dataset_names_the_owner_per_row(db_session, tmp_path):
    csv_path = write(tmp_path, "a.csv", HEADER + "A1,10,glass,Glass\nA2,20,dent,Collision\n")
    run(db_session, csv_path, mapping_file(tmp_path), "rv_first", tmp_path)
    summary = run(db_session, csv_path, mapping_file(tmp_path), "rv_second", tmp_path)
    assert (summary["imported"], summary["rejected"]) == (0, 2)
    reasons = [r["reason"] for r in report(summary)]
    assert reasons == ["claim number RVW-A1 already belongs to dataset 'rv_first'",
                       "claim number RVW-A2 already belongs to dataset 'rv_first'"]
    # Nothing imported: no dataset row and no batch for it.
    assert get_dataset(db_session, "rv_second") is None and summary["batch_id"] is None


@pytest.mark.parametrize("amount", ["1e400", "1e999999999", "-1e400", "1e20", "NaN", "inf"])
def test_absurd_amounts_reject_their_row(db_session, tmp_path, amount):
    csv_path = write(tmp_path, "a.csv", HEADER + f"A1,{amount},glass,Glass\nA2,20,dent,Collision\n")
    summary = run(db_session, csv_path, mapping_file(tmp_path), "rv_amount", tmp_path)
    assert (summary["imported"], summary["rejected"]) == (1, 1)
    assert [(r["row"], r["column"]) for r in report(summary)] == [("2", "Amount")]


def test_an_unclosed_quote_is_reported_not_swallowed(db_session, tmp_path):
    # Row 2's quote is never closed: the csv module reads rows 3-4 into its description.
    text = HEADER + 'A1,10,"cracked,Glass\nA2,20,dent,Collision\nA3,30,dent,Collision\n'
    summary = run(db_session, write(tmp_path, "q.csv", text), mapping_file(tmp_path), "rv_quote", tmp_path)
    assert (summary["rows"], summary["imported"], summary["rejected"]) == (1, 0, 1)
    [line] = report(summary)
    assert line["row"] == "2" and "unclosed quote: lines 2-4" in line["reason"]


def test_a_quote_closed_rows_later_is_reported(db_session, tmp_path):
    text = HEADER + 'A1,10,"cracked,Glass\nA2,20,dent,Collision\nA3,30,"x",Collision\nA4,40,ok,Glass\n'
    summary = run(db_session, write(tmp_path, "q.csv", text), mapping_file(tmp_path), "rv_quote2", tmp_path)
    assert (summary["imported"], summary["rejected"]) == (1, 1)
    [line] = report(summary)
    assert line["row"] == "2" and "lines 2-4" in line["reason"] and "unclosed quote" in line["reason"]


def test_a_description_line_with_commas_is_not_taken_for_a_swallowed_row(db_session, tmp_path):
    """A narrow file's free text may have a line of commas; only lines shaped like this file's
    rows (an id like the row's own first) point to an unclosed quote."""
    text = HEADER + ('A1,250,"Reversed into a post.\nDamage: bumper, tail light, boot lid, paint",Collision\n'
                     'A2,20,"cracked\nA3,30,dent,Collision",Glass\n')
    summary = run(db_session, write(tmp_path, "d.csv", text), mapping_file(tmp_path), "rv_desc", tmp_path)
    assert (summary["imported"], summary["rejected"]) == (1, 1)
    assert numbers(db_session, "rv_desc") == ["RVW-A1"]
    [line] = report(summary)
    assert line["row"] == "4" and "look like rows of their own" in line["reason"]


def test_a_line_break_outside_free_text_is_rejected_but_allowed_in_the_description(db_session, tmp_path):
    text = HEADER + 'A1,10,"two\nlines",Glass\n"A2\nX",20,dent,Collision\n'
    summary = run(db_session, write(tmp_path, "q.csv", text), mapping_file(tmp_path), "rv_breaks", tmp_path)
    assert (summary["imported"], summary["rejected"]) == (1, 1)
    [line] = report(summary)
    assert (line["row"], line["column"]) == ("4", "Ref") and "line break" in line["reason"]


def test_blank_rows_are_counted(db_session, tmp_path):
    text = HEADER + "A1,10,glass,Glass\n,,,\n\nA2,20,dent,Collision\n"
    summary = run(db_session, write(tmp_path, "b.csv", text), mapping_file(tmp_path), "rv_blank", tmp_path)
    assert (summary["rows"], summary["imported"], summary["rejected"], summary["blank_lines"]) == (3, 2, 1, 1)
    assert [(r["row"], r["reason"]) for r in report(summary)] == [("3", "every field is empty")]


def test_reject_report_cannot_run_as_a_spreadsheet_formula(db_session, tmp_path):
    text = HEADER + "A1,=cmd|' /C calc'!A0,glass,Glass\nA2,20,dent,@SUM(1)\n"
    summary = run(db_session, write(tmp_path, "f.csv", text), mapping_file(tmp_path), "rv_formula", tmp_path)
    values = [r["value"] for r in report(summary)]
    assert values == ["'=cmd|' /C calc'!A0", "'@SUM(1)"]


# -- 7. evaluate ---------------------------------------------------------------------------

@pytest.fixture()
def trained(db_session, tmp_path):
    from services.training import train_dataset

    words = {"Glass": ["windscreen cracked", "glass chipped", "window broken"],
             "Collision": ["rear ended at lights", "dent in door", "hit a wall"]}
    rows = [f"T{i},{100 + i},{words[cover][i % 3]},{cover}"
            for i, cover in enumerate(["Glass", "Collision"] * 40)]
    csv_path = write(tmp_path, "train.csv", HEADER + "\n".join(rows) + "\n")
    run(db_session, csv_path, mapping_file(tmp_path), "rv_eval", tmp_path)
    train_dataset(db_session, "rv_eval")
    return csv_path


@pytest.mark.slow
def test_evaluate_refuses_what_it_cannot_score(db_session, tmp_path, trained):
    good = mapping_file(tmp_path)
    result = evaluate_csv(db_session, trained, good, "rv_eval")
    assert result["n"] == 80 and result["n_rejected"] == 0

    with pytest.raises(EvaluationError, match="does not give the features"):
        evaluate_csv(db_session, trained, mapping_file(tmp_path, features=[{"name": "description", "kind": "text"}]),
                     "rv_eval")
    with pytest.raises(EvaluationError, match="never predicts"):
        evaluate_csv(db_session, trained, mapping_file(tmp_path, target={"column": "Cover", "values": {
            "Glass": "PROPERTY"}}), "rv_eval")
    with pytest.raises(EvaluationError, match="no rows to evaluate"):
        evaluate_csv(db_session, write(tmp_path, "empty.csv", HEADER), good, "rv_eval")

    # Two problems in one row count as one rejected row, as an import counts them.
    text = HEADER + "T1,abc,,Nope\nT2,100,glass,Glass\n"
    assert evaluate_csv(db_session, write(tmp_path, "two.csv", text), good, "rv_eval")["n_rejected"] == 1


def test_evaluate_an_unknown_dataset_says_so(db_session, tmp_path):
    with pytest.raises(LookupError, match="unknown dataset 'zzz'"):
        evaluate_csv(db_session, write(tmp_path, "a.csv", HEADER), mapping_file(tmp_path), "zzz")


# -- 9. smaller service checks --------------------------------------------------------------

def test_mapping_file_problems_name_the_file(db_session, tmp_path):
    csv_path = write(tmp_path, "a.csv", HEADER + "A1,10,glass,Glass\n")
    binary = write(tmp_path, "bin.yaml", b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ImportFailed, match=r"mapping .*bin\.yaml: not a text file"):
        run(db_session, csv_path, binary, "rv_map", tmp_path)
    numeric = write(tmp_path, "num.yaml", yaml.safe_dump({**MAPPING, "claim_number_prefix": 123}))
    with pytest.raises(ImportFailed, match="'claim_number_prefix' must be text"):
        run(db_session, csv_path, numeric, "rv_map", tmp_path)


def test_a_directory_is_not_a_csv(db_session, tmp_path):
    with pytest.raises(ImportFailed, match="is a directory"):
        run(db_session, tmp_path, mapping_file(tmp_path), "rv_dir", tmp_path)


def test_all_rows_rejected_creates_no_dataset(db_session, tmp_path):
    csv_path = write(tmp_path, "a.csv", HEADER + "A1,abc,glass,Glass\n")
    summary = run(db_session, csv_path, mapping_file(tmp_path), "rv_none", tmp_path)
    assert (summary["imported"], summary["rejected"], summary["batch_id"]) == (0, 1, None)
    assert get_dataset(db_session, "rv_none") is None
    assert len(report(summary)) == 1


@pytest.mark.parametrize("name, message", [("x" * 300, "at most 120"), ("Ann\x1b[31m", "control characters"),
                                           ("Ann\nBee", "control characters")])
def test_user_names_are_refused_not_cut(db_session, name, message):
    with pytest.raises(UserError, match=message):
        create_user(db_session, email="named@scope.example", role="viewer", password=None, name=name)


def test_no_token_for_a_deactivated_user(db_session):
    user = create_user(db_session, email="gone.token@scope.example", role="adjuster", password=None)
    user.is_active = False
    with pytest.raises(TokenError, match="deactivated"):
        create_token(db_session, user, name="ci", scopes=["claims:read"])
    assert db_session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id)) == 0


# -- CLI -------------------------------------------------------------------------------------

def test_cli_revoking_twice_says_it_was_already_revoked(database_url):
    made = scope("create-user", "--email", "revoke.twice@scope.example", "--role", "adjuster",
                 "--password", "a-long-password-3", database_url=database_url)
    assert made.returncode == 0, made.stderr
    token = scope("token", "create", "--email", "revoke.twice@scope.example", "--name", "ci",
                  "--scope", "claims:read", database_url=database_url)
    token_id = token.stdout.split()[1]
    first = scope("token", "revoke", token_id, database_url=database_url)
    assert first.returncode == 0 and "revoked" in first.stdout
    second = scope("token", "revoke", token_id, database_url=database_url)
    assert second.returncode == 1 and "already revoked" in second.stderr
    assert second.stderr.count("\n") == 1


def test_cli_viewer_departments_are_explained(database_url):
    made = scope("create-user", "--email", "viewer.dept@scope.example", "--role", "viewer", "--department",
                 "AUTO_PD", "--password", "a-long-password-4", database_url=database_url)
    assert made.returncode == 0, made.stderr
    assert "note: a viewer sees every department" in made.stdout


def test_cli_import_into_a_dataset_made_elsewhere_is_refused(database_url, tmp_path):
    from db.session import make_engine, make_session_factory

    # Not "synthetic" itself: this database is shared by the session's tests, and this one commits.
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        ensure_dataset(session, "rv_made_elsewhere", DEMO_SPEC, description="demo")
    csv_path = write(tmp_path, "a.csv", HEADER + "A1,10,glass,Glass\n")
    result = scope("import", str(csv_path), "--mapping", str(mapping_file(tmp_path)), "--dataset",
                   "rv_made_elsewhere", database_url=database_url)
    with make_session_factory(engine).begin() as session:
        spec = session.get(Dataset, "rv_made_elsewhere").feature_spec
        session.delete(session.get(Dataset, "rv_made_elsewhere"))
    engine.dispose()
    assert result.returncode == 1
    assert "dataset 'rv_made_elsewhere' was not made by an import" in result.stderr
    assert "Traceback" not in result.stderr and spec == DEMO_SPEC


def test_cli_token_for_deactivated_user_is_refused(database_url):
    from db.session import make_engine, make_session_factory

    made = scope("create-user", "--email", "inactive.cli@scope.example", "--role", "adjuster",
                 "--password", "a-long-password-5", database_url=database_url)
    assert made.returncode == 0, made.stderr
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        session.scalar(select(User).where(User.email == "inactive.cli@scope.example")).is_active = False
    engine.dispose()
    result = scope("token", "create", "--email", "inactive.cli@scope.example", "--name", "ci",
                   "--scope", "claims:read", database_url=database_url)
    assert result.returncode == 1 and "deactivated" in result.stderr and "scope_" not in result.stdout


def test_cli_import_with_every_row_rejected_exits_non_zero(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("SCOPE_DATA_DIR", str(tmp_path / "data"))
    csv_path = write(tmp_path, "a.csv", HEADER + "A1,abc,glass,Glass\nA2,-,dent,Auto\n")
    result = scope("import", str(csv_path), "--mapping", str(mapping_file(tmp_path)), "--dataset",
                   "rv_cli_none", database_url=database_url)
    assert result.returncode == 3, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["imported"], summary["rejected"]) == (0, 2)
    assert result.stderr.strip() == (f"scope: error: nothing imported: all 2 rows were rejected "
                                      f"(reasons in {summary['report_path']})")
    assert Path(summary["report_path"]).is_file()


def test_cli_import_summary_counts_the_parties_stored(database_url, tmp_path, monkeypatch):
    from sqlalchemy import delete

    from db.models import Party
    from db.session import make_engine, make_session_factory

    monkeypatch.setenv("SCOPE_DATA_DIR", str(tmp_path / "data"))
    csv_path = write(tmp_path, "a.csv", "Ref,Amount,Notes,Cover,Claimant Name,Claimant Phone\n"
                                        "B1,10,glass,Glass,Ann Smith,+1 333 902 4411\n"
                                        "B2,20,dent,Collision,,\n"
                                        "B3,30,dent,Collision,Bo,12\n")
    mapping = mapping_file(tmp_path, name="rv_parties", claim_number_prefix="RVP-", parties=[
        {"role": "claimant", "columns": {"name": "Claimant Name", "phone": "Claimant Phone"}}])
    result = scope("import", str(csv_path), "--mapping", str(mapping), "--dataset", "rv_cli_parties",
                   database_url=database_url)
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:  # committed by the CLI: cleaned up here
        stored = session.execute(select(Claim.claim_number, Party.phone).join(Party, Party.claim_id == Claim.id)
                                 .where(Claim.dataset == "rv_cli_parties")).all()
        session.execute(delete(Claim).where(Claim.dataset == "rv_cli_parties"))
        session.execute(delete(ImportBatch).where(ImportBatch.dataset == "rv_cli_parties"))
        session.execute(delete(Dataset).where(Dataset.name == "rv_cli_parties"))
    engine.dispose()
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["imported"], summary["rejected"], summary["parties"]) == (2, 1, 1)
    assert stored == [("RVP-B1", "3339024411")]
    assert [(r["row"], r["column"], r["reason"]) for r in report(summary)] == [
        ("4", "Claimant Phone", "Claimant phone: must have 7 to 15 digits")]
