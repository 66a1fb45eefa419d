"""REST API, version 1. Every endpoint authenticates with a bearer token
(``Authorization: Bearer <token>``) and checks the token's scopes."""
from flask import Blueprint

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
