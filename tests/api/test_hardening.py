"""What every /api/v1 answer must do whatever the route: refuse deeply nested JSON
with a 400 in the API's error shape (never a 500), and carry `Cache-Control:
no-store` (ASVS 5.0 V14.3.2), the OpenAPI document aside."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.api.support import crm_headers

NESTED = "[" * 5000  # 10 KB of nothing but nesting: Python's decoder recurses per level


@pytest.mark.parametrize("path", ["/api/v1/invitations", "/api/v1/invitations/batch"])
def test_deeply_nested_json_is_400_invalid_json(client, make, path):
    """`[` x 5,000 is refused as invalid JSON with the API's error shape, not a
    RecursionError surfacing as a 500."""
    headers = crm_headers(client, make)
    response = client.post(path, data=NESTED, content_type="application/json", headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.json["error"] == "invalid_json"
    assert response.json["details"] == {"json": ["The JSON nests too deeply."]}
    assert set(response.json) == {"error", "message", "details"}


def test_nested_claims_parameter_is_not_a_500(client, make):
    """The `claims` authorization parameter (OIDC Core §5.5) nested 5,000 deep asks
    for nothing (a malformed `claims`), and the person is sent to the login page."""
    portal, _ = make.portal()
    response = client.get(
        "/oauth/authorize",
        query_string={
            "response_type": "code",
            "client_id": portal.client_id,
            "redirect_uri": "https://portal.example.test/callback",
            "scope": "openid",
            "state": "s",
            "nonce": "n",
            "claims": "{" + '"a":{' * 2500,
        },
    )
    assert response.status_code in (302, 303), response.status_code
    assert "/login" in response.headers["Location"]


def _concrete(rule) -> str:
    """A URL for a rule: every converter filled with a fresh UUID (or a word)."""
    return re.sub(
        r"<(?:([a-z]+):)?[a-z_]+>",
        lambda m: str(uuid.uuid4()) if m.group(1) == "uuid" else "x",
        rule.rule,
    )


def _api_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and not rule.endpoint.startswith("api-docs.")
    ]


def test_every_api_answer_is_no_store(app, client, make):
    """Every route under /api/v1 (found in the url_map, so a new route is covered),
    every method, answers with `Cache-Control: no-store`, successes included."""
    headers = crm_headers(client, make)
    make.org(slug="acme")
    created = client.post(
        "/api/v1/invitations", json={"email": "pat@example.com", "org": "acme"}, headers=headers
    )
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    listed = client.get("/api/v1/invitations", headers=headers)
    one = client.get(f"/api/v1/invitations/{created.json['id']}", headers=headers)
    assert (listed.status_code, one.status_code) == (200, 200)
    assert listed.headers["Cache-Control"] == one.headers["Cache-Control"] == "no-store"
    rules = _api_rules(app)
    assert len(rules) >= 5
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(_concrete(rule), method=method, json={}, headers=headers)
            assert response.headers.get("Cache-Control") == "no-store", (rule.rule, method)


def test_openapi_document_stays_cacheable(client):
    """The document holds no personal data: it is not marked no-store."""
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
