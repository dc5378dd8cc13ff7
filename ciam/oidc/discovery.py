"""OIDC Discovery (`/.well-known/openid-configuration`) and the JWKS endpoint.

Both are hot paths for every portal: the discovery body is built once per process,
the JWKS body comes from the key cache, and both carry Cache-Control and an ETag so
portals and proxies can revalidate for free.
"""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.http import parse_etags

from ciam.oidc.claims import CLAIMS_SUPPORTED, SCOPES_SUPPORTED
from ciam.oidc.keys import SUPPORTED_ALGS, KeyCache, snapshot
from ciam.request_hooks import HSTS, SECURITY_HEADERS

bp = Blueprint("discovery", __name__)

DISCOVERY_MAX_AGE = 3600


def build_metadata(issuer: str) -> dict:
    endpoint = issuer + "/oauth/"
    return {
        "issuer": issuer,
        "authorization_endpoint": endpoint + "authorize",
        "token_endpoint": endpoint + "token",
        "userinfo_endpoint": endpoint + "userinfo",
        "jwks_uri": endpoint + "jwks",
        "end_session_endpoint": endpoint + "logout",
        "introspection_endpoint": endpoint + "introspect",
        "revocation_endpoint": endpoint + "revoke",
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "authorization_response_iss_parameter_supported": True,
        "prompt_values_supported": ["none", "login", "consent"],
        # "mfa": a session that used a second factor (step-up; see README).
        "acr_values_supported": ["password", "mfa"],  # ciam.accounts.login.assurance
        "service_documentation": issuer + "/api/v1/docs",
    }


def _cached_json(body: bytes, etag: str, max_age: int) -> Response:
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/.well-known/openid-configuration")
def openid_configuration():
    body, etag = current_app.extensions["ciam.discovery"]
    return _cached_json(body, etag, DISCOVERY_MAX_AGE)


@bp.get("/oauth/jwks")
def jwks():
    keys = snapshot()
    return _cached_json(keys.jwks_body, keys.jwks_etag, current_app.config["CIAM_JWKS_MAX_AGE"])


class MetadataFastPath:
    """WSGI middleware answering GET/HEAD on the discovery and JWKS paths from the
    prebuilt bodies, before Flask's dispatch, the rate limiter, CSRF and the session
    interface (DESIGN §7: these are the most frequent requests of all). The answer is
    the one the views above give, byte for byte, headers included. Anything else, and
    JWKS while the key cache is due for a reload, goes on to Flask."""

    def __init__(self, wsgi_app, app: Flask):
        self.wsgi_app = wsgi_app
        self.discovery = app.extensions["ciam.discovery"]
        self.keys: KeyCache = app.extensions.setdefault("ciam.keys", KeyCache())
        self.jwks_max_age = app.config["CIAM_JWKS_MAX_AGE"]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO")
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            if path == "/.well-known/openid-configuration":
                body, etag = self.discovery
                return self._respond(environ, start_response, body, etag, DISCOVERY_MAX_AGE)
            if path == "/oauth/jwks":
                keys = self.keys.fresh()
                if keys is not None:
                    return self._respond(
                        environ, start_response, keys.jwks_body, keys.jwks_etag, self.jwks_max_age
                    )
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _respond(environ, start_response, body: bytes, etag: str, max_age: int):
        headers = [
            ("ETag", f'"{etag}"'),
            ("Cache-Control", f"public, max-age={max_age}"),
            ("Access-Control-Allow-Origin", "*"),
            *SECURITY_HEADERS,
        ]
        if environ.get("wsgi.url_scheme") == "https":
            headers.append(HSTS)
        if parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains(etag):
            start_response("304 NOT MODIFIED", headers)
            return [b""]
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]


def setup_discovery(app: Flask) -> None:
    body = json.dumps(build_metadata(app.config["CIAM_ISSUER"]), indent=1).encode()
    etag = hashlib.sha256(body).hexdigest()[:32]
    app.extensions["ciam.discovery"] = (body, etag)
    app.register_blueprint(bp)
    app.wsgi_app = MetadataFastPath(app.wsgi_app, app)  # type: ignore[method-assign]
