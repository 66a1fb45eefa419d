"""Claims: create one, create a batch, read one with its latest routing decision."""
from __future__ import annotations

from flask import current_app, jsonify

from api.v1 import bp
from api.v1.auth import caller, require_scope
from api.v1.errors import ApiError
from api.v1.posts import idempotent_post
from db.flask_db import read_session
from services import intake
from services.access import AccessDenied, NotFound
from services.claims import get_claim_view
from services.privacy import claim_fields, hidden_for, mask_values

SINGLE_LIMIT = 1_000_000
BATCH_LIMIT_BYTES = 20_000_000


def _threshold() -> float:
    return current_app.config["SCOPE_SETTINGS"].confidence_threshold


def _currency() -> str:
    return current_app.config["SCOPE_SETTINGS"].currency


def _create_one(session, payload):
    try:
        result = intake.create_claim(session, payload, caller(), threshold=_threshold(), currency=_currency(),
                                     strict=True)
    except intake.IntakeInvalid as exc:
        raise ApiError(422, "the claim is not valid", exc.errors) from None
    except intake.IntakeUnavailable as exc:
        raise ApiError(503, str(exc)) from None
    return 201, {"claim": intake.result_json(result)}


def _create_batch(session, payload):
    if not isinstance(payload, dict):
        raise ApiError(422, "the body must be {\"claims\": [...]}", {"_": "must be a JSON object"})
    fields = {intake.field_label(key): "is not a known field" for key in payload if key != "claims"}
    if "claims" not in payload:
        fields["claims"] = "is required"
    if fields:
        raise ApiError(422, "the body must be {\"claims\": [...]}", fields)
    try:
        results = intake.create_claims(session, payload["claims"], caller(), threshold=_threshold(),
                                       currency=_currency(), strict=True)
    except intake.IntakeInvalid as exc:
        raise ApiError(422, "the batch is not valid; nothing was stored", exc.errors) from None
    except intake.IntakeUnavailable as exc:
        raise ApiError(503, str(exc)) from None
    return 201, {"count": len(results), "shap_method": "approx",
                 "claims": [intake.result_json(r, detail=False) for r in results]}


@bp.post("/claims")
@require_scope("claims:write")
def create_claim():
    return idempotent_post(_create_one, limit=SINGLE_LIMIT)


@bp.post("/claims/batch")
@require_scope("claims:write")
def create_claims_batch():
    return idempotent_post(_create_batch, limit=BATCH_LIMIT_BYTES)


@bp.get("/claims/<claim_number>")
@require_scope("claims:read")
def get_claim(claim_number: str):
    session = read_session()
    try:
        view = get_claim_view(session, caller().user, claim_number)
    except (NotFound, AccessDenied):
        # Outside the caller's departments looks the same as missing: no existence leak.
        raise ApiError(404, "no such claim") from None
    user = caller().user
    body = claim_fields(user, intake.claim_json(session, view.claim))
    hidden = hidden_for(session, user, view.claim.dataset)
    if hidden:
        body = mask_values(hidden, body)
        if body.get("decision") is not None and view.decision is not None:
            # claim_json words the drivers from the stored text; the view's are already masked for this user.
            body["decision"] = {**body["decision"],
                                "drivers": [x.get("text") for x in view.decision.drivers or [] if x.get("text")]}
    return jsonify(body)
