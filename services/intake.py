"""First notice of loss: validate, store, score and route new claims.

One claim (the form, ``POST /api/v1/claims``) is routed with exact TreeSHAP;
a batch (``POST /api/v1/claims/batch``) is all-or-nothing and routed with the
bulk ``approx`` attributions (the decision row says so in ``shap_method``).
Nothing here commits: the caller's one transaction holds the claims, their
events, the audit entry and the routing decisions together.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from db.models import Claim, ClaimEvent, Department, ModelVersion, Party, RoutingDecision
from services import audit, intake_parties, routing
from services import currency as currency_fmt
from services.claims import DecisionView
from services.claims_frame import ids_param
from services.geography import region_of

DATASET = "synthetic"
SOURCE_PREFIX = "fnol:"   # source_key of a claim entered in SCOPE (form or API)
BATCH_LIMIT = 10_000
CLAIM_PREFIX = "FNOL-"
MIN_LOSS_DATE = dt.date(1990, 1, 1)
MAX_AMOUNT = Decimal("100000000")

LINES_OF_BUSINESS = ("auto", "property", "general_liability", "workers_comp")
REPORTED_VIA = ("phone", "web", "mobile_app", "agent", "email", "attorney")
WEATHER = ("clear", "rain", "snow", "ice", "fog", "wind", "hail", "thunderstorm")
LOSS_LOCATIONS = ("road", "parking_lot", "home", "workplace", "business_premises")
US_STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
    "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH",
    "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
)
POLICY_PATTERN = r"^P[A-Z]{2}-[0-9]{7}$"
# What the API accepts: the policy number is upper-cased before the check, so a
# lower-case one typed on the form (or sent by an integration) is the same policy.
POLICY_INPUT_PATTERN = r"^[Pp][A-Za-z]{2}-[0-9]{7}$"
POSTCODE_PATTERN = r"^[0-9]{5}(-[0-9]{4})?$"
CATASTROPHE_PATTERN = r"^CAT-[0-9]{4}-[0-9]{2}$"


class IntakeInvalid(ValueError):
    """Field-level errors: ``{field: message}`` for one claim, ``{index: {field: message}}`` for a batch."""

    def __init__(self, errors: dict):
        super().__init__("invalid claim data")
        self.errors = errors


class IntakeUnavailable(RuntimeError):
    """The claim cannot be routed now (no champion model); nothing was stored."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # string | enum | date | money | integer | boolean
    required: bool = False
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    min_len: int = 0
    max_len: int = 200
    minimum: int = 0
    maximum: int = 0
    column: bool = True  # a claims column; otherwise a key of claims.extra
    label: str = ""
    hint: str = ""
    upper: bool = False  # upper-cased before the pattern check (and stored so)
    input_pattern: str | None = None  # what callers may send, when wider than ``pattern``


FIELDS: tuple[Field, ...] = (
    Field("policy_number", "string", True, pattern=POLICY_PATTERN, max_len=11, label="Policy number",
          hint="like PAU-1234567", upper=True, input_pattern=POLICY_INPUT_PATTERN),
    Field("line_of_business", "enum", True, LINES_OF_BUSINESS, label="Line of business"),
    Field("loss_date", "date", True, label="Date of loss"),
    Field("report_date", "date", label="Date reported", hint="defaults to today"),
    Field("description", "string", True, min_len=10, max_len=5000, label="What happened"),
    # In SCOPE_CURRENCY: the form's label and the API docs name it.
    Field("claimed_amount", "money", True, label="Claimed amount"),
    Field("state", "enum", True, US_STATES, label="State"),
    Field("postcode", "string", pattern=POSTCODE_PATTERN, max_len=10, label="ZIP code", hint="5 digits"),
    Field("reported_via", "enum", choices=REPORTED_VIA, column=False, label="Reported via"),
    Field("injury_reported", "boolean", column=False, label="Injury reported"),
    Field("police_report", "boolean", column=False, label="Police report filed"),
    Field("attorney_involved", "boolean", column=False, label="Attorney involved"),
    Field("weather", "enum", choices=WEATHER, column=False, label="Weather"),
    Field("loss_location", "enum", choices=LOSS_LOCATIONS, column=False, label="Where it happened"),
    Field("vehicle_count", "integer", minimum=0, maximum=50, column=False, label="Vehicles involved"),
    Field("witness_count", "integer", minimum=0, maximum=100, column=False, label="Witnesses"),
    Field("policy_tenure_days", "integer", minimum=0, maximum=36_500, column=False, label="Policy tenure (days)"),
    Field("prior_claims_3y", "integer", minimum=0, maximum=100, column=False, label="Prior claims (3 years)"),
    Field("catastrophe_code", "string", pattern=CATASTROPHE_PATTERN, max_len=11, column=False,
          label="Catastrophe code", hint="like CAT-2024-09"),
)
BY_NAME = {f.name: f for f in FIELDS}
REQUIRED = tuple(f.name for f in FIELDS if f.required)


_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why PostgreSQL could not store this text, in words; None when it can.
    NUL is refused by text and jsonb columns; a lone surrogate (JSON "\\ud800")
    cannot be encoded as UTF-8 at all."""
    if "\x00" in value:
        return "must not contain NUL (\\u0000) characters"
    if _SURROGATE.search(value):
        return "must be valid Unicode text (it contains an unpaired surrogate)"
    return None


def field_label(key: Any) -> str:
    """An unknown field's name as it may be echoed (and stored with an Idempotency-Key's answer):
    escaped when it has characters that cannot be stored, "_" when too long to echo."""
    if not isinstance(key, str) or len(key) > 60:
        return "_"
    return key if key.isprintable() else ascii(key)[1:-1]


def _check_string(f: Field, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return None, "must be a string"
    problem = text_problem(value)
    if problem:
        return None, problem
    value = value.strip()
    if f.required and not value:
        return None, "is required"
    if len(value) < f.min_len:
        return None, f"must be at least {f.min_len} characters"
    if len(value) > f.max_len:
        return None, f"must be at most {f.max_len:,} characters"
    if f.upper:
        value = value.upper()
    if f.pattern and not re.fullmatch(f.pattern, value):
        return None, f"has the wrong format ({f.hint})" if f.hint else "has the wrong format"
    return value, None


def _check_enum(f: Field, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str) or value not in f.choices:
        if len(f.choices) > 10:
            return None, "must be a two-letter US state code in capitals, like CA"
        return None, f"must be one of {', '.join(f.choices)}"
    return value, None


def _check_date(f: Field, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return None, "must be a date YYYY-MM-DD"
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None, "is not a real calendar date"
    if day > dt.date.today():
        return None, "cannot be in the future"
    if day < MIN_LOSS_DATE:
        return None, "cannot be before 1990-01-01"
    return day, None


def _check_money(f: Field, value: Any, places: int = 2, *, strict: bool = False) -> tuple[Any, str | None]:
    # The form's number input may arrive as text; a JSON caller must send a JSON number.
    allowed = (int, float) if strict else (int, float, str)
    if isinstance(value, bool) or not isinstance(value, allowed):
        return None, "must be a number"
    if isinstance(value, float) and math.isinf(value):  # JSON 1e400 parses to infinity
        return None, "must be greater than 0" if value < 0 else "must be less than 100,000,000"
    if isinstance(value, str) and not re.fullmatch(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*", value):
        # Decimal() would also take "1_000", "Infinity" and non-ASCII digits.
        return None, "must be a number"
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None, "must be a number"
    if not amount.is_finite():
        return None, "must be a number"
    if amount <= 0:
        return None, "must be greater than 0"
    if amount >= MAX_AMOUNT:
        return None, "must be less than 100,000,000"
    step = Decimal(1).scaleb(-places)
    if amount != amount.quantize(step):
        return None, "must be a whole amount" if places == 0 else f"must have at most {places} decimals"
    return amount.quantize(Decimal("0.01")), None


def _check_integer(f: Field, value: Any) -> tuple[Any, str | None]:
    # 2.0 counts as 2: JSON does not tell them apart, nor does JSON Schema's "integer".
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, "must be a whole number"
    if isinstance(value, float) and not math.isfinite(value):  # JSON 1e400 parses to infinity
        return None, f"must be between {f.minimum} and {f.maximum:,}"
    if value != int(value):
        return None, "must be a whole number"
    if not f.minimum <= value <= f.maximum:
        return None, f"must be between {f.minimum} and {f.maximum:,}"
    return int(value), None


def _check_boolean(f: Field, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, bool):
        return None, "must be true or false"
    return value, None


_CHECKS: dict[str, Callable[[Field, Any], tuple[Any, str | None]]] = {
    "string": _check_string, "enum": _check_enum, "date": _check_date, "money": _check_money,
    "integer": _check_integer, "boolean": _check_boolean,
}


_TEXT_KINDS = ("string", "enum", "date")


def validate(payload: Any, *, currency: str = currency_fmt.DEFAULT,
             strict: bool = False) -> tuple[dict, dict[str, str]]:
    """The cleaned claim and ``{field: message}`` (empty when valid). Amounts take the
    deployment currency's decimals (none for JPY), at most the 2 the claims table keeps.
    ``strict`` (the API) takes numbers only as JSON numbers; the form's inputs may send text."""
    places = min(2, currency_fmt.decimals(currency))
    if not isinstance(payload, dict):
        return {}, {"_": "must be a JSON object"}
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key in payload:
        if key not in BY_NAME and key != "parties":
            errors[field_label(key)] = "is not a known field"
    parties, party_errors = intake_parties.validate(payload.get("parties"))
    errors.update(party_errors)
    if parties:
        clean["parties"] = parties
    for f in FIELDS:
        value = payload.get(f.name)
        # null, or "" for a text field, means "not given" (an empty form input sends "").
        if value is None or (value == "" and (f.kind in _TEXT_KINDS or not strict)):
            if f.required:
                errors[f.name] = "is required"
            continue
        cleaned, error = (_check_money(f, value, places, strict=strict) if f.kind == "money"
                          else _CHECKS[f.kind](f, value))
        if error:
            errors[f.name] = error
        else:
            clean[f.name] = cleaned
    clean.setdefault("report_date", dt.date.today())
    loss, report = clean.get("loss_date"), clean.get("report_date")
    if loss and report and report < loss and "report_date" not in errors:
        errors["report_date"] = "cannot be before the date of loss"
    return clean, errors


def _allocate_ids(session: Session, n: int) -> list[int]:
    # Claim ids come from the claims sequence first so the claim number can carry them:
    # unique without a second sequence, and readable (FNOL-00001234).
    return list(session.scalars(text("SELECT nextval(pg_get_serial_sequence('claims', 'id')) "
                                     "FROM generate_series(1, :n)"), {"n": n}))


def _row(claim_id: int, clean: dict) -> dict:
    number = f"{CLAIM_PREFIX}{claim_id:08d}"
    row = {f.name: clean.get(f.name) for f in FIELDS if f.column}
    row.update(id=claim_id, claim_number=number, source_key=f"{SOURCE_PREFIX}{number}", dataset=DATASET, status="new",
               region=region_of(row.get("state")),
               extra={f.name: clean[f.name] for f in FIELDS if not f.column and f.name in clean})
    return row


def _store(session: Session, cleaned: list[dict], actor, *, threshold: float, shap_method: str) -> list[int]:
    if not routing.has_champion(session, DATASET):
        raise IntakeUnavailable("no router model is trained yet, so new claims cannot be routed")
    ids = _allocate_ids(session, len(cleaned))
    rows = [_row(i, c) for i, c in zip(ids, cleaned)]
    for start in range(0, len(rows), 2000):
        session.execute(insert(Claim.__table__), rows[start:start + 2000])
    parties = [p for i, c in zip(ids, cleaned) for p in intake_parties.rows(i, c.get("parties", []))]
    for start in range(0, len(parties), 2000):
        session.execute(insert(Party.__table__), parties[start:start + 2000])
    via = "api" if getattr(actor, "via_api", False) else "form"
    session.execute(insert(ClaimEvent), [
        dict(claim_id=r["id"], kind="intake", actor_id=actor.id, to_status="new", data={"via": via})
        for r in rows])
    if len(rows) == 1:
        # target = the claim's id, as every other claim.* entry, so one target search finds its whole trail
        audit.record(session, actor=actor.email, actor_id=actor.id, action="claim.intake", target_type="claim",
                     target_id=rows[0]["id"], after={"via": via, "claim_number": rows[0]["claim_number"],
                                                     "line_of_business": rows[0]["line_of_business"],
                                                     "parties": len(parties)})
    else:  # one entry per batch: the claim events carry the per-claim history
        audit.record(session, actor=actor.email, actor_id=actor.id, action="claim.intake_batch", target_type="claim",
                     target_id=rows[0]["id"],
                     after={"via": via, "count": len(rows), "first": rows[0]["claim_number"],
                            "last": rows[-1]["claim_number"]})
    routing.route_claims(session, ids, threshold=threshold, shap_method=shap_method)
    return ids


def create_claim(session: Session, payload: Any, actor, *, threshold: float,
                 currency: str = currency_fmt.DEFAULT, strict: bool = False) -> "IntakeResult":
    """Store, score and route one claim; raises IntakeInvalid with ``{field: message}``."""
    clean, errors = validate(payload, currency=currency, strict=strict)
    if errors:
        raise IntakeInvalid(errors)
    ids = _store(session, [clean], actor, threshold=threshold, shap_method="exact")
    return results(session, ids)[0]


def create_claims(session: Session, items: Any, actor, *, threshold: float,
                  currency: str = currency_fmt.DEFAULT, strict: bool = False) -> list["IntakeResult"]:
    """All or nothing: any invalid item raises IntakeInvalid ``{index: {field: message}}``."""
    if not isinstance(items, list) or not items:
        raise IntakeInvalid({"claims": "must be a non-empty list"})
    if len(items) > BATCH_LIMIT:
        raise IntakeInvalid({"claims": f"at most {BATCH_LIMIT:,} claims per batch"})
    cleaned, errors = [], {}
    for index, item in enumerate(items):
        clean, item_errors = validate(item, currency=currency, strict=strict)
        if item_errors:
            errors[str(index)] = item_errors
        cleaned.append(clean)
    if errors:
        raise IntakeInvalid(errors)
    ids = _store(session, cleaned, actor, threshold=threshold, shap_method="approx")
    return results(session, ids, detail=False)


@dataclass
class IntakeResult:
    claim_id: int
    claim_number: str
    status: str
    department_code: str | None
    department_name: str | None
    confidence: float | None
    decision: DecisionView | None


def latest_decisions(session: Session, claim_ids: list[int]) -> dict[int, DecisionView]:
    by_id = {d.id: d.code for d in session.scalars(select(Department))}
    latest = (select(func.max(RoutingDecision.id)).where(RoutingDecision.claim_id == ids_param(claim_ids))
              .group_by(RoutingDecision.claim_id))
    out = {}
    for d, version, status in session.execute(
            select(RoutingDecision, ModelVersion.version, ModelVersion.status)
            .join(ModelVersion, ModelVersion.id == RoutingDecision.model_version_id)
            .where(RoutingDecision.id.in_(latest))):
        out[d.claim_id] = DecisionView(
            id=d.id, model_version=version, model_status=status,
            decided_at=d.decided_at,
            predicted=by_id[d.predicted_department_id], routed=by_id[d.routed_department_id],
            confidence=d.confidence, threshold=d.threshold, probabilities=d.probabilities,
            shap_values=d.shap_values, shap_method=d.shap_method, drivers=d.drivers, features=d.features)
    return out


def results(session: Session, claim_ids: list[int], *, detail: bool = True) -> list[IntakeResult]:
    """Where each claim went; ``detail`` adds the full stored decision (skipped for big batches)."""
    decisions = latest_decisions(session, claim_ids) if detail else {}
    rows = session.execute(
        select(Claim.id, Claim.claim_number, Claim.status, Claim.routing_confidence, Department.code, Department.name)
        .outerjoin(Department, Department.id == Claim.department_id).where(Claim.id == ids_param(claim_ids)))
    by_id = {r.id: r for r in rows}
    return [IntakeResult(i, by_id[i].claim_number, by_id[i].status, by_id[i].code, by_id[i].name,
                         by_id[i].routing_confidence, decisions.get(i))
            for i in claim_ids]


def departments_by_code(session: Session) -> dict[str, Department]:
    return {d.code: d for d in session.scalars(select(Department))}


def _decision_json(d: DecisionView, names: dict[str, str]) -> dict:
    return {"department": d.routed, "department_name": names.get(d.routed, d.routed),
            "predicted_department": d.predicted, "confidence": round(float(d.confidence), 4),
            "threshold": d.threshold, "probabilities": {k: round(float(v), 4) for k, v in d.probabilities.items()},
            "drivers": [x.get("text") for x in (d.drivers or []) if x.get("text")],
            "model_version": d.model_version, "shap_method": d.shap_method, "decided_at": d.decided_at.isoformat()}


def result_json(result: IntakeResult, *, detail: bool = True, names: dict[str, str] | None = None) -> dict:
    """What the API answers for a created claim."""
    body = {"claim_number": result.claim_number, "status": result.status, "dataset": DATASET,
            "department": result.department_code, "department_name": result.department_name,
            "confidence": None if result.confidence is None else round(float(result.confidence), 4)}
    if detail and result.decision is not None:
        body["decision"] = _decision_json(result.decision, names or {result.department_code: result.department_name})
    return body


def claim_json(session: Session, claim: Claim) -> dict:
    """A claim and its latest decision, with only the intake fields of ``extra``
    (demo and imported claims keep other source columns there, labels included)."""
    names = {d.code: d.name for d in session.scalars(select(Department))}
    decision = latest_decisions(session, [claim.id]).get(claim.id)
    extra = claim.extra or {}
    body = {
        "claim_number": claim.claim_number, "status": claim.status, "dataset": claim.dataset,
        "policy_number": claim.policy_number, "line_of_business": claim.line_of_business,
        "loss_date": claim.loss_date.isoformat() if claim.loss_date else None,
        "report_date": claim.report_date.isoformat() if claim.report_date else None,
        "description": claim.description,
        "claimed_amount": None if claim.claimed_amount is None else float(claim.claimed_amount),
        "state": claim.state, "postcode": claim.postcode,
        "department": claim.department.code if claim.department else None,
        "department_name": claim.department.name if claim.department else None,
        "created_at": claim.created_at.isoformat() if claim.created_at else None,
    }
    body.update({f.name: extra.get(f.name) for f in FIELDS if not f.column})
    body["decision"] = None if decision is None else _decision_json(decision, names)
    return body
