"""Negative tests for refresh tokens (RFC 6749 §6, RFC 9700 §4.14), the token,
introspection (RFC 7662) and revocation (RFC 7009) endpoints, and retired portals."""

from __future__ import annotations

import base64

import pytest
import requests

from ciam.extensions import db
from ciam.oidc import portals
from ciam.oidc.models import Token
from tests.oidc.attacker import client_for, userinfo

# Each test runs with the fast path on and off (tests/oidc/conftest.py).
pytestmark = pytest.mark.usefixtures("fastpath_mode")


def assert_token_error(response, error: str, status: int = 400) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


@pytest.fixture
def user(make):
    return make.user()


@pytest.fixture
def portal_a(live_server, make):
    portal, secret = make.portal(scopes=["openid", "profile", "email", "offline_access"])
    return client_for(live_server, portal, secret)


@pytest.fixture
def portal_b(live_server, make):
    portal, secret = make.portal(redirect_uri="https://b.example.test/cb")
    return client_for(live_server, portal, secret)


@pytest.fixture
def public(live_server, make):
    portal, _ = make.portal(public=True, redirect_uri="https://spa.example.test/cb")
    return client_for(live_server, portal, None)


# --- refresh tokens -----------------------------------------------------------------


def test_rotated_refresh_token_reuse_revokes_the_family(portal_a, user):
    """RFC 9700 §4.14.2: a rotated refresh token presented again means it leaked.
    The request is invalid_grant and every token of the family is revoked, including
    the newest refresh token and access token the legitimate portal holds."""
    first = portal_a.login(user.email)
    second = portal_a.refresh(first["refresh_token"]).json()
    third = portal_a.refresh(second["refresh_token"]).json()
    assert userinfo(portal_a.issuer, third["access_token"]).status_code == 200

    assert_token_error(portal_a.refresh(first["refresh_token"]), "invalid_grant")

    for access_token in (first["access_token"], second["access_token"], third["access_token"]):
        assert userinfo(portal_a.issuer, access_token).status_code == 401
        assert portal_a.is_active(access_token) is False
    assert portal_a.is_active(third["refresh_token"]) is False
    assert_token_error(portal_a.refresh(third["refresh_token"]), "invalid_grant")


def test_refresh_token_of_another_client_is_refused_and_not_burned(portal_a, portal_b, user):
    """RFC 6749 §6: a refresh token is bound to its client. Another portal presenting
    it gets invalid_grant, and the attempt does not use the token up: its owner can
    still refresh with it, without tripping reuse detection."""
    tokens = portal_a.login(user.email)

    assert_token_error(portal_b.refresh(tokens["refresh_token"]), "invalid_grant")

    refreshed = portal_a.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert userinfo(portal_a.issuer, refreshed.json()["access_token"]).status_code == 200


def test_refresh_token_of_confidential_client_needs_its_secret(portal_a, user):
    """RFC 6749 §6: a confidential client authenticates to refresh; the token alone,
    sent as if by a public client, is invalid_client."""
    tokens = portal_a.login(user.email)
    response = portal_a.token(
        auth=None, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert_token_error(response, "invalid_client", 401)
    assert portal_a.refresh(tokens["refresh_token"]).status_code == 200


def test_refresh_scope_escalation_is_refused(portal_a, user):
    """RFC 6749 §6: a refresh may not add a scope that was not granted: invalid_scope.
    The refused request does not use the refresh token up either."""
    tokens = portal_a.login(user.email, scope="openid profile offline_access")

    assert_token_error(
        portal_a.refresh(tokens["refresh_token"], scope="openid profile email"), "invalid_scope"
    )

    retry = portal_a.refresh(tokens["refresh_token"])
    assert retry.status_code == 200, retry.text
    assert retry.json()["scope"] == "openid profile offline_access"


def test_reused_refresh_token_with_escalated_scope_still_revokes_the_family(portal_a, user):
    """Reuse detection comes first: a rotated refresh token replayed with a bad scope
    is still a reuse (invalid_grant, family revoked), not just an invalid_scope."""
    first = portal_a.login(user.email, scope="openid profile offline_access")
    second = portal_a.refresh(first["refresh_token"]).json()

    replay = portal_a.refresh(first["refresh_token"], scope="openid profile email")

    assert_token_error(replay, "invalid_grant")
    assert portal_a.is_active(second["refresh_token"]) is False
    assert userinfo(portal_a.issuer, second["access_token"]).status_code == 401


def test_refresh_scope_narrowing_is_allowed(portal_a, user):
    """RFC 6749 §6: a refresh may ask for fewer scopes; the new access token carries
    only those (userinfo then returns no email)."""
    tokens = portal_a.login(user.email)

    narrowed = portal_a.refresh(tokens["refresh_token"], scope="openid")

    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "openid"
    info = userinfo(portal_a.issuer, narrowed.json()["access_token"]).json()
    assert info == {"sub": str(user.id)}


def test_unknown_refresh_token_is_refused(portal_a):
    """A made-up refresh token is invalid_grant."""
    assert_token_error(portal_a.refresh("not-a-refresh-token"), "invalid_grant")


# --- retired portals ----------------------------------------------------------------


def test_retired_portal_gets_invalid_client_and_its_tokens_die(ctx, portal_a, user):
    """A retired portal cannot authenticate at the token endpoint (invalid_client) and
    every token it held is revoked at once."""
    tokens = portal_a.login(user.email)
    assert userinfo(portal_a.issuer, tokens["access_token"]).status_code == 200

    portals.retire_portal(portal_a.client_id)
    db.session.commit()

    assert_token_error(portal_a.refresh(tokens["refresh_token"]), "invalid_client", 401)
    assert_token_error(portal_a.token(grant_type="client_credentials"), "invalid_client", 401)
    assert userinfo(portal_a.issuer, tokens["access_token"]).status_code == 401
    db.session.expire_all()
    rows = db.session.scalars(db.select(Token).where(Token.client_id == portal_a.client_id))
    assert [row.revoked_at is not None for row in rows] == [True]


# --- introspection and revocation ---------------------------------------------------


def test_portal_cannot_introspect_another_portals_token(portal_a, portal_b, user):
    """RFC 7662 §2.2: a caller not allowed to see a token gets only active=false."""
    tokens = portal_a.login(user.email)
    assert portal_a.is_active(tokens["access_token"]) is True

    for value in (tokens["access_token"], tokens["refresh_token"]):
        response = portal_b.introspect(value)
        assert response.status_code == 200
        assert response.json() == {"active": False}


def test_portal_cannot_revoke_another_portals_token(portal_a, portal_b, user):
    """RFC 7009 §2.1: the server checks the token was issued to the caller; another
    portal's token is refused (invalid_grant) and stays active."""
    tokens = portal_a.login(user.email)

    for value in (tokens["refresh_token"], tokens["access_token"]):
        response = requests.post(
            f"{portal_b.issuer}/oauth/revoke", data={"token": value}, auth=portal_b.auth, timeout=5
        )
        assert_token_error(response, "invalid_grant")

    assert portal_a.is_active(tokens["access_token"]) is True
    assert portal_a.is_active(tokens["refresh_token"]) is True
    assert userinfo(portal_a.issuer, tokens["access_token"]).status_code == 200


def test_public_client_cannot_introspect(public, user):
    """RFC 7662 §2.1: introspection needs an authenticated caller; a public client
    (client_id only) is invalid_client, even for its own token."""
    tokens = public.login(user.email)
    response = requests.post(
        f"{public.issuer}/oauth/introspect",
        data={"token": tokens["access_token"], "client_id": public.client_id},
        timeout=5,
    )
    assert_token_error(response, "invalid_client", 401)


def test_unauthenticated_introspection_is_refused(portal_a, user):
    """RFC 7662 §2.1: without client credentials the answer is 401 invalid_client
    with a WWW-Authenticate challenge, not the token's state."""
    tokens = portal_a.login(user.email)
    response = requests.post(
        f"{portal_a.issuer}/oauth/introspect", data={"token": tokens["access_token"]}, timeout=5
    )
    assert_token_error(response, "invalid_client", 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


# --- token endpoint garbage ---------------------------------------------------------


def test_missing_grant_type_is_invalid_request(portal_a):
    """RFC 6749 §5.2: a missing required parameter is invalid_request."""
    assert_token_error(portal_a.token(code="x"), "invalid_request")


@pytest.mark.parametrize("grant_type", ["password", "implicit", "urn:example:made-up"])
def test_unknown_grant_type_is_unsupported(portal_a, grant_type):
    """RFC 6749 §5.2: grants we do not implement (the password grant is forbidden by
    RFC 9700 §2.4) are unsupported_grant_type."""
    response = portal_a.token(grant_type=grant_type, username="a", password="b")
    assert_token_error(response, "unsupported_grant_type")


def test_get_on_token_endpoint_is_405_json(live_server):
    """RFC 6749 §3.2: the token endpoint takes POST only; GET gets a JSON 405."""
    response = requests.get(
        f"{live_server}/oauth/token", params={"grant_type": "client_credentials"}, timeout=5
    )
    assert_token_error(response, "method_not_allowed", 405)
    assert "POST" in response.headers["Allow"]


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Basic", id="no-credentials"),
        pytest.param("Basic !!!not-base64!!!", id="not-base64"),
        pytest.param(basic(b"no-colon-here"), id="no-colon"),
        pytest.param(basic(b":"), id="empty-id-and-secret"),
        pytest.param(basic(b"\xff\xfe:\xff"), id="not-utf8"),
        pytest.param(basic(b"%zz%:%"), id="bad-percent-encoding"),
        pytest.param(basic(b"a" * 5000 + b":b"), id="huge-client-id"),
    ],
)
@pytest.mark.parametrize("endpoint", ["token", "introspect", "revoke"])
def test_malformed_basic_header_is_invalid_client(live_server, portal_a, header, endpoint):
    """RFC 6749 §2.3.1 / §5.2: a Basic header that cannot be parsed is a failed
    client authentication, 401 invalid_client, never a server error; on every
    endpoint that authenticates portals."""
    response = requests.post(
        f"{live_server}/oauth/{endpoint}",
        data={"grant_type": "client_credentials", "token": "x"},
        headers={"Authorization": header},
        timeout=5,
    )
    assert_token_error(response, "invalid_client", 401)


def test_wrong_client_secret_is_invalid_client(portal_a):
    """RFC 6749 §5.2: a wrong secret over Basic is 401 invalid_client with a Basic
    challenge; over the form it is invalid_client too."""
    response = portal_a.token(auth=(portal_a.client_id, "wrong"), grant_type="client_credentials")
    assert_token_error(response, "invalid_client", 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic ")

    posted = portal_a.token(auth=None, grant_type="client_credentials", client_secret="wrong")
    assert posted.json()["error"] == "invalid_client"
    assert posted.status_code in (400, 401)
    # Control: the right secret works.
    assert portal_a.token(grant_type="client_credentials").status_code == 200


def test_unknown_client_is_invalid_client(portal_a):
    """An unknown client_id in Basic credentials is 401 invalid_client."""
    response = portal_a.token(auth=("no-such-portal", "x"), grant_type="client_credentials")
    assert_token_error(response, "invalid_client", 401)


def test_confidential_client_without_secret_is_invalid_client(portal_a):
    """RFC 6749 §3.2.1: a confidential client must authenticate; naming itself with
    client_id alone (auth method none) is invalid_client."""
    response = portal_a.token(auth=None, grant_type="client_credentials")
    assert_token_error(response, "invalid_client", 401)


# --- one client, one authentication method (RFC 6749 §2.3, §5.2) ---------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"client_secret": "wrong"}, id="wrong-body-secret"),
        pytest.param({"client_secret": "own"}, id="own-body-secret-too"),
        pytest.param({"client_id": "other"}, id="body-client-id-of-another-portal"),
        pytest.param({"client_assertion": "x.y.z"}, id="client-assertion-too"),
    ],
)
@pytest.mark.parametrize("endpoint", ["token", "introspect", "revoke"])
def test_conflicting_client_credentials_are_refused(portal_a, portal_b, user, body, endpoint):
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method per
    request; §5.2 calls a request that does invalid_request. HTTP Basic for portal A
    with a body naming portal B, or with a client_secret of its own, is refused on
    every endpoint that authenticates portals, and the token it carried is untouched."""
    tokens = portal_a.login(user.email)
    conflict = {
        "client_secret": portal_a.secret if body.get("client_secret") == "own" else "wrong",
        "client_id": portal_b.client_id,
        "client_assertion": "x.y.z",
    }
    extra = {name: conflict[name] for name in body}
    form = {
        "token": {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        "introspect": {"token": tokens["access_token"]},
        "revoke": {"token": tokens["refresh_token"]},
    }[endpoint]
    response = requests.post(
        f"{portal_a.issuer}/oauth/{endpoint}",
        data={**form, **extra},
        auth=portal_a.auth,
        timeout=5,
    )
    assert_token_error(response, "invalid_request")
    assert "active" not in response.json()

    # Nothing was spent or revoked: the refresh token still rotates once.
    refreshed = portal_a.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text


def test_body_client_id_matching_basic_credentials_is_accepted(portal_a):
    """RFC 6749 §3.2.1: a client MAY name itself with client_id next to its Basic
    credentials; naming itself is not a second method."""
    response = portal_a.token(grant_type="client_credentials", client_id=portal_a.client_id)
    assert response.status_code == 200, response.text


def test_conflicting_credentials_do_not_burn_a_code(live_server, make, user):
    """A code redeemed with conflicting credentials is refused before it is looked
    at, so the portal can still redeem it (no replay is recorded)."""
    portal, secret = make.portal()
    client = client_for(live_server, portal, secret)
    code, verifier = client.get_code(user.email)
    refused = client.redeem(code, verifier, client_secret="wrong")
    assert_token_error(refused, "invalid_request")
    redeemed = client.redeem(code, verifier)
    assert redeemed.status_code == 200, redeemed.text
    assert userinfo(client.issuer, redeemed.json()["access_token"]).status_code == 200
