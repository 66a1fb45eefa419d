"""The dashboard's KPI tooltips say what is counted, where another page shows a
figure of the same name computed differently (an executive compares them)."""
from __future__ import annotations

from components.kpis import CARDS

HELP = {c.key: c.help for c in CARDS}


def test_sla_breaches_help_separates_closed_breaches_from_open_claims_past_their_level():
    text = HELP["sla_breaches"]
    assert "closed in the period" in text
    # It used to send readers to Operations, which lists open claims past their level, not these.
    assert "Operations lists them" not in text
    assert "Open claims already past their level are not counted here" in text


def test_routing_accuracy_help_names_the_decision_it_scores_and_the_operations_difference():
    text = HELP["routing_accuracy"]
    # services.aggregates scores the latest decision's routed department (triage counts as
    # missed); services.operations the first decision's predicted department.
    assert "latest routing decision" in text and "triage counts as missed" in text
    assert "Operations page scores the first decision's predicted department instead ('Prediction accuracy')" \
        in text
