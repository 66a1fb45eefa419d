"""An imported dataset's personal extra columns (mapping key ``personal``): masked for a viewer
(no Perm.VIEW_PERSONAL_DATA) wherever a claim's facts or its stored routing decision reach
them (claim facts, decision features, reasons in words, waterfall, the claim page, the REST
API), shown unchanged to adjusters and managers."""
from __future__ import annotations

import csv
import itertools
import json
import re
import uuid

import pytest
import yaml
from sqlalchemy import select

from components.decision import decision_panel, reason_text, waterfall_steps
from components.kpis import breakdown_columns, drill_columns
from db.models import Claim, Dataset, Department, ModelVersion, RoutingDecision
from ml.explain import describe
from services.claims import get_claim_view
from services.imports import ImportFailed, import_csv
from services.mappings import parse_mapping
from services.privacy import MASK
from tests.partyutil import make_user
from tests.webutil import render_page

_seq = itertools.count(1)
DEPT = "AUTO_PD"
# Values no other test data or page text contains, so finding one means it leaked.
ROWS = [
    {"Ref": "A1", "Amount": "1200.50", "Cover": "Glass", "DrivAge": "73", "DrivGender": "Femalequx",
     "MaritalStatus": "Widowedqux", "JobCode": "JOBQ-7731", "VehAge": "4"},
    {"Ref": "A2", "Amount": "88.00", "Cover": "Glass", "DrivAge": "29", "DrivGender": "Malequx",
     "MaritalStatus": "Singlequx", "JobCode": "JOBQ-1208", "VehAge": "11"},
]
PERSONAL = ["DrivAge", "DrivGender", "MaritalStatus", "JobCode"]


def _appears(value: str, text: str) -> bool:
    """Whether a raw value is shown as a value of its own: an age of 73 must not count as
    shown because a model version's hex ("…06f73c") or a probability ("73%") holds it."""
    return re.search(rf"(?<![\w.,]){re.escape(value)}(?![\w.,%])", text) is not None


def mapping_dict(prefix: str, personal: list[str] | None) -> dict:
    data = {
        "name": "personaltest", "claim_number_prefix": prefix,
        "columns": {"claim_number": "Ref", "claimed_amount": "Amount"},
        "constants": {"line_of_business": "auto"},
        "target": {"column": "Cover", "values": {"Glass": DEPT}},
        "extra": ["DrivAge", "DrivGender", "MaritalStatus", "JobCode", "VehAge"],
        "validate": {"Amount": {"type": "decimal", "min": 0}, "DrivAge": {"type": "int"},
                     "VehAge": {"type": "int"}},
        "features": [{"name": "claimed_amount", "kind": "numeric"}, {"name": "DrivAge", "kind": "numeric"},
                     {"name": "DrivGender", "kind": "categorical"},
                     {"name": "MaritalStatus", "kind": "categorical"},
                     {"name": "JobCode", "kind": "categorical"}, {"name": "VehAge", "kind": "numeric"}],
    }
    if personal is not None:
        data["personal"] = personal
    return data


def write_inputs(tmp_path, prefix: str, personal: list[str] | None, name: str = "m.yaml"):
    csv_path = tmp_path / "claims.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)
    mapping_path = tmp_path / name
    mapping_path.write_text(yaml.safe_dump(mapping_dict(prefix, personal)))
    return csv_path, mapping_path


def add_decision(session, claim: Claim, model_version_id: int | None = None) -> RoutingDecision:
    """A decision stored the way routing stores one: the raw features, their contributions and
    the drivers worded from the raw values by ml.explain.describe."""
    dept = session.scalar(select(Department).where(Department.code == DEPT))
    spec = {f["name"]: f["kind"] for f in session.get(Dataset, claim.dataset).feature_spec}
    features = {"claimed_amount": float(claim.claimed_amount), **{k: claim.extra.get(k) for k in spec
                                                                    if k != "claimed_amount"}}
    contributions = {name: round(0.9 - 0.13 * i, 4) for i, name in enumerate(spec)}
    if model_version_id is None:
        mv = ModelVersion(dataset=claim.dataset, version=f"personal-{next(_seq)}-{claim.id}", status="candidate",
                          params={}, feature_schema={}, classes=[DEPT], metrics={}, n_train=0, n_holdout=0,
                          artifact=b"")
        session.add(mv)
        session.flush()
        model_version_id = mv.id
    drivers = [{"feature": n, "contribution": c, "text": describe(n, spec[n], c, features, [], dept.name)}
               for n, c in contributions.items()]
    decision = RoutingDecision(
        claim_id=claim.id, model_version_id=model_version_id, predicted_department_id=dept.id, routed_department_id=dept.id,
        probabilities={DEPT: 0.9}, confidence=0.9, threshold=0.5, features=features,
        shap_values={"base": {DEPT: 0.2}, DEPT: contributions}, shap_method="exact", drivers=drivers)
    session.add(decision)
    session.flush()
    return decision


def raw_values(claim: Claim) -> list[str]:
    return [str(claim.extra[c]) for c in PERSONAL]


def shown_text(view) -> str:
    """Everything the view puts in front of a person: facts, reasons in words, waterfall labels."""
    d = view.decision
    reasons = [reason_text(x, d.features, "Auto", "USD") for x in d.drivers]
    _, steps = waterfall_steps(d.shap_values, d.features, d.predicted, "USD")
    return json.dumps({"facts": view.facts, "reasons": reasons, "steps": steps, "features": d.features,
                       "drivers": d.drivers}, ensure_ascii=False, default=str)


@pytest.fixture()
def imported(db_session, tmp_path):
    prefix = f"PRS{next(_seq)}-"
    csv_path, mapping_path = write_inputs(tmp_path, prefix, PERSONAL)
    summary = import_csv(db_session, csv_path, mapping_path, "personaltest", tmp_path / "reports", route=False)
    assert summary["imported"] == len(ROWS)
    claim = db_session.scalar(select(Claim).where(Claim.claim_number == prefix + "A1"))
    add_decision(db_session, claim)
    return claim


def test_an_unknown_personal_column_fails_the_import_before_anything_is_stored(db_session, tmp_path):
    prefix = f"PRS{next(_seq)}-"
    csv_path, mapping_path = write_inputs(tmp_path, prefix, ["DrivAge", "DriverSex"])
    with pytest.raises(ImportFailed, match="personal column 'DriverSex' is not one of the mapping's 'extra'"):
        import_csv(db_session, csv_path, mapping_path, "personaltest", tmp_path / "reports", route=False)
    assert db_session.scalar(select(Claim.id).where(Claim.claim_number.startswith(prefix))) is None


def test_the_import_flags_personal_columns_in_the_dataset_spec(db_session, imported):
    spec = db_session.get(Dataset, "personaltest").feature_spec
    assert {f["name"] for f in spec if f.get("personal")} == set(PERSONAL)
    assert db_session.get(Dataset, "personaltest").mapping["personal"] == PERSONAL


def test_a_viewer_sees_personal_extras_masked_everywhere_on_the_claim(db_session, imported):
    viewer = make_user(db_session, "viewer")
    view = get_claim_view(db_session, viewer, imported.claim_number)
    text = shown_text(view)
    for value in raw_values(imported):
        assert not _appears(value, text), value
    facts = dict(view.facts)
    assert facts["DrivGender"] == MASK and facts["JobCode"] == MASK and facts["DrivAge"] == MASK
    assert facts["VehAge"] == imported.extra["VehAge"]  # not personal: unchanged
    assert view.decision.features["VehAge"] == imported.extra["VehAge"]
    # The waterfall names the factor and masks its value; the reason keeps its contribution.
    _, steps = waterfall_steps(view.decision.shap_values, view.decision.features, view.decision.predicted)
    assert any(label.endswith(f"= {MASK}") and label.lower().startswith("drivgender") for label, _ in steps)
    reasons = {d["feature"]: d["text"] for d in view.decision.drivers}
    stored = {d["feature"]: d["text"] for d in db_session.scalar(
        select(RoutingDecision.drivers).where(RoutingDecision.claim_id == imported.id))}
    assert MASK in reasons["DrivGender"] and reasons["DrivGender"] != stored["DrivGender"]
    assert reasons["DrivGender"].endswith(stored["DrivGender"].rsplit(" (", 1)[1])  # "(+0.8 toward ...)"
    assert reasons["VehAge"] == stored["VehAge"]
    # The panel the claim page draws from this view.
    panel = json.dumps(decision_panel(view.decision, view.departments, "USD").to_plotly_json(),
                       default=lambda o: o.to_plotly_json(), ensure_ascii=False)
    for value in raw_values(imported):
        assert not _appears(value, panel), value


@pytest.mark.parametrize("role", ["adjuster", "manager"])
def test_adjusters_and_managers_see_personal_extras_as_stored(db_session, imported, role):
    user = make_user(db_session, role, (DEPT,) if role == "adjuster" else ())
    view = get_claim_view(db_session, user, imported.claim_number)
    text = shown_text(view)
    for value in raw_values(imported):
        assert value in text, value
    assert MASK not in text
    stored = db_session.scalar(select(RoutingDecision).where(RoutingDecision.claim_id == imported.id))
    assert view.decision.drivers == stored.drivers and view.decision.features == stored.features


def test_marking_a_column_personal_applies_to_claims_already_imported(db_session, tmp_path):
    prefix = f"PRS{next(_seq)}-"
    csv_path, plain = write_inputs(tmp_path, prefix, None, "plain.yaml")
    import_csv(db_session, csv_path, plain, "personaltest", tmp_path / "reports", route=False)
    claim = db_session.scalar(select(Claim).where(Claim.claim_number == prefix + "A1"))
    viewer = make_user(db_session, "viewer")
    assert dict(get_claim_view(db_session, viewer, claim.claim_number).facts)["JobCode"] == claim.extra["JobCode"]

    _, marked = write_inputs(tmp_path, prefix, ["JobCode"], "marked.yaml")
    again = import_csv(db_session, csv_path, marked, "personaltest", tmp_path / "reports", route=False)
    assert again["imported"] == 0  # nothing new: the claims are the ones imported before
    facts = dict(get_claim_view(db_session, viewer, claim.claim_number).facts)
    assert facts["JobCode"] == MASK and facts["DrivGender"] == claim.extra["DrivGender"]


def test_exports_carry_no_extra_columns():
    # Dashboard exports (the only claim exports) list claims' own columns: no extra column can leak there.
    keys = {k for k, _, _ in drill_columns("USD")} | {k for k, _, _ in breakdown_columns("USD")}
    assert not keys & set(mapping_dict("X-", PERSONAL)["extra"])


# --- the web app and the REST API (the web test database) ---------------------------------

@pytest.fixture(scope="module")
def web_claim(web_app):
    """A closed claim of a dataset with personal extras, with a stored decision, in the web
    database. Decisions are append-only, so it stays; it is closed, in a dataset of its own, and
    decided by the existing champion, so no queue, model list or retraining meets it."""
    from db.flask_db import unit_of_work

    tag = next(_seq)
    number = f"PRSWEB{tag}-A1"
    spec = parse_mapping(mapping_dict("PRSWEB-", PERSONAL)).feature_spec()
    with web_app.server.app_context(), unit_of_work() as session:
        session.add(Dataset(name=f"personalweb{tag}", feature_spec=spec, mapping={"personal": PERSONAL}))
        session.flush()
        dept_id = session.scalar(select(Department.id).where(Department.code == DEPT))
        champion = session.scalar(select(ModelVersion.id).where(ModelVersion.status == "champion").limit(1))
        row = ROWS[0]
        claim = Claim(claim_number=number, dataset=f"personalweb{tag}", source_key=f"web-{tag}", status="closed",
                      department_id=dept_id, claimed_amount=float(row["Amount"]), line_of_business="auto",
                      extra={"DrivAge": int(row["DrivAge"]), "DrivGender": row["DrivGender"],
                             "MaritalStatus": row["MaritalStatus"], "JobCode": row["JobCode"],
                             "VehAge": int(row["VehAge"])})
        session.add(claim)
        session.flush()
        decision = add_decision(session, claim, champion)
        stored = {"extra": dict(claim.extra), "drivers": [d["text"] for d in decision.drivers]}
    return number, stored


def _page(client, number) -> str:
    status, body = render_page(client, f"/claims/{number}")
    assert status == 200
    return json.dumps(json.loads(body), ensure_ascii=False)


def test_claim_page_masks_personal_extras_for_a_viewer_only(web_claim, client_for):
    number, stored = web_claim
    raw = [str(stored["extra"][c]) for c in PERSONAL]
    viewer = _page(client_for("viewer"), number)
    assert "Circumstances" in viewer and MASK in viewer
    for value in raw + stored["drivers"][:4]:
        assert not _appears(value, viewer), value
    manager = _page(client_for("manager"), number)
    for value in raw:
        assert value in manager, value
    assert any(text in manager for text in stored["drivers"])


def test_api_masks_personal_driver_reasons_for_a_viewer_only(web_app, web_claim):
    from tests.integration.test_api import auth, make_token

    number, stored = web_claim
    client = web_app.server.test_client()
    viewer = client.get(f"/api/v1/claims/{number}",
                        headers=auth(make_token(web_app, "viewer@scope.example", ["claims:read"])))
    assert viewer.status_code == 200, viewer.get_json()
    body = json.dumps(viewer.get_json(), ensure_ascii=False)
    for value in [str(stored["extra"][c]) for c in PERSONAL]:
        assert not _appears(value, body), value
    drivers = viewer.get_json()["decision"]["drivers"]
    assert len(drivers) == len(stored["drivers"]) and any(MASK in d for d in drivers)
    manager = client.get(f"/api/v1/claims/{number}",
                         headers=auth(make_token(web_app, "manager@scope.example", ["claims:read"])))
    assert manager.get_json()["decision"]["drivers"] == stored["drivers"]


def test_the_counterfactual_masks_hidden_features_only(web_app, monkeypatch):
    from db.flask_db import read_session
    from ml.counterfactual import Change, Counterfactual
    from services import counterfactual as service

    found = Counterfactual(found=True, source="AUTO_PD", target="AUTO_GLASS", probability=0.61, candidates=9,
                           changes=[Change("DrivGender", "categorical", "Femalequx", "Malequx", 1.0),
                                    Change("VehAge", "numeric", 4.0, 9.0, 1.0)])
    monkeypatch.setattr(service, "compute", lambda session, model, claim: (found, {}))
    # Earlier tests may have cached this claim's real answer: keys of this test's own, still
    # cached (and so still told apart by what is hidden).
    salt, make_key = uuid.uuid4().hex, service.make_key
    monkeypatch.setattr(service, "make_key", lambda *parts: make_key(*parts, salt))
    with web_app.server.app_context():
        session = read_session()
        claim = session.scalar(select(Claim).where(Claim.dataset == "synthetic").limit(1))
        masked = service.claim_counterfactual(session, claim, decision_id=None, hidden=frozenset({"DrivGender"}))
        plain = service.claim_counterfactual(session, claim, decision_id=None)
        session.close()
    assert "Femalequx" not in json.dumps(masked) and "Malequx" not in json.dumps(masked) and MASK in masked["text"]
    assert masked["changes"][1] == plain["changes"][1]  # not hidden: unchanged
    # Cached apart: the unmasked answer is not served to a user who may not see it, nor the reverse.
    assert "Femalequx" in plain["text"] and "Malequx" in plain["text"]
