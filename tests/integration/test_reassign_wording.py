"""The Reassign board's status line counts in words that agree with the number ("1 open claim")."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("pasted, found, total, message", [
    ("CLM-1", 1, 1, "1 open claim from the pasted numbers."),
    ("CLM-1 CLM-2 CLM-3 CLM-4", 1, 1,
     "1 open claim from the pasted numbers (3 not found, closed or not visible: CLM-2, CLM-3, CLM-4)."),
    ("CLM-1 CLM-2", 2, 2, "2 open claims from the pasted numbers."),
    (None, 1, 1, "1 open claim."),
    (None, 0, 0, "0 open claims."),
    (None, 2, 5, "5 open claims — showing the newest 2; narrow with status or line."),
])
def test_the_reassign_board_counts_in_agreeing_words(web_app, monkeypatch, pasted, found, total, message):
    import callbacks.reassign as reassign   # after the app: the callbacks package imports the pages

    monkeypatch.setattr(reassign, "read_session", lambda: None)
    monkeypatch.setattr(reassign, "user_or_none", lambda: None)
    monkeypatch.setattr(reassign, "board_rows", lambda *a, **k: ([{"id": i, "claim_number": f"CLM-{i + 1}"} for i in range(found)], total))
    rows, status, loaded = reassign.load.__wrapped__(1, None if pasted else "PROPERTY", None, None, pasted)
    assert len(rows) == found and status == message
    # what a move lists again: the filters of this load
    assert loaded["claim_numbers"] == (pasted.split() if pasted else None)
    assert loaded["department_code"] == (None if pasted else "PROPERTY")


def test_the_board_keeps_its_own_hint_until_load_is_pressed(web_app):
    """The load callback also runs as the page is drawn (Workload's links open it with an
    adjuster chosen): with nothing chosen it leaves the page's hint alone."""
    from dash import no_update

    import callbacks.reassign as reassign

    assert reassign.load.__wrapped__(None, None, None, None, None) == (no_update, no_update, no_update)
    rows, status, loaded = reassign.load.__wrapped__(1, None, None, None, None)
    assert rows == [] and status == "Choose a department or an adjuster, or paste claim numbers first."
    assert loaded is None  # nothing listed: a move has nothing to list again
