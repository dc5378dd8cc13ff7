"""The OpenAPI document at /api/v1/openapi.json is built from the code: every API
route is in it, with its scope, and the error shape the API really answers."""

from __future__ import annotations

import re

OPENAPI = "/api/v1/openapi.json"
DOC_ENDPOINTS = ("api-docs.", "api_docs.")  # flask-smorest's, and ciam.api.docs


def _api_routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every route the app serves under /api/v1, but the
    ones that serve the documentation itself (the document, the reference page)."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith(DOC_ENDPOINTS):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routes.update((path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"})
    return routes


def test_document_is_public_json(client):
    """No token needed: the document describes the API and holds no data."""
    response = client.get(OPENAPI)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json["openapi"].startswith("3.")
    assert response.json["info"]["version"] == "v1"


def test_every_api_route_is_documented_with_its_scope(app, client):
    """Each route under /api/v1 appears with its method, and asks for the oauth2
    scope its view checks (write for changes, read for reads)."""
    doc = client.get(OPENAPI).json
    documented = {
        (path, method)
        for path, ops in doc["paths"].items()
        for method in ops
        if method != "parameters"  # path parameters shared by the operations
    }
    routes = _api_routes(app)
    assert routes == documented
    assert ("/api/v1/invitations/batch", "post") in routes
    for path, method in routes:
        operation = doc["paths"][path][method]
        [requirement] = operation["security"]
        expected = "invitations:read" if method == "get" else "invitations:write"
        assert requirement == {"oauth2": [expected]}, (path, method)
        assert {"401", "403"} <= set(operation["responses"])


def test_security_scheme_and_schemas(client, app):
    """The oauth2 scheme points at our token endpoint (client credentials) and lists
    the scopes; request and response schemas are there, and errors are documented
    with the shape the API answers."""
    doc = client.get(OPENAPI).json
    flow = doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == app.config["CIAM_ISSUER"] + "/oauth/token"
    assert set(flow["scopes"]) == {"invitations:read", "invitations:write"}
    schemas = doc["components"]["schemas"]
    assert {"InvitationCreate", "Invitation", "BatchCreate", "Batch", "ApiError"} <= set(schemas)
    assert set(schemas["ApiError"]["properties"]) == {"error", "message", "details"}
    assert "token_hash" not in schemas["Invitation"]["properties"]
    create = doc["paths"]["/api/v1/invitations"]["post"]
    assert {"200", "201", "409", "422"} <= set(create["responses"])
    assert "413" in doc["paths"]["/api/v1/invitations/batch"]["post"]["responses"]
