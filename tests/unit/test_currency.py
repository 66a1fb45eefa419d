"""Amounts in the deployment's currency: symbol and decimals from Babel, English grouping."""
from __future__ import annotations

import pytest

from components.kpis import breakdown_columns, drill_columns, fmt
from config import ConfigError, Settings
from services import currency


@pytest.mark.parametrize("code, full, short, big", [
    ("USD", "$2,297.36", "$2,297", "$1.23M"),
    ("EUR", "€2,297.36", "€2,297", "€1.23M"),
    ("JPY", "¥2,297", "¥2,297", "¥1.23M"),  # no decimals on a yen amount; millions keep theirs
    ("CHF", "CHF\u00a02,297.36", "CHF\u00a02,297", "CHF\u00a01.23M"),  # a code as symbol is spaced, as Intl does
])
def test_amounts_take_the_currencys_symbol_and_decimals(code, full, short, big):
    assert currency.money(2297.36, code) == full
    assert fmt(2297.36, "money", code) == short and fmt(1_234_567, "money", code) == big


def test_negative_amounts_and_missing_ones():
    assert currency.money(-12.5, "EUR") == "−€12.50" and currency.money(None, "EUR") == "—"
    assert fmt(None, "money") == "—"


def test_money_without_a_currency_is_refused_not_shown_in_dollars():
    with pytest.raises(ValueError):
        fmt(5.0, "money")
    assert fmt(0.25, "pct") == "25.0%"  # other kinds need no currency


def test_table_headers_carry_the_symbol():
    assert ("reserve", "Reserve (€)", "money") in breakdown_columns("EUR")
    assert [h for _, h, kind in drill_columns("JPY") if kind == "money"] == ["Claimed (¥)", "Reserve (¥)", "Paid (¥)"]


def test_the_grid_formats_with_the_same_code_in_the_browser():
    assert currency.grid_formatter("JPY") == 'Money(params.value, "JPY")'  # assets/dashAgGridFunctions.js


def test_setting_defaults_to_usd_and_reads_the_environment(monkeypatch):
    monkeypatch.delenv("SCOPE_CURRENCY", raising=False)
    assert Settings.from_env().currency == "USD"
    monkeypatch.setenv("SCOPE_CURRENCY", " eur ")
    assert Settings.from_env().currency == "EUR"


@pytest.mark.parametrize("code", ["EURO", "XYZ", "$", "12"])
def test_an_unknown_code_is_a_config_error(monkeypatch, code):
    monkeypatch.setenv("SCOPE_CURRENCY", code)
    with pytest.raises(ConfigError, match="SCOPE_CURRENCY must be an ISO 4217 currency code"):
        Settings.from_env()


@pytest.mark.parametrize(("code", "amount", "error"), [
    ("USD", "1250.50", None), ("USD", "1250.505", "must have at most 2 decimals"),
    ("JPY", "125000", None), ("JPY", "125000.5", "must be a whole amount"),
    ("EUR", 99.99, None),
    ("BHD", "10.125", "must have at most 2 decimals"),  # the claims table keeps cents at most
])
def test_intake_amounts_take_the_currencys_decimals(code, amount, error):
    from services.intake import validate

    payload = {"policy_number": "PAU-1234567", "line_of_business": "auto", "loss_date": "2026-01-02",
               "description": "rear-ended at a light, bumper damage", "claimed_amount": amount, "state": "CA"}
    _, errors = validate(payload, currency=code)
    assert errors.get("claimed_amount") == error, errors
