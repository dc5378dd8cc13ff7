"""REST API v1 (DESIGN §6): flask-smorest blueprints under /api/v1, marshmallow
schemas, and the OpenAPI document at /api/v1/openapi.json built from them, so the
document cannot drift from the code. Authentication: ciam.api.auth."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from ciam.api.docs import register_docs
from ciam.api.errors import ApiErrorSchema

PREFIX = "/api/v1"


class CiamApi(Api):
    """flask-smorest's Api without its app-wide error handler: that one would answer
    every error of the app, pages included, in its own JSON. API blueprints register
    ours (ciam.api.errors); the rest of the app keeps ciam.errors."""

    ERROR_SCHEMA = ApiErrorSchema

    def _register_error_handlers(self) -> None:
        pass


def setup_api(app: Flask) -> None:
    from ciam.api import (  # noqa: F401  (models: tables known)
        auth,
        catalogue,
        invitations,
        members,
        models,
        orgs,
        people,
    )
    from ciam.extensions import csrf

    app.config.setdefault("API_TITLE", "ciam")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {"servers": [{"url": app.config["CIAM_ISSUER"]}]})
    api = CiamApi(app)
    api.spec.components.security_scheme(
        auth.SECURITY_SCHEME,
        {
            "type": "oauth2",
            "description": "An access token from our token endpoint: client_credentials "
            "for machine clients, the authorization code flow of a first-party portal for a "
            "person acting with their own rights (ciam:admin).",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": app.config["CIAM_ISSUER"] + "/oauth/token",
                    "scopes": auth.SCOPES,
                },
                "authorizationCode": {
                    "authorizationUrl": app.config["CIAM_ISSUER"] + "/oauth/authorize",
                    "tokenUrl": app.config["CIAM_ISSUER"] + "/oauth/token",
                    "scopes": auth.PERSON_SCOPES,
                },
            },
        },
    )
    for bp in (invitations.bp, orgs.bp, members.bp, catalogue.bp, people.bp):
        # Bearer tokens, no cookies: nothing for a cross-site form to ride on.
        csrf.exempt(bp)
        api.register_blueprint(bp, url_prefix=PREFIX)
    register_docs(app, api, PREFIX)
