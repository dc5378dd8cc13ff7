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
        assert operation["security"] == _expected_security(path, method), (path, method)
        assert {"401", "403"} <= set(operation["responses"])


# Changes only the operator makes: a person's ciam:admin token is not documented there.
OPERATOR_ONLY = {
    ("/api/v1/orgs/{org}", "patch"),
    ("/api/v1/orgs/{org}/licences/{client_id}", "put"),
}


def _expected_security(path: str, method: str) -> list[dict]:
    """Invitations: their scope. Organizations, roles, people: the orgs scope of a
    machine client, or a person's ciam:admin token (any one of them)."""
    access = "read" if method == "get" else "write"
    if path.startswith("/api/v1/invitations"):
        return [{"oauth2": [f"invitations:{access}"]}]
    machine = {"oauth2": [f"orgs:{access}"]}
    if (path, method) in OPERATOR_ONLY:
        return [machine]
    return [machine, {"oauth2": ["ciam:admin"]}]


def test_security_scheme_and_schemas(client, app):
    """The oauth2 scheme points at our token endpoint (client credentials) and lists
    the scopes; request and response schemas are there, and errors are documented
    with the shape the API answers."""
    doc = client.get(OPENAPI).json
    flow = doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == app.config["CIAM_ISSUER"] + "/oauth/token"
    assert set(flow["scopes"]) == {
        "invitations:read",
        "invitations:write",
        "orgs:read",
        "orgs:write",
    }
    person = doc["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
    assert person["authorizationUrl"] == app.config["CIAM_ISSUER"] + "/oauth/authorize"
    assert set(person["scopes"]) == {"ciam:admin"}
    schemas = doc["components"]["schemas"]
    assert {"InvitationCreate", "Invitation", "BatchCreate", "Batch", "ApiError"} <= set(schemas)
    assert set(schemas["ApiError"]["properties"]) == {"error", "message", "details"}
    assert "token_hash" not in schemas["Invitation"]["properties"]
    create = doc["paths"]["/api/v1/invitations"]["post"]
    assert {"200", "201", "409", "422"} <= set(create["responses"])
    assert "413" in doc["paths"]["/api/v1/invitations/batch"]["post"]["responses"]
    assert {"Org", "OrgSettings", "Member", "MemberDetail", "MemberCreate", "Person"} <= set(
        schemas
    )
    assert set(schemas["Org"]["properties"]["policy"]["$ref"].split("/")[-1:]) == {"Policy"}
    members = doc["paths"]["/api/v1/orgs/{org}/members"]
    assert {"limit", "cursor", "q", "status", "role"} <= {
        p["name"] for p in members["get"]["parameters"]
    }
    assert {"201", "404", "409"} <= set(members["post"]["responses"])
