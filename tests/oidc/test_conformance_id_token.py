"""The ID token (OIDC Core §2, §3.1.3.6, §3.1.3.7) and UserInfo (§5.3) as the Basic
OP plan checks them."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
import requests
from joserfc import jws

from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp, validate_id_token

# Each test runs with the fast path on and off (tests/oidc/conftest.py).
pytestmark = pytest.mark.usefixtures("fastpath_mode")


def _decode_header(id_token: str) -> dict:
    return jws.extract_compact(id_token.encode()).headers()


def test_id_token_claims(live_server, make):
    """aud, azp, iss, exp > iat, iat about now, auth_time, at_hash of the access token;
    header typ JWT and a kid that the JWKS publishes with the same alg."""
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    before = int(time.time())

    token, claims, _ = rp.login(user.email, PASSWORD)

    now = int(time.time())
    assert claims["iss"] == live_server
    assert claims["aud"] == portal.client_id
    assert claims["azp"] == portal.client_id
    assert claims["sub"] == str(user.id)
    assert claims["exp"] > claims["iat"]
    assert before - 5 <= claims["iat"] <= now + 5
    assert before - 5 <= claims["auth_time"] <= claims["iat"]

    header = _decode_header(token["id_token"])
    assert header["typ"] == "JWT"
    jwks = requests.get(rp.metadata["jwks_uri"], timeout=5).json()["keys"]
    published = {key["kid"]: key for key in jwks}
    assert header["kid"] in published
    assert header["alg"] == published[header["kid"]]["alg"] == "RS256"
    # §3.1.3.6: base64url of the left half of the SHA-256 (for RS256) of the token.
    digest = hashlib.sha256(token["access_token"].encode("ascii")).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_sub_is_stable_across_logins_and_matches_userinfo(live_server, make):
    """The same person gets the same sub in separate logins (fresh browsers), and
    UserInfo's sub equals the ID token's (§5.3.2: the RP must check this)."""
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)

    first_token, first, _ = rp.login(user.email, PASSWORD)
    second_token, second, _ = rp.login(user.email, PASSWORD)

    assert first["sub"] == second["sub"]
    for token, claims in ((first_token, first), (second_token, second)):
        info = rp.userinfo(token["access_token"])
        assert info.status_code == 200
        assert info.json()["sub"] == claims["sub"]


def test_different_people_get_different_subs(live_server, make):
    """sub identifies the person: two accounts never share one."""
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    a, b = make.user(), make.user()

    subs = {rp.login(person.email, PASSWORD)[1]["sub"] for person in (a, b)}

    assert len(subs) == 2


def test_userinfo_by_post_with_bearer_header(live_server, make):
    """OIDC Core §5.3.1: UserInfo answers POST as well as GET, with the token in the
    Authorization header (RFC 6750 §2.1), and in the form body (§2.2)."""
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    token, claims, _ = rp.login(user.email, PASSWORD)
    endpoint = rp.metadata["userinfo_endpoint"]

    by_header = requests.post(
        endpoint, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    )
    by_body = requests.post(endpoint, data={"access_token": token["access_token"]}, timeout=5)

    for response in (by_header, by_body):
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json()["sub"] == claims["sub"]
        assert response.json()["email"] == user.email


def test_userinfo_refuses_token_in_query(live_server, make):
    """RFC 6750 §2.3 query tokens end up in logs; UserInfo does not take them."""
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    token, _, _ = rp.login(user.email, PASSWORD)

    response = requests.get(
        rp.metadata["userinfo_endpoint"],
        params={"access_token": token["access_token"]},
        timeout=5,
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_id_token_carries_a_stable_opaque_sid(live_server, make):
    """claims_supported lists `sid`, so ID tokens carry it (OpenID Connect
    Back-Channel Logout 1.0 §2.4): the same value for every token of one login
    session (a second authorization, a refresh), another for another session, and
    neither the session cookie nor the key the server keeps for it."""
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    token, first, browser = rp.login(user.email, PASSWORD)
    _, again, _ = rp.login(user.email, PASSWORD, browser=browser)
    refreshed = rp.session.refresh_token(rp.metadata["token_endpoint"], token["refresh_token"])
    from_refresh = validate_id_token(refreshed["id_token"], live_server, portal.client_id, None)
    _, other_session, _ = rp.login(user.email, PASSWORD)

    assert first["sid"] and len(first["sid"]) >= 32
    assert again["sid"] == first["sid"] == from_refresh["sid"]
    assert other_session["sid"] != first["sid"]
    cookie = next(value for name, value in browser.http.cookies.items() if "session" in name)
    assert first["sid"] not in (cookie, hashlib.sha256(cookie.encode()).hexdigest())
