"""REST API, version 1. Every endpoint authenticates with a bearer token
(``Authorization: Bearer <token>``) and checks the token's scopes."""
from flask import Blueprint

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

# Route modules register themselves on ``bp`` when imported.
from api.v1 import claims, documents, errors, openapi, queues  # noqa: E402,F401
