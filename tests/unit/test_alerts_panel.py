"""The open-alerts panel with no open alert says whether anything was checked."""
from __future__ import annotations

import datetime as dt
import json

from plotly.utils import PlotlyJSONEncoder

from components.alerts import open_alerts


def _text(component) -> str:
    return json.dumps(component.to_plotly_json(), cls=PlotlyJSONEncoder, ensure_ascii=False)


def test_nothing_checked_yet_is_not_all_clear():
    body = _text(open_alerts([], True))
    assert "Not checked yet" in body and "No rule is breached" not in body and "✓" not in body


def test_checked_and_clear_says_when():
    at = dt.datetime(2026, 12, 7, 10, 35, tzinfo=dt.timezone.utc)
    body = _text(open_alerts([], True, checked_at=at))
    assert "No rule is breached (checked 2026-12-07 10:35 UTC)." in body and "✓" in body


def test_no_enabled_rule_watches_nothing():
    body = _text(open_alerts([], True, checked_at=dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc), enabled=0))
    assert "No rule is enabled" in body and "No rule is breached" not in body
