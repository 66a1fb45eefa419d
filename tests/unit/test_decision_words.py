"""The routing decision on the claim page (and after New claim) reads in a claims
person's words: the method's and the chart's technical names stayed on screen."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from components.decision import decision_panel, similar_body

JARGON = ("SHAP", "log-odds", "Saabas", "boosting", "leaf")
DEPTS = {"AUTO_PD": SimpleNamespace(name="Auto Physical Damage", color="#0072B2"),
         "TRIAGE": SimpleNamespace(name="Triage", color="#6c757d")}


def _on_screen(component) -> str:
    """Everything the page shows: texts and figure titles, not tooltips (title=)."""
    data = json.loads(json.dumps(component.to_plotly_json(), default=lambda o: o.to_plotly_json()))

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "title" and isinstance(value, str) and "props" not in node:
                    continue  # an HTML title attribute: the tooltip may name the method
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)
        elif isinstance(node, str):
            yield node
    return " ".join(walk(data))


@pytest.mark.parametrize("method", ["exact", "approx"])
def test_decision_panel_has_no_model_jargon(method):
    decision = SimpleNamespace(
        routed="AUTO_PD", predicted="AUTO_PD", confidence=0.93, threshold=0.5, shap_method=method,
        model_version="synthetic-1", decided_at_text="2026-12-07 00:19 UTC",
        drivers=[{"text": "description mentions 'bumper' (+3.5 toward Auto Physical Damage)"}],
        shap_values={"AUTO_PD": {"description": 3.5, "claimed_amount": -0.2}, "base": {"AUTO_PD": 0.6}},
        features={"claimed_amount": 4200.0}, probabilities={"AUTO_PD": 0.93, "TRIAGE": 0.07})
    text = _on_screen(decision_panel(decision, DEPTS))
    assert "What pushed it toward Auto Physical Damage" in text and "Model score" in text
    found = [w for w in JARGON if w.lower() in text.lower()]
    assert not found, found


def test_similar_claims_explanation_has_no_model_jargon():
    text = _on_screen(similar_body({"items": [{"claim_number": "SYN-1", "similarity": 0.61, "department": "Auto",
                                               "color": "#000", "description": "rear-ended"}]}))
    assert "61% alike" in text
    found = [w for w in JARGON if w.lower() in text.lower()]
    assert not found, found


def test_a_triaged_claim_just_under_the_threshold_never_reads_as_meeting_it():
    """0.49985 was shown as "with 50.0% confidence", next to "below the 50% confidence
    threshold, so a person routes it from Triage"."""
    decision = SimpleNamespace(
        routed="TRIAGE", predicted="AUTO_PD", confidence=0.49985, threshold=0.5, shap_method="exact",
        model_version="synthetic-1", decided_at_text="2026-12-07 00:19 UTC", drivers=[],
        shap_values={"AUTO_PD": {"description": 0.1}, "base": {"AUTO_PD": 0.0}}, features={},
        probabilities={"AUTO_PD": 0.49985, "TRIAGE": 0.50015 - 0.0003})
    text = _on_screen(decision_panel(decision, DEPTS))
    assert "with 49.9% confidence" in text and "below the 50% confidence threshold" in text
    assert "50.0%" not in text


def test_waterfall_labels_say_yes_or_no_for_yes_no_facts():
    from components.decision import waterfall_steps

    _, steps = waterfall_steps({"AUTO_PD": {"injury_reported": 0.07, "police_report": -0.1, "state": 0.02},
                                "base": {"AUTO_PD": 0.5}},
                               {"injury_reported": "false", "police_report": True, "state": "CA"}, "AUTO_PD")
    labels = {label for label, _ in steps}
    assert labels == {"Injury reported = no", "Police report = yes", "State = CA"}


def test_waterfall_labels_keep_the_cents_of_amounts_only():
    from components.decision import waterfall_steps

    _, steps = waterfall_steps({"AUTO_PD": {"claimed_amount": 0.08, "reserve_amount": 0.01, "vehicle_age": 0.02},
                                "base": {"AUTO_PD": 0.5}},
                               {"claimed_amount": 5868.6, "reserve_amount": 1200, "vehicle_age": 4.5}, "AUTO_PD")
    assert {label for label, _ in steps} == {"Claimed amount = 5,868.60", "Reserve amount = 1,200.00",
                                             "Vehicle age = 4.5"}
    # In the deployment's currency, as the claim facts show it.
    _, steps = waterfall_steps({"AUTO_PD": {"claimed_amount": 0.08}, "base": {"AUTO_PD": 0.5}},
                               {"claimed_amount": 5868.6}, "AUTO_PD", "USD")
    assert steps == [("Claimed amount = $5,868.60", 0.08)]


def test_waterfall_says_a_fact_was_not_given_as_the_words_do():
    from components.decision import waterfall_steps

    _, steps = waterfall_steps({"AUTO_PD": {"reported_via": 0.1, "vehicle_count": -0.2}, "base": {"AUTO_PD": 0.5}},
                               {"reported_via": None, "vehicle_count": ""}, "AUTO_PD")
    assert {label for label, _ in steps} == {"Reported via = not given", "Vehicle count = not given"}


def test_waterfall_leaves_room_left_of_a_negative_start_for_its_value():
    """'-0.63' is written left of the base bar; with too little room it ran into the
    'Average claim' label."""
    from components.charts import shap_waterfall

    fig = shap_waterfall(-0.63, [("Prior claims 3y = 3", 1.65), ("Report date", 1.21), ("State = CO", -0.16)])
    lo, hi = fig.layout.xaxis.range
    assert -0.63 - lo >= 0.24 * (hi - lo)  # a quarter of the shown width for the text (was a fifth)
    assert fig.layout.yaxis.ticklabelstandoff >= 8


def test_reasons_in_words_give_amounts_in_the_deployments_currency():
    """Stored as "claimed amount 3,349": the page words it as the facts and the waterfall do."""
    decision = SimpleNamespace(
        routed="AUTO_PD", predicted="AUTO_PD", confidence=0.93, threshold=0.5, shap_method="exact",
        model_version="synthetic-1", decided_at_text="2026-12-07 00:19 UTC",
        drivers=[{"text": "claimed amount 3,349 (+0.6 toward Auto Physical Damage)", "feature": "claimed_amount",
                  "contribution": 0.6123},
                 {"text": "reserve amount not given (−0.2 toward Auto Physical Damage)", "feature": "reserve_amount",
                  "contribution": -0.2},
                 {"text": "description mentions 'bumper' (+3.5 toward Auto Physical Damage)", "feature": "description",
                  "contribution": 3.5}],
        shap_values={"AUTO_PD": {"description": 3.5, "claimed_amount": 0.6}, "base": {"AUTO_PD": 0.6}},
        features={"claimed_amount": 3348.9, "reserve_amount": None, "description": "rear bumper"},
        probabilities={"AUTO_PD": 0.93, "TRIAGE": 0.07})
    reasons = _on_screen(decision_panel(decision, DEPTS, "EUR").children[0])
    assert "claimed amount €3,348.90 (+0.6 toward Auto Physical Damage)" in reasons
    assert "reserve amount not given (−0.2 toward Auto Physical Damage)" in reasons
    assert "description mentions 'bumper'" in reasons and "3,349" not in reasons
    # Without a currency (a caller that does not know it) the stored words stay.
    assert "claimed amount 3,349 (+0.6" in _on_screen(decision_panel(decision, DEPTS).children[0])
