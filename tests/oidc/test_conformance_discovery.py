"""OpenID certification, Config OP plan: discovery metadata and the JWKS.

OIDC Discovery 1.0 §3 (metadata), §4.3 (issuer must match exactly), RFC 7517 (JWKS).
"""

from __future__ import annotations

import pytest
import requests

from tests.oidc.rp import discover

ENDPOINT_FIELDS = (
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "end_session_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
)
# RFC 7518 §6.2.2 / §6.3.2 / §6.4: members that only a private or symmetric key has.
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def test_discovery_required_and_recommended_fields(live_server):
    """Discovery §3: every REQUIRED and RECOMMENDED field is there and consistent."""
    response = requests.get(live_server + "/.well-known/openid-configuration", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    meta = response.json()

    # §4.3: the issuer is exactly the configured one, character for character.
    assert meta["issuer"] == live_server
    for field in ENDPOINT_FIELDS:
        assert meta[field].startswith(live_server + "/"), field
    assert "code" in meta["response_types_supported"]
    assert meta["subject_types_supported"]
    assert set(meta["subject_types_supported"]) <= {"public", "pairwise"}
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert "none" not in meta["id_token_signing_alg_values_supported"]
    # RECOMMENDED members.
    assert "openid" in meta["scopes_supported"]
    assert {"sub", "iss", "aud", "exp", "iat", "auth_time"} <= set(meta["claims_supported"])
    # OPTIONAL members the certification suite reads: what we advertise must be true.
    assert "query" in meta["response_modes_supported"]
    assert "authorization_code" in meta["grant_types_supported"]
    assert "client_secret_basic" in meta["token_endpoint_auth_methods_supported"]
    assert meta["request_parameter_supported"] is False
    assert meta["request_uri_parameter_supported"] is False
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert {"none", "login"} <= set(meta["prompt_values_supported"])


def test_advertised_endpoints_are_served(live_server):
    """Every endpoint URL in discovery answers (no 404): the document is not stale."""
    meta = discover(live_server)
    expected = {
        "authorization_endpoint": ("get", 400),  # no parameters: error page
        "token_endpoint": ("post", 400),  # no grant_type
        "userinfo_endpoint": ("get", 401),  # no bearer token
        "jwks_uri": ("get", 200),
        "end_session_endpoint": ("get", 200),  # no session: signed-out page
        "introspection_endpoint": ("post", 401),  # no client authentication
    }
    for field, (method, status) in expected.items():
        response = requests.request(method, meta[field], allow_redirects=False, timeout=5)
        assert response.status_code == status, (field, response.status_code, response.text)


def test_service_documentation_is_the_api_reference(live_server):
    """service_documentation names a page people can read (it was a 404): the API
    reference, rendered from the OpenAPI document, listing every API operation, and
    allowed by our Content-Security-Policy (no inline or third-party script)."""
    meta = discover(live_server)
    page = requests.get(meta["service_documentation"], timeout=5)
    spec = requests.get(live_server + "/api/v1/openapi.json", timeout=5).json()

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    for path, item in spec["paths"].items():
        for method in item.keys() & {"get", "post", "put", "patch", "delete"}:
            assert f"{method.upper()} {path}" in page.text
    assert "<script" not in page.text


def test_jwks_publishes_only_public_signing_keys(live_server):
    """RFC 7517 §4: each key has kid, alg, use=sig; no private parts ever leave."""
    meta = discover(live_server)
    response = requests.get(meta["jwks_uri"], timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    keys = response.json()["keys"]
    assert keys
    kids = [key["kid"] for key in keys]
    assert len(set(kids)) == len(kids)
    algs = {key["alg"] for key in keys}
    assert "RS256" in algs
    assert algs <= set(meta["id_token_signing_alg_values_supported"])
    for key in keys:
        assert key["use"] == "sig"
        assert key["kty"] in ("RSA", "EC")
        assert not PRIVATE_MEMBERS & set(key), key


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/oauth/jwks"])
def test_discovery_and_jwks_are_cacheable(live_server, path):
    """Cache-Control with a max-age and an ETag; If-None-Match revalidates to 304."""
    first = requests.get(live_server + path, timeout=5)
    assert first.status_code == 200
    assert "max-age=" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    assert etag

    again = requests.get(live_server + path, headers={"If-None-Match": etag}, timeout=5)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag

    other = requests.get(live_server + path, headers={"If-None-Match": '"stale"'}, timeout=5)
    assert other.status_code == 200
    assert other.json() == first.json()
