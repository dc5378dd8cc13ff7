"""API authentication: bearer access tokens from our token endpoint, with a scope.

Every refusal is JSON with `error`, `message` and `details`; 401s carry an RFC 6750
`WWW-Authenticate: Bearer` challenge, 403s name the missing scope."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import requests

from ciam.db import utcnow
from ciam.extensions import db
from ciam.oidc import keys, portals
from ciam.oidc.token_store import ACCESS_TOKEN_TYP
from tests.api.support import bearer, client_token, crm_headers
from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp

LIST = "/api/v1/invitations"


def _assert_refused(response, status: int, error: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json["error"] == error
    assert response.json["message"]
    assert "details" in response.json
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="ciam"')


def test_no_token_is_401_with_bare_bearer_challenge(client):
    """No Authorization header: 401, and a challenge without an error code (RFC 6750
    §3.1: the request carried no credentials)."""
    response = client.get(LIST)
    _assert_refused(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="ciam"'


def test_garbage_and_basic_credentials_are_401(client, make):
    """A random string, a Basic header with the client's own secret, and a token in
    the query string (RFC 6750 §2.3, refused: URLs are logged) are all refused."""
    portal, secret = make.crm_client()
    token = client_token(client, portal.client_id, secret)
    _assert_refused(client.get(LIST, headers=bearer("not-a-token")), 401, "invalid_token")
    basic = base64.b64encode(f"{portal.client_id}:{secret}".encode()).decode()
    response = client.get(LIST, headers={"Authorization": f"Basic {basic}"})
    _assert_refused(response, 401, "unauthorized")
    _assert_refused(client.get(LIST, query_string={"access_token": token}), 401, "unauthorized")


def test_tampered_token_is_401(client, make):
    """A token whose payload was changed (say, to add a scope) fails its signature."""
    portal, secret = make.crm_client(scopes=("invitations:read",))
    token = client_token(client, portal.client_id, secret)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "invitations:read invitations:write"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    headers = bearer(f"{header}.{forged}.{signature}")
    response = client.post(LIST, json={"email": "a@example.test", "org": "x"}, headers=headers)
    _assert_refused(response, 401, "invalid_token")


def test_revoked_token_is_401(client, make):
    """A token revoked at /oauth/revoke stops working on the API at once."""
    portal, secret = make.crm_client()
    token = client_token(client, portal.client_id, secret)
    assert client.get(LIST, headers=bearer(token)).status_code == 200
    basic = base64.b64encode(f"{portal.client_id}:{secret}".encode()).decode()
    revoked = client.post(
        "/oauth/revoke", data={"token": token}, headers={"Authorization": f"Basic {basic}"}
    )
    assert revoked.status_code == 200
    _assert_refused(client.get(LIST, headers=bearer(token)), 401, "invalid_token")


def test_token_of_retired_portal_is_401(client, make):
    """Retiring the CRM's client revokes its tokens; the API refuses them."""
    portal, secret = make.crm_client()
    token = client_token(client, portal.client_id, secret)
    portals.retire_portal(portal.client_id)
    db.session.commit()
    _assert_refused(client.get(LIST, headers=bearer(token)), 401, "invalid_token")


def test_expired_token_is_401(client, make):
    """A token of ours past its `exp` is refused, its signature being valid."""
    portal, secret = make.crm_client()
    token = client_token(client, portal.client_id, secret)
    _, claims = keys.verify(token)
    claims["exp"] = int((utcnow() - timedelta(seconds=1)).timestamp())
    expired = keys.sign(claims, typ=ACCESS_TOKEN_TYP)
    _assert_refused(client.get(LIST, headers=bearer(expired)), 401, "invalid_token")


def test_refresh_token_is_not_an_access_token(live_server, make):
    """A refresh token (a valid credential of another kind) is refused as a bearer."""
    user = make.user()
    portal, secret = make.portal(scopes=["openid", "offline_access"])
    token, _, _ = portal_rp(live_server, portal, secret, scope="openid offline_access").login(
        user.email, PASSWORD
    )
    response = requests.get(live_server + LIST, headers=bearer(token["refresh_token"]), timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_missing_scope_is_403_naming_the_scope(client, make):
    """A read-only client may read but not invite: 403 insufficient_scope, and the
    challenge names the scope it lacks. Nothing is created."""
    headers = crm_headers(client, make, scopes=("invitations:read",))
    make.org(slug="acme")
    assert client.get(LIST, headers=headers).status_code == 200
    response = client.post(LIST, json={"email": "a@example.test", "org": "acme"}, headers=headers)
    _assert_refused(response, 403, "insufficient_scope")
    assert response.json["details"] == {"scope": "invitations:write"}
    assert 'scope="invitations:write"' in response.headers["WWW-Authenticate"]
    assert client.get(LIST, headers=headers).json["items"] == []


def test_write_scope_alone_cannot_read(client, make):
    """Scopes are checked one by one: invitations:write does not imply read."""
    headers = crm_headers(client, make, scopes=("invitations:write",))
    _assert_refused(client.get(LIST, headers=headers), 403, "insufficient_scope")


def test_unauthenticated_call_is_refused_before_the_body_is_read(client):
    """Auth comes first: a malformed body without a token is a 401, not a 400/422,
    so nothing about the body's validation leaks to strangers."""
    response = client.post(LIST, data="{not json", content_type="application/json")
    _assert_refused(response, 401, "unauthorized")


def test_person_token_from_code_flow_needs_the_scope(live_server, make):
    """A person's access token from the authorization code flow is no CRM token: a
    portal's usual `openid profile email` token is refused with 403. Only a token
    that carries the API scope (the operator gave that portal the scope) is let in."""
    user = make.user()
    portal, secret = make.portal(scopes=["openid", "profile", "email", "invitations:read"])
    plain, _, _ = portal_rp(live_server, portal, secret).login(user.email, PASSWORD)
    response = requests.get(live_server + LIST, headers=bearer(plain["access_token"]), timeout=10)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"

    scoped, _, _ = portal_rp(live_server, portal, secret, scope="openid invitations:read").login(
        user.email, PASSWORD
    )
    response = requests.get(live_server + LIST, headers=bearer(scoped["access_token"]), timeout=10)
    assert response.status_code == 200
    assert response.json()["items"] == []
