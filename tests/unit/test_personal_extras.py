"""The mapping key ``personal`` and the masking of a stored decision's personal features
(services.privacy.mask_decision), without a database."""
from __future__ import annotations

from pathlib import Path

import pytest

from ml.explain import describe
from services.mappings import MappingError, load_mapping, parse_mapping
from services.privacy import MASK, mask_decision, mask_values

MAPPINGS = Path(__file__).resolve().parents[2] / "data" / "mappings"

BASE = {
    "name": "t",
    "claim_number_prefix": "T-",
    "columns": {"claim_number": "Ref", "claimed_amount": "Amount"},
    "target": {"column": "Cover", "values": {"Glass": "AUTO_GLASS"}},
    "extra": ["DrivAge", "DrivGender", "VehAge"],
    "features": [{"name": "claimed_amount", "kind": "numeric"}, {"name": "DrivGender", "kind": "categorical"},
                 {"name": "VehAge", "kind": "numeric"}],
}


def test_personal_columns_are_flagged_in_the_feature_spec_only_where_listed():
    spec = parse_mapping({**BASE, "personal": ["DrivGender", "DrivAge"]}).feature_spec()
    by_name = {f["name"]: f for f in spec}
    assert by_name["DrivGender"].get("personal") is True
    assert "personal" not in by_name["VehAge"] and "personal" not in by_name["claimed_amount"]
    # A mapping without the key keeps the spec it had before the key existed.
    assert all("personal" not in f for f in parse_mapping(BASE).feature_spec())


@pytest.mark.parametrize("personal, message", [
    (["DrivSex"], "personal column 'DrivSex' is not one of the mapping's 'extra' columns"),
    (["postcode"], "personal column 'postcode' is not one of the mapping's 'extra' columns"),
    ("DrivAge", "'personal' must list extra columns"),
    ([None], "'personal' must list extra columns"),
])
def test_a_personal_column_outside_extra_is_refused(personal, message):
    with pytest.raises(MappingError) as err:
        parse_mapping({**BASE, "personal": personal})
    assert message in str(err.value)


@pytest.mark.parametrize("name, expected", [
    ("fremotor1", {"DrivAge", "DrivGender", "MaritalStatus", "JobCode"}),
    ("vehicle_fraud", {"Sex", "MaritalStatus", "Age", "AgeOfPolicyHolder"}),
    ("lgpif_peril", set()),
])
def test_shipped_mappings_name_their_personal_columns(name, expected):
    mapping = load_mapping(MAPPINGS / f"{name}.yaml")
    assert set(mapping.personal) == expected
    assert set(mapping.personal) <= set(mapping.extra)


def _stored_decision():
    raw = {"DrivGender": "F", "DrivAge": 37, "VehAge": 4, "claimed_amount": 1234.5, "Nickname": "Bobby Tables"}
    drivers = [{"feature": name, "contribution": c, "text": describe(name, kind, c, raw, [], "Motor – Theft")}
               for name, kind, c in (("DrivGender", "categorical", 0.31), ("DrivAge", "numeric", -0.12),
                                     ("VehAge", "numeric", 0.05))]
    shap_values = {"base": {"MOTOR_THEFT": 0.1}, "MOTOR_THEFT": {k: 0.1 for k in raw},
                   "terms": {"Nickname": [{"term": "bobby", "contribution": 0.2}]}}
    return raw, shap_values, drivers


def test_hidden_drivers_are_worded_again_with_the_value_masked():
    raw, shap_values, drivers = _stored_decision()
    hidden = {"DrivGender", "DrivAge", "Nickname"}
    features, shown_shap, shown = mask_decision(hidden, raw, shap_values, drivers, "Motor – Theft")

    assert features["DrivGender"] == MASK and features["DrivAge"] == MASK
    assert features["VehAge"] == raw["VehAge"] and features["claimed_amount"] == raw["claimed_amount"]
    texts = {d["feature"]: d["text"] for d in shown}
    assert texts["DrivGender"] == describe("DrivGender", "categorical", 0.31, {"DrivGender": MASK}, [],
                                           "Motor – Theft")
    assert MASK in texts["DrivAge"] and "37" not in texts["DrivAge"] and "toward Motor – Theft" in texts["DrivAge"]
    assert texts["VehAge"] == drivers[2]["text"]  # not personal: the stored words
    assert "Nickname" not in shown_shap["terms"]  # a hidden text column's words are its value
    # The stored objects are untouched.
    assert raw["DrivGender"] == "F" and "F" in drivers[0]["text"] and "Nickname" in shap_values["terms"]


def test_nothing_hidden_leaves_the_decision_as_stored():
    raw, shap_values, drivers = _stored_decision()
    assert mask_decision(frozenset(), raw, shap_values, drivers, "Motor – Theft") == (raw, shap_values, drivers)


def test_missing_values_stay_missing():
    assert mask_values({"DrivAge", "DrivGender"}, {"DrivAge": None, "DrivGender": ""}) == \
        {"DrivAge": None, "DrivGender": ""}
