"""Field-level access: personal data is masked for roles without
Perm.VIEW_PERSONAL_DATA (viewers). Every place that shows or exports parties
or claim fields goes through ``party_view`` / ``claim_fields`` here.

Masked: party names, phone numbers, emails, postal addresses, bank accounts,
licence plates and VINs, and the claim's postcode (kept to its first two
digits). Free text (descriptions, notes) is NOT scrubbed: a claimant may be
named in it; see docs/architecture.md.
"""
from __future__ import annotations

from typing import Any

from auth.permissions import Perm

MASK = "•••"
PARTY_FIELDS = ("name", "phone", "email", "address", "bank_account", "plate", "vin", "provider_id")
PERSONAL_PARTY_FIELDS = ("name", "phone", "email", "address", "bank_account", "plate", "vin")
PERSONAL_CLAIM_FIELDS = ("postcode",)


def sees_personal_data(user) -> bool:
    return user is not None and user.can(Perm.VIEW_PERSONAL_DATA)


def mask(field: str, value: Any) -> Any:
    """A masked form that shows that a value exists without revealing it."""
    if value is None or value == "":
        return value
    text = str(value)
    if field == "name":
        return " ".join(word[:1] + MASK for word in text.split()[:3])
    if field == "email":
        return text[:1] + MASK + "@" + MASK
    if field in ("phone", "bank_account", "plate", "vin"):
        return MASK + text[-2:] if len(text) > 4 else MASK
    if field == "postcode":
        return text[:2] + MASK if len(text) > 2 else MASK
    return MASK


def party_view(user, party) -> dict:
    """A party as a dict, personal fields masked unless the user may see them."""
    show = sees_personal_data(user)
    out = {"role": party.role}
    for f in PARTY_FIELDS:
        value = getattr(party, f)
        out[f] = value if show or f not in PERSONAL_PARTY_FIELDS else mask(f, value)
    return out


def claim_fields(user, body: dict) -> dict:
    """A claim dict (API body, export row) with personal claim fields masked as needed."""
    if sees_personal_data(user):
        return body
    return {k: (mask(k, v) if k in PERSONAL_CLAIM_FIELDS else v) for k, v in body.items()}
