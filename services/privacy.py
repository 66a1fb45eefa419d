"""Field-level access: personal data is masked for roles without
Perm.VIEW_PERSONAL_DATA (viewers). Every place that shows or exports parties
or claim fields goes through ``party_view`` / ``claim_fields`` here.

Masked: party names, phone numbers, emails, postal addresses, bank accounts,
licence plates and VINs, the claim's postcode (kept to its first two
digits), and the extra columns a dataset's import mapping lists under
``personal`` (a driver's age, gender, marital status...), wherever a claim's
facts or its stored routing decision (features, reasons, waterfall) show them:
``hidden_columns`` / ``mask_values`` / ``mask_decision``. Free text
(descriptions, notes) is NOT scrubbed: a claimant may be named in it; see
docs/architecture.md.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import Dataset
from ml.explain import describe

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


def personal_columns(dataset: Dataset | None) -> frozenset[str]:
    """The dataset's extra columns that are personal data: flagged ``personal`` in its feature
    spec (from the import mapping's ``personal`` list), or named in the stored mapping itself
    (a personal column that is not a feature is flagged nowhere else)."""
    if dataset is None:
        return frozenset()
    flagged = {f["name"] for f in dataset.feature_spec or [] if f.get("personal") and f.get("name")}
    listed = (dataset.mapping or {}).get("personal") or []
    return frozenset(flagged | {c for c in listed if isinstance(c, str)})


def hidden_columns(user, dataset: Dataset | None) -> frozenset[str]:
    """Feature and fact names whose values this user sees masked; empty for those who may see them."""
    if sees_personal_data(user):
        return frozenset()
    return personal_columns(dataset) | frozenset(PERSONAL_CLAIM_FIELDS)


def hidden_for(session: Session, user, dataset_name: str | None) -> frozenset[str]:
    if sees_personal_data(user):
        return frozenset()  # no dataset read for those who see everything
    return hidden_columns(user, session.get(Dataset, dataset_name) if dataset_name else None)


def mask_values(hidden: Iterable[str], values: dict | None) -> dict:
    """A copy of ``values`` (claim facts, a decision's features, an API body) with hidden names masked."""
    hidden = frozenset(hidden)
    return {k: (mask(k, v) if k in hidden else v) for k, v in (values or {}).items()}


def mask_decision(hidden: Iterable[str], features: dict | None, shap_values: dict | None,
                  drivers: list | None, department: str) -> tuple[dict, dict, list]:
    """A stored decision's features, SHAP values and drivers as a user with ``hidden`` columns may
    see them. A driver's stored text quotes the raw value ("DrivGender is F (+0.3 toward Theft)"),
    so a hidden driver is worded again from its stored contribution with the value masked;
    ``department`` is the name its contribution points toward. Never changes the stored objects."""
    hidden = frozenset(hidden)
    features, shap_values, drivers = features or {}, shap_values or {}, drivers or []
    if not hidden:
        return features, shap_values, drivers
    shown = mask_values(hidden, features)
    terms = shap_values.get("terms")
    if isinstance(terms, dict) and hidden & set(terms):
        # A hidden text column's decisive words are its value, piece by piece.
        shap_values = {**shap_values, "terms": {k: v for k, v in terms.items() if k not in hidden}}
    out = []
    for d in drivers:
        name = d.get("feature") if isinstance(d, dict) else None
        if name not in hidden:
            out.append(d)
            continue
        contribution = d.get("contribution")
        value = mask(name, features.get(name))
        if isinstance(contribution, (int, float)) and not isinstance(contribution, bool):
            # Worded as a category whatever the kind: "DrivAge is •••" reads, "DrivAge •••" does not.
            text = describe(name, "categorical", float(contribution), {name: value}, [], department)
        else:
            text = f"{name.replace('_', ' ')} is {MASK}"
        out.append({**d, "text": text})
    return shown, shap_values, out
