"""Value parsers for imported legacy data.

Every parser takes the raw (already trimmed) string and returns a Python value
or raises ``CleaningError`` with a reason a user can act on; the importer turns
those reasons into reject-report lines.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from services.mappings import ColumnRule

TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y"})
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n"})

# Words that commonly stand for zero in banded survey-style columns.
DEFAULT_BAND_WORDS = {"none": 0.0, "zero": 0.0, "no": 0.0}

_NUMBER = r"([-+]?\d+(?:\.\d+)?)"
_UNITS = r"(?:\s+[a-z]+)?"  # "3 years", "2 vehicles": the unit word is dropped
_RANGE = re.compile(rf"^{_NUMBER}\s*(?:to|-|–)\s*{_NUMBER}{_UNITS}$")
_ABOVE = re.compile(rf"^(?:more than|over|above|greater than|>)\s*{_NUMBER}{_UNITS}$")
_BELOW = re.compile(rf"^(?:less than|under|below|<)\s*{_NUMBER}{_UNITS}$")
_PLAIN = re.compile(rf"^{_NUMBER}{_UNITS}$")

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_name) if name})
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_abbr)}
_WEEKDAYS.update({name.lower(): i for i, name in enumerate(calendar.day_name)})


_MAX_EXPONENT = 300


class CleaningError(ValueError):
    """A value that cannot be used; the message is the reject reason."""


def squash(value: str) -> str:
    """Trim and collapse inner runs of whitespace (legacy exports pad fields)."""
    return " ".join(value.split())


def parse_decimal(value: str) -> Decimal:
    try:
        number = Decimal(value.replace(",", ""))
    except InvalidOperation:
        raise CleaningError(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise CleaningError(f"not a finite number: {value!r}")
    # 1e999999999 is a valid Decimal, but as an int it takes minutes to build and as a
    # float it is infinity: no legacy column holds numbers anywhere near this size.
    if number and number.adjusted() > _MAX_EXPONENT:
        raise CleaningError(f"number too large: {value[:40]!r}")
    return number


def parse_float(value: str) -> float:
    return float(parse_decimal(value))


def parse_int(value: str) -> int:
    """Whole numbers; "31.0" is accepted because many exports write ints as floats."""
    number = parse_decimal(value)
    if number != number.to_integral_value():
        raise CleaningError(f"not a whole number: {value!r}")
    return int(number)


def parse_bool(value: str) -> bool:
    word = value.casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CleaningError(f"not a yes/no value: {value!r}")


def parse_date(value: str, formats: tuple[str, ...]) -> dt.date:
    for fmt in formats:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise CleaningError(f"not a date in format {' or '.join(formats)}: {value!r}")


def parse_band(value: str, words: dict[str, float] | None = None, step: float = 1.0) -> float:
    """Turn a banded label into one number that keeps the bands' order.

    "31 to 35" -> 33 (midpoint); "more than 30" / "over 30" -> 30 + step;
    "less than 20000" / "under 20000" -> 20000 - step; "3 years" -> 3;
    named bands ("none", "new", "no change") come from ``words`` (plus "none" -> 0).
    Open bands sit one step outside their bound so they never collide with a
    neighbouring closed band ("more than 7" vs "7 years").
    """
    label = squash(value).casefold()
    table = {**DEFAULT_BAND_WORDS, **{k.casefold(): float(v) for k, v in (words or {}).items()}}
    if label in table:
        return table[label]
    if m := _RANGE.match(label):
        low, high = float(m.group(1)), float(m.group(2))
        if low > high:
            raise CleaningError(f"band runs backwards: {value!r}")
        return (low + high) / 2
    if m := _ABOVE.match(label):
        return float(m.group(1)) + step
    if m := _BELOW.match(label):
        return float(m.group(1)) - step
    if m := _PLAIN.match(label):
        return float(m.group(1))
    raise CleaningError(f"not a recognised band: {value!r}")


def month_number(value: str) -> int:
    word = squash(value).casefold()
    if word in _MONTHS:
        return _MONTHS[word]
    if word.isdigit() and 1 <= int(word) <= 12:
        return int(word)
    raise CleaningError(f"not a month: {value!r}")


def weekday_number(value: str) -> int:
    """Monday = 0, as in ``datetime.date.weekday``."""
    word = squash(value).casefold()
    if word in _WEEKDAYS:
        return _WEEKDAYS[word]
    raise CleaningError(f"not a day of the week: {value!r}")


def date_from_parts(year: int, month: int, week_of_month: int, weekday: int) -> dt.date:
    """An approximate calendar date from "the Nth week's Tuesday of March 1994".

    Week N is taken as days 7(N-1)+1 .. 7N of the month; the date is the day in
    that span with the given weekday. A 5th week that runs past the month end
    falls back to the last such weekday in the month. Sources that record only
    these parts never say which convention they used, so the result can be a
    few days off; it is good enough to order claims in time.
    """
    if not 1 <= week_of_month <= 5:
        raise CleaningError(f"week of month must be 1-5, got {week_of_month}")
    start = dt.date(year, month, 1) + dt.timedelta(days=7 * (week_of_month - 1))
    day = start + dt.timedelta(days=(weekday - start.weekday()) % 7)
    while day.month != month:
        day -= dt.timedelta(days=7)
    return day


class ColumnCleaner:
    """Normalise and parse one source column's values according to its rule."""

    def __init__(self, rule: ColumnRule):
        self.rule = rule
        self.missing = {m.casefold() for m in rule.missing}
        self.synonyms = {k.casefold(): v for k, v in rule.synonyms.items()}
        self.allowed = {a.casefold(): a for a in rule.allowed}

    def __call__(self, raw: str) -> Any:
        rule = self.rule
        text = squash(raw)
        if text.casefold() in self.missing:
            text = ""
        if not text:
            if rule.required:
                raise CleaningError("required value is missing")
            return None
        text = self.synonyms.get(text.casefold(), text)
        if self.allowed:
            if text.casefold() not in self.allowed:
                shown = ", ".join(rule.allowed[:12]) + (", ..." if len(rule.allowed) > 12 else "")
                raise CleaningError(f"{text!r} is not an allowed value ({shown})")
            text = self.allowed[text.casefold()]
        elif rule.case:
            text = getattr(text, rule.case)()
        value = self._parse(text)
        if rule.min is not None and value < rule.min:
            raise CleaningError(f"{value} is below the minimum {rule.min}")
        if rule.max is not None and value > rule.max:
            raise CleaningError(f"{value} is above the maximum {rule.max}")
        return value

    def _parse(self, text: str) -> Any:
        kind = self.rule.type
        if kind == "int":
            return parse_int(text)
        if kind == "float":
            return parse_float(text)
        if kind == "decimal":
            return parse_decimal(text)
        if kind == "date":
            return parse_date(text, self.rule.formats)
        if kind == "bool":
            return parse_bool(text)
        if kind == "banded":
            return parse_band(text, self.rule.bands, self.rule.band_step)
        return text
