"""Read models for the claim page: the claim, its stored routing decision
(exactly as decided, whatever the champion is now) and its parties. The
history comes from services.workflow.timeline."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Claim, Dataset, Department, ModelVersion, Party, RoutingDecision
from services.access import NotFound, OutsideDepartments, can_see_department
from services.privacy import hidden_columns, mask, mask_decision, party_view

CLAIM_NUMBER_MAX = 40


@dataclass
class DecisionView:
    id: int
    model_version: str
    model_status: str
    decided_at: dt.datetime
    predicted: str
    routed: str
    confidence: float
    threshold: float
    probabilities: dict[str, float]
    shap_values: dict
    shap_method: str
    drivers: list[dict]
    features: dict

    @property
    def decided_at_text(self) -> str:
        return self.decided_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class ClaimView:
    claim: Claim
    department: Department | None
    departments: dict[str, Department]
    decision: DecisionView | None
    # Dicts from services.privacy.party_view: personal fields already masked for this user.
    parties: list[dict] = field(default_factory=list)
    # (label, value) of the dataset's first-notice facts kept in claims.extra; None = not given.
    facts: list[tuple[str, Any]] = field(default_factory=list)


def first_notice_facts(session: Session, claim: Claim, *, hidden: frozenset[str] = frozenset(),
                       dataset: Dataset | None = None) -> list[tuple[str, Any]]:
    """The facts beyond the claim's own columns that its dataset routes on (intake's
    circumstances, an import's extra features), in the dataset's order. Only the
    feature spec's columns: claims.extra also holds source columns that are outcomes
    or labels (a demo claim's true department, a payment), which are not facts of
    the claim as reported and would give the routing answer away. Values of ``hidden``
    columns (services.privacy.hidden_columns) come masked."""
    from services.intake import BY_NAME  # intake imports this module

    dataset = dataset or session.get(Dataset, claim.dataset)
    extra = claim.extra or {}
    spec = [c for c in (dataset.feature_spec if dataset else []) if c.get("source") == "extra"]

    def value(name: str) -> Any:
        return mask(name, extra.get(name)) if name in hidden else extra.get(name)

    return [(BY_NAME[c["name"]].label if c["name"] in BY_NAME else _label(c["name"]), value(c["name"]))
            for c in spec]


def _label(name: str) -> str:
    # An import's own column names keep their case ("DrivAge"): they are what its users know.
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


def get_claim_view(session: Session, user, claim_number: str) -> ClaimView:
    if not isinstance(claim_number, str) or not claim_number or len(claim_number) > CLAIM_NUMBER_MAX \
            or not claim_number.isprintable():  # NUL and control characters never name a claim
        raise NotFound("no such claim")
    claim = session.scalar(select(Claim).where(Claim.claim_number == claim_number))
    if claim is None:
        raise NotFound(f"no claim {claim_number}")
    if not can_see_department(user, claim.department_id):
        raise OutsideDepartments("this claim is outside your departments")
    departments = {d.code: d for d in session.scalars(select(Department))}
    by_id = {d.id: d for d in departments.values()}
    dataset = session.get(Dataset, claim.dataset)
    hidden = hidden_columns(user, dataset)
    decision_row = session.execute(
        select(RoutingDecision, ModelVersion.version, ModelVersion.status)
        .join(ModelVersion, ModelVersion.id == RoutingDecision.model_version_id)
        .where(RoutingDecision.claim_id == claim.id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
    ).first()
    decision = None
    if decision_row:
        d, version, status = decision_row
        predicted = by_id[d.predicted_department_id]
        # The stored decision keeps the raw values; a user without the permission gets masked copies.
        features, shap_values, drivers = mask_decision(hidden, d.features, d.shap_values, d.drivers, predicted.name)
        decision = DecisionView(
            id=d.id, model_version=version, model_status=status,
            decided_at=d.decided_at,
            predicted=predicted.code, routed=by_id[d.routed_department_id].code,
            confidence=d.confidence, threshold=d.threshold, probabilities=d.probabilities,
            shap_values=shap_values, shap_method=d.shap_method, drivers=drivers, features=features,
        )
    parties = [party_view(user, p) for p in
               session.scalars(select(Party).where(Party.claim_id == claim.id).order_by(Party.id).limit(50))]
    return ClaimView(claim=claim, department=claim.department, departments=departments,
                     decision=decision, parties=parties,
                     facts=first_notice_facts(session, claim, hidden=hidden, dataset=dataset))
