"""Plain words for a job's cron schedule (UTC), e.g. "every 5 minutes" or
"hourly at :20". Pure: no Dash, no database, no scheduler.

Only the shapes the job registry uses (and a few near them) are put into words;
anything else gives None, and the caller shows the cron expression alone.
Weekdays are put into words only when named (``sun``, ``mon-fri``): the
scheduler (APScheduler 3) reads a weekday number as 0 = Monday, not cron's
0 = Sunday, so a number would be described wrongly by one of the two readings.
"""
from __future__ import annotations

import re

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = dict(zip(_DAYS, ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")))
_NUMBER = re.compile(r"\d{1,2}")


def _number(text: str, top: int) -> int | None:
    return int(text) if _NUMBER.fullmatch(text) and int(text) <= top else None


def _minutes(field: str) -> str | None:
    """Words for a minute field when the hour field is ``*``."""
    if field == "*":
        return "every minute"
    minute = _number(field, 59)
    if minute is not None:
        return f"hourly at :{minute:02d}"
    match = re.fullmatch(r"(\*|(\d{1,2})-(\d{1,2}))/(\d{1,2})", field)
    if not match:
        return None
    step = int(match[4])
    start, end = (0, 59) if match[1] == "*" else (int(match[2]), int(match[3]))
    # Evenly spaced across the hour boundary too: the step divides 60, the first
    # minute is within one step of :00, and the range runs to the hour's last slot.
    if not (0 < step <= 30 and 60 % step == 0 and start < step and start <= end <= 59 and end >= 60 - step + start):
        return None
    every = "every minute" if step == 1 else f"every {step} minutes"
    return every if start == 0 else f"{every} (at :{start:02d}, :{start + step:02d}, …)"


def _weekdays(field: str) -> str | None:
    field = field.lower()
    if field == "mon-fri":
        return "weekdays"
    days = field.split(",")
    if not all(d in _DAYS for d in days) or len(set(days)) != len(days):
        return None
    names = [_DAY_NAMES[d] for d in sorted(days, key=_DAYS.index)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def schedule_in_words(expression) -> str | None:
    """Plain English for a 5-field cron expression (UTC), or None for shapes not covered."""
    if not isinstance(expression, str):
        return None
    if expression.strip().lower() == "off":
        return "not scheduled"
    parts = expression.split()
    if len(parts) != 5:
        return None
    minute, hour, day, month, weekday = parts
    if day != "*" or month != "*":
        return None
    if hour == "*":
        return _minutes(minute) if weekday == "*" else None
    at_minute, at_hour = _number(minute, 59), _number(hour, 23)
    if at_minute is None or at_hour is None:
        return None
    time = f"{at_hour:02d}:{at_minute:02d} UTC"
    if weekday == "*":
        return f"daily at {time}"
    days = _weekdays(weekday)
    return f"{days} at {time}" if days else None

