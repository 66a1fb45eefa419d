"""A small OpenID Connect provider for the tests: discovery, JWKS, authorize
(auto-approves the configured user), token (checks the client secret, the
redirect URI and the PKCE verifier; signs RS256 ID tokens) and userinfo.

Knobs on the running provider: ``user`` (the claims of whoever "signs in"),
``tamper_nonce`` (the ID token carries a different nonce), ``ticket`` (a
one-off id_token claims override)."""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID = "scope-test-client"
CLIENT_SECRET = "scope-test-secret-" + "s" * 20


@dataclass
class LocalProvider:
    issuer: str = ""
    user: dict = field(default_factory=dict)
    tamper_nonce: bool = False
    codes: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    authorize_requests: list = field(default_factory=list)
    token_requests: list = field(default_factory=list)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(
        2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"}, private=True))

    def id_token(self, claims: dict) -> str:
        return jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, self.key)


def build_app(provider: LocalProvider) -> Flask:
    app = Flask("test-oidc-provider")

    @app.get("/.well-known/openid-configuration")
    def discovery():
        base = provider.issuer
        return jsonify(issuer=base, authorization_endpoint=base + "/authorize", token_endpoint=base + "/token",
                       userinfo_endpoint=base + "/userinfo", jwks_uri=base + "/jwks",
                       response_types_supported=["code"], subject_types_supported=["public"],
                       id_token_signing_alg_values_supported=["RS256"],
                       code_challenge_methods_supported=["S256"],
                       token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"])

    @app.get("/jwks")
    def jwks():
        return jsonify(KeySet([provider.key]).as_dict(private=False))

    @app.get("/authorize")
    def authorize():
        args = request.args
        provider.authorize_requests.append(dict(args))
        if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
            return jsonify(error="invalid_request"), 400
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return jsonify(error="invalid_request", error_description="PKCE required"), 400
        code = secrets.token_urlsafe(16)
        provider.codes[code] = {"redirect_uri": args["redirect_uri"], "nonce": args.get("nonce"),
                                "challenge": args["code_challenge"], "user": dict(provider.user)}
        return redirect(args["redirect_uri"] + "?" + urlencode({"code": code, "state": args.get("state", "")}))

    @app.post("/token")
    def token():
        form = request.form
        provider.token_requests.append(dict(form))
        auth = request.authorization
        client_id = auth.username if auth else form.get("client_id")
        client_secret = auth.password if auth else form.get("client_secret")
        if client_id != CLIENT_ID or client_secret != CLIENT_SECRET:
            return jsonify(error="invalid_client"), 401
        grant = provider.codes.pop(form.get("code", ""), None)
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return jsonify(error="invalid_grant"), 400
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if digest != grant["challenge"]:
            return jsonify(error="invalid_grant", error_description="PKCE verifier does not match"), 400
        user = grant["user"]
        now = int(time.time())
        claims = {"iss": provider.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": "not-the-nonce" if provider.tamper_nonce else grant["nonce"], **user}
        access = secrets.token_urlsafe(16)
        provider.tokens[access] = user
        return jsonify(access_token=access, token_type="Bearer", expires_in=300, id_token=provider.id_token(claims))

    @app.get("/userinfo")
    def userinfo():
        header = request.headers.get("Authorization", "")
        user = provider.tokens.get(header.removeprefix("Bearer "))
        if user is None:
            return jsonify(error="invalid_token"), 401
        return jsonify(user)

    return app


def start() -> tuple[LocalProvider, object]:
    """Run a provider on a free port in a thread; returns (provider, server) — call server.shutdown()."""
    from werkzeug.serving import make_server

    provider = LocalProvider()
    server = make_server("127.0.0.1", 0, build_app(provider), threaded=True)
    provider.issuer = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return provider, server
