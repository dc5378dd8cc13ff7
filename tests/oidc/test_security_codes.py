"""Negative tests for redeeming authorization codes (RFC 6749 §4.1.3, RFC 7636,
RFC 9700 §2.1.1 and §4.2.4): PKCE, single use, client and redirect URI binding,
expiry. Every refusal is the RFC 6749 §5.2 JSON error the portal can act on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from authlib.common.security import generate_token

from ciam.db import utcnow
from ciam.extensions import db
from ciam.oidc.models import AuthorizationCode
from tests.oidc.attacker import client_for, userinfo

# Each test runs with the fast path on and off (tests/oidc/conftest.py).
pytestmark = pytest.mark.usefixtures("fastpath_mode")


def assert_token_error(response, error: str, status: int = 400) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


@pytest.fixture
def public(live_server, make):
    portal, _ = make.portal(public=True, redirect_uri="https://spa.example.test/cb")
    return client_for(live_server, portal, None)


@pytest.fixture
def confidential(live_server, make):
    portal, secret = make.portal()
    return client_for(live_server, portal, secret)


@pytest.fixture
def user(make):
    return make.user()


def test_public_client_pkce_downgrade_is_refused(public, user):
    """RFC 7636 §4.6 / RFC 9700 §4.8: a code issued against a challenge cannot be
    redeemed without the verifier (a stolen code alone is useless)."""
    code, _ = public.get_code(user.email)
    assert_token_error(public.redeem(code, None), "invalid_request")


def test_confidential_client_pkce_downgrade_is_refused(confidential, user):
    """A confidential portal that chose PKCE is held to it: its secret does not
    replace the verifier the code was bound to."""
    code, _ = confidential.get_code(user.email)
    assert_token_error(confidential.redeem(code, None), "invalid_request")


def test_wrong_code_verifier_is_refused(public, user):
    """RFC 7636 §4.6: a verifier that does not hash to the challenge is invalid_grant."""
    code, _ = public.get_code(user.email)
    assert_token_error(public.redeem(code, generate_token(64)), "invalid_grant")


def test_code_verifier_without_challenge_is_refused(confidential, user):
    """RFC 9700 §4.8: a code_verifier for a code issued without code_challenge is
    refused; otherwise an attacker could inject a code and pass a verifier of choice."""
    code, _ = confidential.get_code(user.email, pkce=False)
    assert_token_error(confidential.redeem(code, generate_token(64)), "invalid_request")


def test_code_replay_is_refused_and_revokes_issued_tokens(confidential, user):
    """RFC 6749 §4.1.2 / RFC 9700 §4.2.4: a second redemption is invalid_grant and
    the access and refresh tokens from the first redemption are revoked."""
    code, verifier = confidential.get_code(user.email)
    first = confidential.redeem(code, verifier)
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert userinfo(confidential.issuer, tokens["access_token"]).status_code == 200

    assert_token_error(confidential.redeem(code, verifier), "invalid_grant")

    assert userinfo(confidential.issuer, tokens["access_token"]).status_code == 401
    assert confidential.is_active(tokens["access_token"]) is False
    assert confidential.is_active(tokens["refresh_token"]) is False
    assert_token_error(confidential.refresh(tokens["refresh_token"]), "invalid_grant")


def test_code_replay_also_revokes_refreshed_descendants(confidential, user):
    """What a code issued includes what its refresh tokens were rotated into: the
    whole family goes when the code is replayed."""
    code, verifier = confidential.get_code(user.email)
    tokens = confidential.redeem(code, verifier).json()
    rotated = confidential.refresh(tokens["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    newest = rotated.json()

    assert_token_error(confidential.redeem(code, verifier), "invalid_grant")

    assert userinfo(confidential.issuer, newest["access_token"]).status_code == 401
    assert confidential.is_active(newest["refresh_token"]) is False


def test_code_of_another_client_is_refused(live_server, make, confidential, user):
    """RFC 6749 §4.1.3: the code is bound to the client it was issued to; another
    portal presenting it gets invalid_grant, and the owner can still redeem it."""
    other_portal, other_secret = make.portal()
    other = client_for(live_server, other_portal, other_secret)
    code, verifier = confidential.get_code(user.email)

    assert_token_error(
        other.redeem(code, verifier, redirect_uri=confidential.redirect_uri), "invalid_grant"
    )

    assert confidential.redeem(code, verifier).status_code == 200


def test_code_of_another_public_client_is_refused(live_server, make, public, user):
    """Public clients cannot authenticate, so the binding to client_id is all that
    stops one public portal from redeeming another's code."""
    other_portal, _ = make.portal(public=True, redirect_uri="https://spa.example.test/cb")
    other = client_for(live_server, other_portal, None)
    code, verifier = public.get_code(user.email)

    assert_token_error(other.redeem(code, verifier), "invalid_grant")


def test_expired_code_is_refused(ctx, confidential, user):
    """RFC 6749 §4.1.2: codes are short-lived; one past its expiry is invalid_grant."""
    code, verifier = confidential.get_code(user.email)
    db.session.execute(
        db.update(AuthorizationCode).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()

    assert_token_error(confidential.redeem(code, verifier), "invalid_grant")


@pytest.mark.parametrize(
    "redirect_uri",
    [
        pytest.param("https://portal.example.test/callback/", id="different"),
        pytest.param(None, id="missing"),
    ],
)
def test_redirect_uri_mismatch_at_token_endpoint_is_refused(confidential, user, redirect_uri):
    """RFC 6749 §4.1.3: when the authorization request named a redirect_uri, the
    token request must repeat the identical value."""
    code, verifier = confidential.get_code(user.email)
    assert_token_error(
        confidential.redeem(code, verifier, redirect_uri=redirect_uri), "invalid_grant"
    )


def test_unknown_code_is_refused(confidential):
    """A made-up code is invalid_grant, not a server error."""
    assert_token_error(confidential.redeem(generate_token(48), None), "invalid_grant")


def test_missing_code_is_refused(confidential):
    """RFC 6749 §5.2: a missing required parameter is invalid_request."""
    response = confidential.token(grant_type="authorization_code")
    assert_token_error(response, "invalid_request")
