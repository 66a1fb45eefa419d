"""How long a claim spent in a status, as its history says it."""
from __future__ import annotations


def test_history_durations_read_in_days_from_one_day_on():
    from services.workflow import _duration

    assert [_duration(s) for s in (59, 3_600 * 5 + 60 * 7, 3_600 * 23 + 60 * 59, 3_600 * 28 + 60 * 25,
                                   86_400 * 3)] == ["0 min", "5 h 7 min", "23 h 59 min", "1 d 4 h", "3 d"]
