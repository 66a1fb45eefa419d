"""The people and businesses named at first notice of loss (form and API).

They are stored as ``parties`` rows with their identifiers normalised
(services.parties), so a new claim links to earlier ones by phone, bank account,
address... from the moment it is stored: the claim page's Linked claims card at
once, the hourly ring and fraud alert jobs on their next run. The router does not
read them.
"""
from __future__ import annotations

import re
from typing import Any

from db.models import Party
from services.parties import (normalise_account, normalise_address, normalise_email, normalise_phone,
                              normalise_plate, normalise_vin)

MAX_PARTIES = 20
ROLES = ("claimant", "insured", "driver", "witness", "repair_shop", "provider", "attorney")
ROLE_LABELS = {"claimant": "Claimant", "insured": "Insured", "driver": "Driver", "witness": "Witness",
               "repair_shop": "Repair shop", "provider": "Medical provider", "attorney": "Attorney"}
# (key, label, longest value as typed, normaliser or None for the name). Identifiers may be typed
# longer than they are stored ("1HG-CM826-33A004352", an IBAN in groups of four): the stored,
# normalised value is held to the column's length.
FIELDS = (
    ("name", "Name", 160, None),
    ("phone", "Phone", 30, normalise_phone),
    ("email", "Email", 254, normalise_email),
    ("address", "Address", 300, normalise_address),
    ("bank_account", "Bank account", 64, normalise_account),
    ("plate", "Licence plate", 32, normalise_plate),
    ("vin", "VIN", 32, normalise_vin),
    ("provider_id", "Provider id", 64, normalise_account),
)
LABELS = {key: label for key, label, _, _ in FIELDS}
# The label inside a sentence: "Insured VIN", "Claimant licence plate".
WORDS = {key: label if label.isupper() else label[0].lower() + label[1:] for key, label in LABELS.items()}
_COLUMN_LENGTH = {key: Party.__table__.c[key].type.length for key in LABELS}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")  # no I, O or Q in a VIN
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check(key: str, longest: int, normalise, value: Any) -> tuple[str | None, str | None]:
    """The stored value (normalised identifier, or the name as typed) and an error."""
    if not isinstance(value, str):
        return None, "must be text"
    value = " ".join(value.split())
    if _CONTROL.search(value) or re.search("[\ud800-\udfff]", value):
        return None, "must not contain control characters"
    if len(value) > longest:
        return None, f"must be at most {longest} characters"
    stored = value if normalise is None else normalise(value)
    if stored and len(stored) > _COLUMN_LENGTH[key]:  # upper-casing can lengthen a value: "ß" -> "SS"
        return None, f"must be at most {_COLUMN_LENGTH[key]} characters once normalised"
    if not value:
        return None, None
    if not stored:
        return None, "must have 7 to 15 digits" if key == "phone" else "has no letters or digits"
    if key == "phone" and not 7 <= len(stored) <= 15:
        return None, "must have 7 to 15 digits"
    if key == "email" and not _EMAIL.match(stored):
        return None, "must look like name@example.com"
    if key == "vin" and not _VIN.match(stored):
        return None, "must be 17 letters and digits (no I, O or Q)"
    return stored, None


def check_field(key: str, value: Any) -> tuple[str | None, str | None]:
    """One party field checked as the form and the API check it: the stored value (normalised
    identifier, or the name as typed; None when empty) and the error message, if any.
    Also used by CSV imports (services.imports) so a bad phone reads the same everywhere."""
    _key, _label, longest, normalise = next(f for f in FIELDS if f[0] == key)
    return _check(key, longest, normalise, value)


def validate(value: Any) -> tuple[list[dict], dict[str, str]]:
    """Cleaned parties and ``{"parties[i].field": message}`` (``"parties"`` for the list)."""
    if value is None:
        return [], {}
    if not isinstance(value, list):
        return [], {"parties": "must be a list of people and businesses"}
    if len(value) > MAX_PARTIES:
        return [], {"parties": f"at most {MAX_PARTIES} per claim"}
    cleaned, errors = [], {}
    for i, item in enumerate(value):
        where = f"parties[{i}]"
        if not isinstance(item, dict):
            errors[where] = "must be an object with a role and a name or identifiers"
            continue
        for key in item:
            if key != "role" and key not in LABELS:
                errors[f"{where}.{key if isinstance(key, str) and key.isprintable() and len(key) <= 60 else '_'}"] = (
                    "is not a known field")
        role = item.get("role")
        if role not in ROLES:
            errors[f"{where}.role"] = "must be one of " + ", ".join(ROLES)
        party = {"role": role}
        for key, _label, longest, normalise in FIELDS:
            if item.get(key) is None or item.get(key) == "":
                continue
            stored, error = _check(key, longest, normalise, item[key])
            if error:
                errors[f"{where}.{key}"] = error
            elif stored:
                party[key] = stored
        if len(party) == 1 and f"{where}.role" not in errors and not any(k.startswith(where + ".") for k in errors):
            errors[where] = "needs a name or at least one identifier"
        cleaned.append(party)
    return cleaned, errors


def rows(claim_id: int, parties: list[dict]) -> list[dict]:
    """``parties`` table rows for one stored claim."""
    return [{"claim_id": claim_id, "role": p["role"], **{key: p.get(key) for key, *_ in FIELDS}} for p in parties]
