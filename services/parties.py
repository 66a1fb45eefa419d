"""Party identifiers and their normal form.

Claims are linked (fraud networks, repeat claimants) by *equality* of
identifiers, so every identifier is stored normalised: two spellings of the
same phone number or address must compare equal in SQL.
"""
from __future__ import annotations

import re
import unicodedata

# The identifiers that link claims, in the order links are shown (most telling first).
ID_FIELDS = ("bank_account", "phone", "email", "address", "plate", "vin", "provider_id")
FIELD_LABELS = {"bank_account": "bank account", "phone": "phone", "email": "email", "address": "address",
                "plate": "licence plate", "vin": "VIN", "provider_id": "provider id"}
# Parties that are businesses: they appear on many honest claims by trade, so sharing
# one of their identifiers says little on its own (services.linked_claims, fraud_rings).
BUSINESS_ROLES = frozenset({"repair_shop", "provider", "attorney"})

_NON_DIGIT = re.compile(r"\D+")
_NON_ALNUM = re.compile(r"[^0-9A-Z]+")
# Punctuation people type inconsistently inside addresses ("St." / "St",
# "Apt #4" / "Apt 4") carries no identity, so it becomes a space.
_ADDRESS_PUNCT = re.compile(r"[.,#;]+")
_SPACES = re.compile(r"\s+")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def normalise_phone(value: object) -> str | None:
    """Digits only; a leading US country code is dropped so +1 (555) 010-2030
    and 555.010.2030 link."""
    if _blank(value):
        return None
    digits = _NON_DIGIT.sub("", str(value))
    if not digits.isascii():  # \D keeps any script's digits: full-width "５５５" must link to "555"
        digits = "".join(str(unicodedata.decimal(c)) for c in digits)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits or None


def normalise_email(value: object) -> str | None:
    if _blank(value):
        return None
    email = str(value).strip().lower()
    return email or None


def normalise_address(value: object) -> str | None:
    """Upper case, punctuation dropped, single spaces."""
    if _blank(value):
        return None
    address = _SPACES.sub(" ", _ADDRESS_PUNCT.sub(" ", str(value).upper())).strip()
    return address or None


def _upper_alnum(value: object) -> str | None:
    if _blank(value):
        return None
    cleaned = _NON_ALNUM.sub("", str(value).upper())
    return cleaned or None


def normalise_plate(value: object) -> str | None:
    return _upper_alnum(value)


def normalise_vin(value: object) -> str | None:
    return _upper_alnum(value)


def normalise_account(value: object) -> str | None:
    """IBAN-like account numbers: upper-case letters and digits, no spaces."""
    return _upper_alnum(value)
