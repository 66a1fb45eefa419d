"""The OpenAPI 3.1 document of this API, built from the intake schema itself
so the documented fields and required list cannot drift from the validator."""
from __future__ import annotations

from flask import current_app, jsonify

from api.v1 import bp
from auth.permissions import API_SCOPES
from services import intake, intake_parties
from services.claim_documents import KINDS as DOCUMENT_KINDS
from services.queues import EXACT_COUNT_LIMIT, MAX_OFFSET, MAX_PAGE

_TYPES = {
    "string": {"type": "string"}, "date": {"type": "string", "format": "date"},
    "money": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100_000_000, "multipleOf": 0.01},
    "integer": {"type": "integer"}, "boolean": {"type": "boolean"}, "enum": {"type": "string"},
}


def _field_schema(f: intake.Field) -> dict:
    schema = dict(_TYPES[f.kind])
    if f.choices:
        schema["enum"] = list(f.choices)
    if f.pattern:
        schema["pattern"] = f.input_pattern or f.pattern
    if f.kind == "string":
        schema.update(minLength=max(f.min_len, 1), maxLength=f.max_len)
    if f.kind == "integer":
        schema.update(minimum=f.minimum, maximum=f.maximum)
    description = f.label + (f" ({f.hint})" if f.hint else "")
    if f.kind == "string":
        description += "; spaces around it are removed; no NUL characters or unpaired surrogates"
    if f.upper:
        description += "; stored in capitals"
    if f.kind in ("money", "integer"):
        description += "; a JSON number (text such as \"850.5\" is refused)"
    if f.kind == "integer":
        description += "; a number with no fraction such as 2.0 counts as 2, 2.5 is refused"
    if f.kind == "money":
        description += f", in {current_app.config['SCOPE_SETTINGS'].currency} (this deployment's reporting currency)"
    if f.kind == "date":
        description += "; not in the future, not before 1990-01-01"
    if f.name == "report_date":
        description += "; not before loss_date"
    if not f.required:
        # Optional fields may be sent as null, meaning "not given", as may "" for text fields.
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        description += "; null means not given"
    schema["description"] = description
    return schema


def _parties_schema() -> dict:
    """People and businesses named at first notice (services.intake_parties)."""
    party = {"type": "object", "additionalProperties": False, "required": ["role"], "properties": {
        "role": {"type": "string", "enum": list(intake_parties.ROLES)},
        **{key: {"type": ["string", "null"], "maxLength": longest, "description": label}
           for key, label, longest, _ in intake_parties.FIELDS}}}
    party["properties"]["phone"]["description"] += "; 7 to 15 digits once spaces and punctuation are removed"
    party["properties"]["vin"]["description"] += "; 17 letters and digits, no I, O or Q"
    return {"type": ["array", "null"], "maxItems": intake_parties.MAX_PARTIES, "items": party,
            "description": "People and businesses on the claim, each with a name or at least one identifier. "
                           "Identifiers are stored normalised (digits-only phones, lower-case emails, "
                           "capitals without spaces for plates, VINs, bank accounts and provider ids) and "
                           "link the claim to others that share them (Linked claims, fraud rings and alerts)."}


def _error(description: str, fields: bool = False) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValidationError" if fields
                                                        else "#/components/schemas/Error"}}}}


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before the next request",
                                "schema": {"type": "integer"}}}
_TOO_MANY = {**_error("Rate limit reached: per token, and for refused tokens (401) per client address. "
                      "Nothing was done; retry after Retry-After seconds"), "headers": _RETRY_AFTER}
_COMMON_ERRORS = {"401": _error("Missing, invalid, expired or revoked token"),
                  "403": _error("The token lacks the scope"),
                  "429": _TOO_MANY}
_POST_ERRORS = {"400": _error("Malformed JSON or Idempotency-Key"),
                "409": _error("A request with this Idempotency-Key is still in flight"),
                "413": _error("Request body too large"),
                "422": _error("Invalid data (field-level messages; unknown fields are named), or an "
                              "Idempotency-Key reused with another request (another path or body)", True),
                "503": _error("No router model is trained; nothing was stored")}
_IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "maxLength": 200},
                "description": "Retries with the same key and body return the original response."}


_CLAIM_NUMBER = {"name": "claim_number", "in": "path", "required": True, "schema": {"type": "string"}}


def _json(ref: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def document() -> dict:
    decision = {"type": "object", "properties": {
        "department": {"type": "string"}, "department_name": {"type": "string"},
        "predicted_department": {"type": "string"}, "confidence": {"type": "number"},
        "threshold": {"type": "number"},
        "probabilities": {"type": "object", "additionalProperties": {"type": "number"}},
        "drivers": {"type": "array", "items": {"type": "string"}}, "model_version": {"type": "string"},
        "shap_method": {"type": "string", "enum": ["exact", "approx"]},
        "decided_at": {"type": "string", "format": "date-time"}}}
    created = {"type": "object", "properties": {
        "claim_number": {"type": "string"}, "status": {"type": "string"}, "dataset": {"type": "string"},
        "department": {"type": ["string", "null"]}, "department_name": {"type": ["string", "null"]},
        "confidence": {"type": ["number", "null"]}, "decision": {"$ref": "#/components/schemas/Decision"}}}
    claim = {"type": "object", "properties": {
        **{f.name: {"type": ["string", "number", "integer", "boolean", "null"]} for f in intake.FIELDS},
        "claim_number": {"type": "string"}, "status": {"type": "string"}, "dataset": {"type": "string"},
        "department": {"type": ["string", "null"]}, "created_at": {"type": "string", "format": "date-time"},
        "decision": {"oneOf": [{"$ref": "#/components/schemas/Decision"}, {"type": "null"}]}}}
    secured = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "SCOPE Assistant API", "version": "1.0.0",
                 "description": "First notice of loss intake, claims and department queues. "
                                "Create a token on the /tokens page or with `scope token create`."},
        "servers": [{"url": "/api/v1"}],
        "security": secured,
        "paths": {
            "/claims": {"post": {
                "summary": "Create, score and route one claim (exact TreeSHAP explanation)",
                "x-scope": "claims:write", "parameters": [_IDEMPOTENCY],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ClaimInput"}}}},
                "responses": {"201": _json("CreatedClaimResponse", "Stored and routed"),
                              **_POST_ERRORS, **_COMMON_ERRORS}}},
            "/claims/batch": {"post": {
                "summary": f"Create up to {intake.BATCH_LIMIT:,} claims, all or nothing (approximate attributions)",
                "x-scope": "claims:write", "parameters": [_IDEMPOTENCY],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["claims"], "additionalProperties": False,
                    "properties": {"claims": {"type": "array", "minItems": 1, "maxItems": intake.BATCH_LIMIT,
                                              "items": {"$ref": "#/components/schemas/ClaimInput"}}}}}}},
                "responses": {"201": _json("BatchResponse", "All stored and routed"),
                              **_POST_ERRORS, **_COMMON_ERRORS}}},
            "/claims/{claim_number}": {"get": {
                "summary": "A claim with its latest routing decision", "x-scope": "claims:read",
                "parameters": [{"name": "claim_number", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json("Claim", "The claim"),
                              "404": _error("No such claim, or outside the caller's departments"),
                              **_COMMON_ERRORS}}},
            "/claims/{claim_number}/documents": {
                "get": {"summary": "The claim's documents (files attached to it)", "x-scope": "claims:read",
                        "parameters": [_CLAIM_NUMBER],
                        "responses": {"200": _json("DocumentList", "The claim's documents, oldest first"),
                                      "404": _error("No such claim, or outside the caller's departments"),
                                      **_COMMON_ERRORS}},
                "post": {"summary": "Attach up to 5 files (PDF, photos, Word, Excel, text; 10 MB each, 20 MB "
                                    "together), all or none",
                         "description": "What a file is comes from its bytes; a name that says another type is "
                                        "refused. The same file twice on a claim is refused with 409 and the "
                                        "id of the copy already there, so a retry is safe.",
                         "x-scope": "claims:write", "parameters": [_CLAIM_NUMBER],
                         "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                             "type": "object", "required": ["file", "kind"], "properties": {
                                 "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                                 "kind": {"type": "string", "enum": list(DOCUMENT_KINDS)},
                                 "note": {"type": "string", "maxLength": 500}}}}}},
                         "responses": {"201": _json("DocumentList", "Attached"),
                                       "404": _error("No such claim, or outside the caller's departments"),
                                       "409": _error("The file is attached already (fields.existing_document_id)",
                                                     True),
                                       "413": _error("Request body too large"),
                                       "415": _error("Not multipart/form-data"),
                                       "422": _error("A file or the kind is not accepted; nothing was attached",
                                                     True),
                                       **_COMMON_ERRORS,
                                       "403": _error("The token lacks the scope, or its owner cannot work "
                                                     "this claim")}}},
            "/claims/{claim_number}/documents/{document_id}": {"get": {
                "summary": "Download a document (as an attachment; audited)", "x-scope": "claims:read",
                "parameters": [_CLAIM_NUMBER, {"name": "document_id", "in": "path", "required": True,
                                               "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "The file", "content": {"application/octet-stream": {}}},
                              "404": _error("No such document on this claim"),
                              **_COMMON_ERRORS,
                              "403": _error("The token lacks the scope, or its owner's role does not see "
                                            "personal data"),
                              "503": _error("The download could not be recorded in the audit log, so it was "
                                            "not given; retry")}}},
            "/queues/{department_code}": {"get": {
                "summary": "Open claims of a department queue, newest report first",
                "description": "Page through every open claim by following `next`: pass it as `after` "
                               "(with the same limit or another) until `next` is null. `offset` reaches only "
                               f"the first {MAX_OFFSET:,} claims; `total` counts them all.",
                "x-scope": "queues:read",
                "parameters": [
                    {"name": "department_code", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "description": "ASCII digits",
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50}},
                    {"name": "offset", "in": "query", "description": "ASCII digits; not with after",
                     "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
                    {"name": "after", "in": "query", "description": "The previous page's next (opaque)",
                     "schema": {"type": "string"}}],
                "responses": {"200": _json("Queue", "A page of open claims"),
                              "404": _error("No such department"),
                              "422": _error("Invalid limit, offset or after", True),
                              **_COMMON_ERRORS,
                              "403": _error("The token lacks the scope, or the queue is outside the departments "
                                            "of the token's owner")}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI document"},
                                                    "429": _TOO_MANY}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Scopes: " + ", ".join(API_SCOPES)}},
            "schemas": {
                "ClaimInput": {"type": "object", "additionalProperties": False,
                               "required": list(intake.REQUIRED),
                               "properties": {**{f.name: _field_schema(f) for f in intake.FIELDS},
                                              "parties": _parties_schema()}},
                "Decision": decision,
                "CreatedClaim": created,
                "CreatedClaimResponse": {"type": "object",
                                         "properties": {"claim": {"$ref": "#/components/schemas/CreatedClaim"}}},
                "BatchResponse": {"type": "object", "properties": {
                    "count": {"type": "integer"}, "shap_method": {"type": "string"},
                    "claims": {"type": "array", "items": {"$ref": "#/components/schemas/CreatedClaim"}}}},
                "Claim": claim,
                "DocumentList": {"type": "object", "properties": {
                    "claim_number": {"type": "string"},
                    "documents": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "filename": {"type": "string"},
                        "kind": {"type": "string", "enum": list(DOCUMENT_KINDS)},
                        "content_type": {"type": "string"}, "size_bytes": {"type": "integer"},
                        "sha256": {"type": "string"}, "note": {"type": ["string", "null"]},
                        "uploaded_at": {"type": "string", "format": "date-time"}}}}}},
                "Queue": {"type": "object", "properties": {
                    "department": {"type": "string"},
                    "total": {"type": "integer", "description": "Every open claim of the queue, not only those "
                                                               "one offset reaches"},
                    "total_estimated": {"type": "boolean",
                                        "description": f"true above {EXACT_COUNT_LIMIT:,} claims, where total "
                                                       "is the planner's estimate"},
                    "limit": {"type": "integer"}, "offset": {"type": "integer"},
                    "after": {"type": ["string", "null"]},
                    "next": {"type": ["string", "null"],
                             "description": "Pass as after for the next page; null on the last page"},
                    "claims": {"type": "array", "items": {"type": "object"}}}},
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "ValidationError": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"},
                    "fields": {"type": "object",
                               "description": "{field: message}, or {index: {field: message}} for a batch"}}},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(document())
