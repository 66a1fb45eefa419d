"""Messages count in words that agree with the number ("1 day after loss"), and an
empty note asks for the note as the SIU case page does."""
from __future__ import annotations

import pytest

from ml.explain import describe
from services.workflow import WorkflowError, add_note


@pytest.mark.parametrize("loss, report, words", [
    ("2026-12-05", "2026-12-06", "1 day after loss"),
    ("2026-12-01", "2026-12-06", "5 days after loss"),
    ("2026-12-06", "2026-12-06", "0 days after loss"),
    ("2026-12-07", "2026-12-06", "1 day before loss"),
])
def test_report_lag_agrees_with_its_number(loss, report, words):
    text = describe("report_date", "date", 0.3, {"loss_date": loss, "report_date": report}, [], "Property")
    assert text == f"report date {report}, {words} (+0.3 toward Property)"


@pytest.mark.parametrize("blank", ["", "   \n", None])
def test_an_empty_note_asks_for_the_note(blank):
    # Checked before the claim is looked up: no session is needed.
    with pytest.raises(WorkflowError, match=r"^Write the note\.$"):
        add_note(None, None, "CLM-1", blank)


@pytest.mark.parametrize("tampered", [5, ["a"], {"a": 1}])
def test_a_note_that_is_not_text_is_refused_as_such(tampered):
    with pytest.raises(WorkflowError, match=r"^The note must be text\.$"):
        add_note(None, None, "CLM-1", tampered)

