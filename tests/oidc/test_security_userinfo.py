"""Negative tests for bearer tokens at the UserInfo endpoint (RFC 6750, RFC 9068,
RFC 8725): forged, confused, expired, mistyped and misplaced tokens are all refused
with 401 and a `WWW-Authenticate: Bearer` challenge.

Each forgery starts from a real, working access token and changes one thing, and
each test first checks the real token works, so a refusal can only come from that
one change."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests
from joserfc import jws
from joserfc.jwk import RSAKey

from ciam.oidc import keys
from tests.oidc.attacker import b64url, client_for, jwt_parts, userinfo

# Each test runs with the fast path on and off (tests/oidc/conftest.py).
pytestmark = pytest.mark.usefixtures("fastpath_mode")


@pytest.fixture
def issued(live_server, make):
    """A real token response for a confidential portal, and the user behind it."""
    user = make.user()
    portal, secret = make.portal()
    client = client_for(live_server, portal, secret)
    tokens = client.login(user.email)
    assert userinfo(live_server, tokens["access_token"]).status_code == 200
    return tokens


def assert_invalid_token(response: requests.Response) -> None:
    assert response.status_code == 401, (response.status_code, response.text)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert response.json()["error"] == "invalid_token"
    assert "sub" not in response.json()


def rsa_public_key(issuer: str, kid: str) -> RSAKey:
    jwks = requests.get(f"{issuer}/oauth/jwks", timeout=5).json()
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    return RSAKey.import_key(jwk)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"alg": "none"}, id="bare"),
        pytest.param({"alg": "none", "typ": "at+jwt"}, id="typed"),
        pytest.param("with-kid", id="with-real-kid"),
        pytest.param("None-with-kid", id="capitalised-None"),
    ],
)
def test_unsigned_alg_none_token_is_refused(live_server, issued, header):
    """RFC 8725 §3.2 / DESIGN §8: `alg: none` is never accepted, with or without the
    kid of a real key and whatever its spelling."""
    real_header, claims, _ = jwt_parts(issued["access_token"])
    if header == "with-kid":
        header = {**real_header, "alg": "none"}
    elif header == "None-with-kid":
        header = {**real_header, "alg": "None"}
    forged = f"{b64url(header)}.{b64url(claims)}."
    assert_invalid_token(userinfo(live_server, forged))


@pytest.mark.parametrize("secret_from", ["pem", "n", "jwk-json"])
def test_hmac_signed_with_public_key_is_refused(live_server, issued, secret_from):
    """RFC 8725 §2.1 algorithm confusion: an HS256 token whose HMAC secret is our
    public RSA key (PEM, modulus or JWK) is refused; the key's own alg is the only
    one tried."""
    real_header, claims, _ = jwt_parts(issued["access_token"])
    public = rsa_public_key(live_server, real_header["kid"])
    jwk = public.as_dict(private=False)
    secret = {
        "pem": public.as_pem(private=False),
        "n": jwk["n"].encode(),
        "jwk-json": json.dumps(jwk).encode(),
    }[secret_from]
    header = {**real_header, "alg": "HS256"}
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    assert_invalid_token(userinfo(live_server, f"{signing_input}.{b64url(mac)}"))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"sub": "00000000-0000-0000-0000-000000000000"}, id="sub"),
        pytest.param({"scope": "openid profile email phone"}, id="scope"),
        pytest.param({"exp": 4102444800}, id="exp"),
    ],
)
def test_tampered_payload_is_refused(live_server, issued, change):
    """RFC 7515 §5.2: changing any claim breaks the signature."""
    header_part, _, signature = issued["access_token"].split(".")
    _, claims, _ = jwt_parts(issued["access_token"])
    forged = f"{header_part}.{b64url({**claims, **change})}.{signature}"
    assert_invalid_token(userinfo(live_server, forged))


def test_token_signed_by_a_foreign_key_with_our_kid_is_refused(live_server, issued):
    """A kid names a key; it does not make one. A token signed by another RSA key
    that claims our kid fails verification."""
    real_header, _, _ = jwt_parts(issued["access_token"])
    payload = jws.extract_compact(issued["access_token"].encode()).payload
    foreign = RSAKey.generate_key(2048, private=True)
    forged = jws.serialize_compact(real_header, payload, foreign, algorithms=["RS256"])
    assert_invalid_token(userinfo(live_server, forged))


def test_expired_access_token_is_refused(ctx, live_server, issued):
    """RFC 9068 §4: exp is checked. A token signed by our own key, for a live token
    row, but past its exp, is invalid_token."""
    _, claims, _ = jwt_parts(issued["access_token"])
    now = int(time.time())
    expired = keys.sign({**claims, "iat": now - 120, "exp": now - 60}, typ="at+jwt")
    assert_invalid_token(userinfo(live_server, expired))


def test_access_token_from_another_issuer_is_refused(ctx, live_server, issued):
    """RFC 9068 §4: iss must be ours, even when the signature is."""
    _, claims, _ = jwt_parts(issued["access_token"])
    other = keys.sign({**claims, "iss": "https://evil.test"}, typ="at+jwt")
    assert_invalid_token(userinfo(live_server, other))


def test_id_token_is_not_an_access_token(live_server, issued):
    """RFC 9068 §2.1 / RFC 8725 §3.11: an ID token (typ JWT) is not accepted as an
    access token, though we signed it."""
    assert_invalid_token(userinfo(live_server, issued["id_token"]))


def test_access_claims_with_wrong_typ_are_refused(ctx, live_server, issued):
    """The typ check alone refuses a token: the very claims of a working access token
    (same jti), signed by our key but typed JWT, are refused."""
    _, claims, _ = jwt_parts(issued["access_token"])
    assert_invalid_token(userinfo(live_server, keys.sign(claims, typ="JWT")))


def test_client_credentials_token_cannot_read_userinfo(live_server, make):
    """A machine token (client_credentials) has no user: userinfo is invalid_token."""
    portal, secret = make.portal(scopes=["openid", "profile"])
    client = client_for(live_server, portal, secret)
    response = client.token(grant_type="client_credentials", scope="openid")
    assert response.status_code == 200, response.text
    assert_invalid_token(userinfo(live_server, response.json()["access_token"]))


def test_token_in_query_string_is_refused(live_server, issued):
    """RFC 6750 §2.3 is not supported (URLs end up in logs): a token in the query
    string counts as no token at all, 401 with a bare Bearer challenge (§3.1: no
    error code when the method used is unsupported)."""
    response = requests.get(
        f"{live_server}/oauth/userinfo",
        params={"access_token": issued["access_token"]},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "invalid_request"
    assert "sub" not in response.json()


def test_missing_token_is_refused(live_server):
    """RFC 6750 §3.1: no credentials at all is 401 with a bare Bearer challenge."""
    response = requests.get(f"{live_server}/oauth/userinfo", timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("value", ["", "x", "a.b.c", "a.b", "..", "ä.ö.ü", "a" * 9000])
def test_garbage_bearer_token_is_refused(live_server, value):
    """Malformed bearer values are invalid_token (or, when empty, no token), never a
    server error."""
    response = requests.get(
        f"{live_server}/oauth/userinfo",
        headers={"Authorization": f"Bearer {value}".encode()},
        timeout=5,
    )
    assert response.status_code == 401, response.text
    if value:
        assert_invalid_token(response)
