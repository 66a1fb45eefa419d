"""Amounts in the deployment's reporting currency (SCOPE_CURRENCY, an ISO 4217 code).

Pure functions (no session, no Flask): pages, components, exports and alerts
all format money here, given the code, so one deployment shows one currency.
Symbols and decimals come from Babel's CLDR data (JPY has no decimals, BHD
three); grouping stays English (1,234,567.89) whatever the currency.
"""
from __future__ import annotations

import json

from babel.numbers import format_currency, get_currency_precision, get_currency_symbol, is_currency

LOCALE = "en_US"
DEFAULT = "USD"
MINUS = "−"  # a typographic minus: a hyphen before a symbol ("-€12") reads as a dash


def valid(code: str) -> bool:
    """An ISO 4217 code Babel knows, written as the standard writes it (upper case)."""
    return isinstance(code, str) and len(code) == 3 and code.isupper() and is_currency(code, LOCALE)


def decimals(code: str) -> int:
    return get_currency_precision(code)


def symbol(code: str) -> str:
    """"$", "€", "¥"; a currency without a symbol of its own in English keeps its code ("CHF")."""
    return get_currency_symbol(code, LOCALE)


def money(value, code: str) -> str:
    """An amount to the currency's own decimals: "$2,297.36", "€2,297.36", "¥2,297"."""
    if value is None:
        return "—"
    return _format(float(value), code, "#,##0.00", currency_digits=True)


def money_short(value, code: str) -> str:
    """A total on a card: whole units, millions with two decimals ("€1.23M", "¥48,200")."""
    value = float(value)
    if abs(value) >= 1e6:
        # the pattern's decimals, not the currency's: millions of yen have decimals
        return _format(value / 1e6, code, "#,##0.00", currency_digits=False) + "M"
    return _format(value, code, "#,##0", currency_digits=False)


def _format(value: float, code: str, number: str, *, currency_digits: bool) -> str:
    # A symbol that is letters ("CHF") gets a no-break space, as browsers' Intl writes it ("CHF 12.00").
    sign = "¤\u00a0" if symbol(code)[-1:].isalpha() else "¤"
    text = format_currency(abs(value), code, format=sign + number, locale=LOCALE, currency_digits=currency_digits)
    return MINUS + text if value < 0 else text


def grid_formatter(code: str) -> str:
    """An AG Grid valueFormatter for whole amounts in ``code``: Intl.NumberFormat in the
    browser (assets/dashAgGridFunctions.js), with the same code."""
    return f"Money(params.value, {json.dumps(code)})"
