import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from services.cleaning import CleaningError, ColumnCleaner, date_from_parts, parse_band, parse_date
from services.mappings import ColumnRule, MappingError, load_mapping, parse_mapping

MAPPINGS = Path(__file__).resolve().parents[2] / "data" / "mappings"

MINIMAL = {
    "name": "t",
    "claim_number_prefix": "T-",
    "columns": {"claim_number": "Ref", "claimed_amount": "Amount"},
    "target": {"column": "Cover", "values": {"Glass": "AUTO_GLASS"}},
    "features": [{"name": "claimed_amount", "kind": "numeric"}],
}


def broken(**changes):
    data = {**MINIMAL, **changes}
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("name", ["lgpif_peril", "fremotor1", "vehicle_fraud"])
def test_shipped_mappings_load(name):
    mapping = load_mapping(MAPPINGS / f"{name}.yaml")
    assert mapping.name == name
    assert mapping.feature_spec()
    assert all(f["name"] != "paid_amount" for f in mapping.feature_spec())


def test_fremotor1_payment_is_stored_but_never_a_feature():
    mapping = load_mapping(MAPPINGS / "fremotor1.yaml")
    assert mapping.columns["paid_amount"] == ("Payment",)
    assert "Payment" not in {f["name"] for f in mapping.features}


def test_vehicle_fraud_identifier_and_label_are_not_features():
    names = {f["name"] for f in load_mapping(MAPPINGS / "vehicle_fraud.yaml").features}
    assert not names & {"PolicyNumber", "FraudFound_P", "policy_number"}


def test_minimal_mapping_parses():
    mapping = parse_mapping(MINIMAL)
    assert mapping.id_columns == ("Ref",)
    assert mapping.feature_spec() == [{"name": "claimed_amount", "kind": "numeric", "source": "column"}]


@pytest.mark.parametrize("changes, message", [
    ({"claim_number_prefix": None}, "claim_number_prefix"),
    ({"columns": {"claim_numbr": "Ref"}}, "'claim_numbr' is not a claims column"),
    ({"target": {"column": "Cover", "values": {"Glass": "NOPE"}}}, "'NOPE' is neither a standard department"),
    ({"target": None}, "'target' needs either"),
    ({"features": [{"name": "paid_amount", "kind": "numeric"}]}, "only known after settlement"),
    ({"features": [{"name": "Cover", "kind": "categorical"}], "extra": ["Cover"]}, "is the label"),
    ({"features": [{"name": "Colour", "kind": "categorical"}]}, "'Colour' is neither a claims column"),
    ({"features": [{"name": "claimed_amount", "kind": "number"}]}, "kind 'number'"),
    ({"validate": {"Amount": {"type": "money"}}}, "type 'money'"),
    ({"validate": {"Amount": {"type": "string"}}}, "fills claimed_amount, so its type must be numeric"),
    ({"validate": {"Amount": {"maximum": 3}}}, "unknown rule keys ['maximum']"),
    ({"departments": [{"code": "lower", "name": "x"}]}, "UPPER_SNAKE_CASE"),
    ({"colour": "red"}, "unknown keys ['colour']"),
])
def test_broken_mapping_names_the_problem(changes, message):
    with pytest.raises(MappingError) as err:
        parse_mapping(broken(**changes))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_load_mapping_reports_file_and_yaml_errors(tmp_path):
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(bad)
    partial = tmp_path / "partial.yaml"
    partial.write_text(yaml.safe_dump(broken(features=None)))
    with pytest.raises(MappingError, match=r"partial\.yaml: 'features' must list"):
        load_mapping(partial)



CLAIMANT = {"role": "claimant", "columns": {"name": "Claimant Name", "phone": "Claimant Phone"}}


def test_party_blocks_parse_and_stay_out_of_features_and_extra():
    mapping = parse_mapping(broken(parties=[CLAIMANT, {"role": "repair_shop", "columns": {
        "name": "Garage Name", "bank_account": "Garage Bank Acct"}}]))
    assert [(b.role, b.columns) for b in mapping.parties] == [
        ("claimant", {"name": "Claimant Name", "phone": "Claimant Phone"}),
        ("repair_shop", {"name": "Garage Name", "bank_account": "Garage Bank Acct"})]
    assert mapping.party_columns() == ["Claimant Name", "Claimant Phone", "Garage Name", "Garage Bank Acct"]
    assert not set(mapping.party_columns()) & set(mapping.source_columns())
    assert mapping.extra == () and mapping.feature_spec() == parse_mapping(MINIMAL).feature_spec()
    # A rule listing "not recorded" values does not make a party column a claims source column.
    mapping = parse_mapping(broken(parties=[CLAIMANT], validate={"Claimant Phone": {"missing": ["N/A"]}}))
    assert mapping.rule_for("Claimant Phone").missing == ("N/A",)
    assert "Claimant Phone" not in mapping.source_columns()
    assert parse_mapping(broken(parties=[])).parties == ()


@pytest.mark.parametrize("parties, message", [
    ([{"role": "victim", "columns": {"name": "N"}}], "parties[0]: role 'victim' is not one of claimant, insured"),
    ([{"role": "claimant", "columns": {"iban": "Acct"}}], "parties[0] (claimant): 'iban' is not a party field"),
    ([{"role": "claimant"}], "parties[0] (claimant): 'columns' must map party fields"),
    ([{"role": "claimant", "columns": {"name": "N"}, "columnz": {}}], "parties[0]: unknown keys ['columnz']"),
    ([{"role": "claimant", "columns": {"name": "X", "phone": "X"}}],
     "parties[0] (claimant): column 'X' fills more than one field of the same party"),
    ([CLAIMANT, {"role": "witness", "columns": {"phone": ""}}], "parties[1] (witness).phone: must name a source"),
    ({"role": "claimant"}, "'parties' must list party blocks"),
    ([CLAIMANT] * 21, "a claim holds at most 20"),
])
def test_broken_party_blocks_name_the_problem(parties, message):
    with pytest.raises(MappingError) as err:
        parse_mapping(broken(parties=parties))
    assert message in str(err.value)


@pytest.mark.parametrize("changes, message", [
    ({"extra": ["Claimant Phone"]}, "column 'Claimant Phone' is claimant's phone and also an extra column"),
    ({"columns": {"claim_number": "Ref", "claimed_amount": "Amount", "description": "Claimant Name"}},
     "column 'Claimant Name' is claimant's name and also claims column description"),
    ({"fraud_label": "Claimant Phone"}, "is claimant's phone and also fraud_label"),
    ({"validate": {"Claimant Phone": {"required": True, "missing": ["n/a"]}}},
     "validate.Claimant Phone: 'Claimant Phone' is claimant's phone, which the party rules check; its rule may "
     "only list 'missing' values"),
])
def test_a_party_column_may_not_be_used_elsewhere(changes, message):
    with pytest.raises(MappingError) as err:
        parse_mapping(broken(parties=[CLAIMANT], **changes))
    assert message in str(err.value)


@pytest.mark.parametrize("rule", [5, [{"missing": "n/a"}], ["n/a"]])
def test_a_party_columns_rule_that_is_not_a_mapping_is_a_mapping_error(rule):
    # It raised TypeError (int not iterable, unhashable dict): a traceback from scope import.
    with pytest.raises(MappingError, match=r"validate\.Claimant Phone: must be a mapping"):
        parse_mapping(broken(parties=[CLAIMANT], validate={"Claimant Phone": rule}))


def test_load_mapping_names_the_file_for_party_errors(tmp_path):
    path = tmp_path / "garages.yaml"
    path.write_text(yaml.safe_dump(broken(parties=[{"role": "garage", "columns": {"name": "Garage"}}])))
    with pytest.raises(MappingError, match=r"^mapping garages\.yaml: parties\[0\]: role 'garage'"):
        load_mapping(path)
    path.write_text(yaml.safe_dump(broken(parties=[CLAIMANT])))
    assert load_mapping(path).file_name == "garages.yaml"


@pytest.mark.parametrize("label, expected", [
    ("31 to 35", 33), ("16 to 17", 16.5), ("more than 30", 31), ("over 65", 66),
    ("less than 20000", 19999), ("under 6", 5), ("none", 0), ("1 year", 1), ("3 years", 3),
    ("2 vehicles", 2), ("3 to 4", 3.5), ("more than 69000", 69001), ("  4 TO 8 years ", 6),
])
def test_parse_band(label, expected):
    assert parse_band(label) == expected


def test_parse_band_words_and_step():
    assert parse_band("new", {"new": 0}) == 0
    assert parse_band("No change", {"no change": 0}) == 0
    assert parse_band("more than 7", step=0.5) == 7.5
    # open bands never collide with the closed band next to them
    assert parse_band("more than 7") != parse_band("7 years")
    with pytest.raises(CleaningError, match="not a recognised band"):
        parse_band("lots")


def test_parse_date_tries_each_format():
    assert parse_date("2024-02-05", ("%Y-%m-%d", "%d/%m/%Y")) == dt.date(2024, 2, 5)
    assert parse_date("05/02/2024", ("%Y-%m-%d", "%d/%m/%Y")) == dt.date(2024, 2, 5)
    with pytest.raises(CleaningError, match="not a date in format %Y-%m-%d"):
        parse_date("2024-13-40", ("%Y-%m-%d",))


def test_category_normalisation():
    clean = ColumnCleaner(ColumnRule(allowed=("Glass", "Collision"), synonyms={"windscreen": "Glass"}))
    assert clean("  collision ") == "Collision"
    assert clean("WINDSCREEN") == "Glass"
    assert clean("") is None
    with pytest.raises(CleaningError, match="'Submarine' is not an allowed value"):
        clean("Submarine")
    assert ColumnCleaner(ColumnRule(case="title"))("  honda  civic ") == "Honda Civic"


def test_typed_values_ranges_and_missing_markers():
    amount = ColumnCleaner(ColumnRule(type="decimal", min=0, required=True))
    assert amount(" 1,200.50 ") == Decimal("1200.50")
    with pytest.raises(CleaningError, match="below the minimum"):
        amount("-5")
    with pytest.raises(CleaningError, match="not a number"):
        amount("abc")
    with pytest.raises(CleaningError, match="required value is missing"):
        amount("   ")
    age = ColumnCleaner(ColumnRule(type="int", min=16, missing=("0",)))
    assert age("0") is None
    assert age("31.0") == 31
    with pytest.raises(CleaningError, match="not a whole number"):
        age("31.5")
    assert ColumnCleaner(ColumnRule(type="bool"))("Yes") is True


def test_derived_dates_from_parts():
    # 3rd week of January 1994, Wednesday: days 15-21 -> Wed 19 Jan 1994
    assert date_from_parts(1994, 1, 3, 2) == dt.date(1994, 1, 19)
    # 5th week running past the month end falls back to the last such weekday
    assert date_from_parts(1994, 2, 5, 0) == dt.date(1994, 2, 28)
    assert date_from_parts(1995, 2, 5, 6) == dt.date(1995, 2, 26)
    with pytest.raises(CleaningError, match="week of month"):
        date_from_parts(1994, 1, 6, 0)


def test_derived_dates_roll_into_next_year_and_never_precede_the_loss(tmp_path):
    from services.imports import read_mapped_frame

    (tmp_path / "parts.csv").write_text(
        "Id,Year,Month,Week,Day,CMonth,CWeek,CDay,Label\n"
        "1,1994,Dec,5,Wednesday,Jan,1,Tuesday,0\n"   # claimed the next January
        "2,1994,Mar,3,Friday,Mar,3,Tuesday,0\n"      # Tue 15th before Fri 18th: clamped
        "3,1994,Mar,3,Friday,0,1,Monday,1\n"         # month 0: rejected, with a reason
    )
    mapping = parse_mapping({
        "name": "parts", "claim_number_prefix": "P-", "columns": {"claim_number": "Id"},
        "derived_dates": {
            "loss_date": {"year": "Year", "month": "Month", "week_of_month": "Week", "day_of_week": "Day"},
            "report_date": {"year": "Year", "month": "CMonth", "week_of_month": "CWeek",
                            "day_of_week": "CDay", "not_before": "loss_date"},
        },
        "target": {"column": "Label", "values": {"1": "SIU", "0": "AUTO_PD"}},
        "fraud_label": "Label",
        "extra": ["Week"],
        "features": [{"name": "Week", "kind": "numeric"}],
    })
    frame, rejects = read_mapped_frame(tmp_path / "parts.csv", mapping)
    assert [d.isoformat() for d in frame["loss_date"]] == ["1994-12-28", "1994-03-18"]
    assert [d.isoformat() for d in frame["report_date"]] == ["1995-01-03", "1994-03-18"]
    assert list(frame["fraud_label"]) == [False, False]
    assert rejects == [{"row": 4, "column": "CMonth", "value": "0",
                        "reason": "cannot build report_date: not a month: '0'"}]
