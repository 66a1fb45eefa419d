"""What the audit page says about a chain check asked for, under way, or that did not finish."""
from __future__ import annotations

import datetime as dt
import json

from components.audit_log import verify_activity, verify_busy

AT = dt.datetime(2026, 12, 7, 12, 3, tzinfo=dt.UTC)


def _text(component) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda c: c.to_plotly_json())


def test_a_check_under_way_shows_who_started_it_and_how_far_it_is():
    shown = _text(verify_activity({"state": "running", "by": "admin@scope.example", "at": AT,
                                   "progress": {"done": 1_250_000, "total": 4_700_000}}))
    assert "started 12:03 UTC by admin@scope.example" in shown
    assert "1,250,000 of 4,700,000 entries checked (27%)" in shown
    nightly = _text(verify_activity({"state": "running", "by": "scheduler", "at": AT, "progress": None}))
    assert "as the nightly check" in nightly and "entries checked" not in nightly


def test_only_a_check_waiting_or_under_way_keeps_the_page_asking():
    assert [verify_busy({"state": s}) for s in ("running", "waiting", "late", "lapsed", "idle")] == \
        [True, True, True, False, False]


def test_a_check_that_did_not_finish_says_why_but_a_broken_chain_is_left_to_the_result():
    failed = verify_activity({"state": "idle", "ended": {"status": "failed", "error": "OperationalError: gone",
                                                         "at": AT, "by": "admin@scope.example"}})
    assert "did not finish: OperationalError: gone" in _text(failed)
    broken = {"status": "failed", "error": "BROKEN at row id 7 (seq 3): ...", "at": AT, "by": "a@scope.example"}
    assert verify_activity({"state": "idle", "ended": broken}) is None
    assert verify_activity({"state": "idle", "ended": {"status": "succeeded", "error": None}}) is None
