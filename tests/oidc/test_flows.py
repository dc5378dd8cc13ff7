"""End-to-end flows with Authlib's OAuth client as the portal, over real HTTP."""

from __future__ import annotations

import pytest
import requests

from tests.factories import PASSWORD
from tests.oidc.rp import Portal, validate_id_token

# Each test runs with the fast path on and off (tests/oidc/conftest.py).
pytestmark = pytest.mark.usefixtures("fastpath_mode")


def test_public_spa_code_pkce_userinfo(live_server, make):
    """A public SPA completes code + PKCE S256 and reads userinfo for its scopes."""
    user = make.user(given_name="Pat", family_name="Lee")
    portal, _ = make.portal(public=True, redirect_uri="http://127.0.0.1:9000/cb")
    rp = Portal(live_server, portal.client_id, redirect_uri="http://127.0.0.1:9000/cb")

    token, claims, _ = rp.login(user.email, PASSWORD)

    assert claims["sub"] == str(user.id)
    assert claims["amr"] == ["pwd"]
    assert isinstance(claims["auth_time"], int)
    assert "at_hash" in claims
    info = rp.userinfo(token["access_token"])
    assert info.status_code == 200
    assert info.json() == {
        "sub": str(user.id),
        "email": user.email,
        "email_verified": True,
        "name": "Pat Lee",
        "given_name": "Pat",
        "family_name": "Lee",
        "updated_at": info.json()["updated_at"],
    }


def test_confidential_code_refresh_rotation(live_server, make):
    """A confidential portal gets a refresh token; each refresh rotates it."""
    user = make.user()
    portal, secret = make.portal()
    rp = Portal(live_server, portal.client_id, secret, redirect_uri=portal.redirect_uris[0])
    token, _, _ = rp.login(user.email, PASSWORD)
    first_refresh = token["refresh_token"]

    refreshed = rp.session.refresh_token(rp.metadata["token_endpoint"], first_refresh)

    assert refreshed["refresh_token"] != first_refresh
    assert refreshed["access_token"] != token["access_token"]
    claims = validate_id_token(refreshed["id_token"], live_server, portal.client_id, None)
    assert claims["sub"] == str(user.id)
    assert rp.userinfo(refreshed["access_token"]).status_code == 200


def test_client_secret_post_is_accepted(live_server, make):
    """client_secret_post authenticates as well as client_secret_basic."""
    portal, secret = make.portal()
    response = requests.post(
        live_server + "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": portal.client_id,
            "client_secret": secret,
        },
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_client_credentials_with_allowed_scopes(live_server, make):
    """A machine client gets an access token for its allowed scopes only."""
    portal, secret = make.portal(scopes=["crm:invite"])
    rp = Portal(live_server, portal.client_id, secret, scope="crm:invite")

    token = rp.session.fetch_token(rp.metadata["token_endpoint"], grant_type="client_credentials")

    assert token["scope"] == "crm:invite"
    assert "refresh_token" not in token
    denied = requests.post(
        rp.metadata["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "crm:invite admin"},
        auth=(portal.client_id, secret),
        timeout=5,
    )
    assert denied.status_code == 400
    assert denied.json()["error"] == "invalid_scope"


def test_introspection_and_revocation(live_server, make):
    """A portal introspects its token (active), revokes it, and it goes inactive."""
    user = make.user()
    portal, secret = make.portal()
    rp = Portal(live_server, portal.client_id, secret, redirect_uri=portal.redirect_uris[0])
    token, _, _ = rp.login(user.email, PASSWORD)
    auth = (portal.client_id, secret)
    introspect = rp.metadata["introspection_endpoint"]

    active = requests.post(
        introspect, data={"token": token["access_token"]}, auth=auth, timeout=5
    ).json()
    assert active["active"] is True
    assert active["sub"] == str(user.id)
    assert active["client_id"] == portal.client_id

    revoked = requests.post(
        rp.metadata["revocation_endpoint"],
        data={"token": token["refresh_token"]},
        auth=auth,
        timeout=5,
    )
    assert revoked.status_code == 200
    for value in (token["access_token"], token["refresh_token"]):
        after = requests.post(introspect, data={"token": value}, auth=auth, timeout=5).json()
        assert after == {"active": False}
    assert rp.userinfo(token["access_token"]).status_code == 401


def test_rp_initiated_logout_with_hint(live_server, make):
    """Logout with id_token_hint ends the session and returns to a registered URI."""
    user = make.user()
    portal, secret = make.portal(post_logout_redirect_uris=["https://portal.example.test/bye"])
    rp = Portal(live_server, portal.client_id, secret, redirect_uri=portal.redirect_uris[0])
    token, _, browser = rp.login(user.email, PASSWORD)

    response = browser.get(
        rp.metadata["end_session_endpoint"],
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": "https://portal.example.test/bye",
            "state": "s1",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "https://portal.example.test/bye?state=s1"
    assert browser.get("/account").status_code == 302  # session gone
    assert rp.userinfo(token["access_token"]).status_code == 401  # its tokens revoked
