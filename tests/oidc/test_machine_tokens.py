"""client_credentials access tokens: self-contained JWTs with no row when issued,
made inactive by revocation (RFC 7009) or by retiring their portal, both read from
the database on every introspection so every node agrees at once."""

from __future__ import annotations

import pytest
import requests

from ciam.extensions import db
from ciam.oidc import keys, portals
from ciam.oidc.models import RevokedAccessToken, Token
from ciam.oidc.token_store import ACCESS_TOKEN_TYP, find_token, is_machine_token
from tests.oidc.attacker import client_for

# Each test runs with the fast path on and off (tests/oidc/conftest.py).
pytestmark = pytest.mark.usefixtures("fastpath_mode")


@pytest.fixture
def machine(live_server, make):
    portal, secret = make.portal(scopes=["openid", "profile"])
    return client_for(live_server, portal, secret)


def _cc_token(machine) -> str:
    response = machine.token(grant_type="client_credentials")
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_issuing_writes_nothing_and_introspection_reads_the_claims(machine):
    """No tokens row is written; introspection answers from the signed claims."""
    token = _cc_token(machine)
    assert db.session.scalar(db.select(db.func.count()).select_from(Token)) == 0
    _, claims = keys.verify(token, typ=ACCESS_TOKEN_TYP)
    assert is_machine_token(claims)

    body = machine.introspect(token).json()
    assert body["active"] is True
    assert body["sub"] == body["client_id"] == machine.client_id
    assert (body["jti"], body["exp"], body["iat"]) == (claims["jti"], claims["exp"], claims["iat"])
    assert body["scope"] == claims["scope"]
    assert "username" not in body


def test_revoked_machine_token_is_inactive_and_revoking_twice_is_fine(machine):
    """RFC 7009: after revocation the token introspects inactive; a second
    revocation of the same token is accepted and changes nothing."""
    token = _cc_token(machine)
    other = _cc_token(machine)
    for _ in range(2):
        response = requests.post(
            f"{machine.issuer}/oauth/revoke", data={"token": token}, auth=machine.auth, timeout=5
        )
        assert response.status_code == 200, response.text
    assert machine.is_active(token) is False
    assert machine.is_active(other) is True
    [row] = db.session.scalars(db.select(RevokedAccessToken)).all()
    _, claims = keys.verify(token)
    assert (row.jti, row.client_id) == (claims["jti"], machine.client_id)
    assert int(row.expires_at.timestamp()) == claims["exp"]


def test_another_portal_cannot_revoke_or_introspect_it(machine, live_server, make):
    """A portal may introspect and revoke only its own tokens (RFC 7009 §2.1)."""
    token = _cc_token(machine)
    portal, secret = make.portal(redirect_uri="https://other.example.test/cb")
    other = client_for(live_server, portal, secret)
    assert other.is_active(token) is False
    requests.post(f"{other.issuer}/oauth/revoke", data={"token": token}, auth=other.auth, timeout=5)
    assert machine.is_active(token) is True
    assert db.session.scalar(db.select(db.func.count()).select_from(RevokedAccessToken)) == 0


def test_retiring_the_portal_deactivates_its_machine_tokens_at_once(machine, app):
    """Retiring is read from the portal row on every introspection, not from the
    per-process portal cache: no delay on any node."""
    token = _cc_token(machine)
    assert machine.is_active(token) is True
    with app.app_context():
        portals.retire_portal(machine.client_id)
        db.session.commit()
    # The portal can no longer authenticate; the token, read by ciam's own check
    # (the REST API's, say), is revoked too.
    with app.app_context():
        found = find_token(token, "access_token")
        assert found is not None and found.is_revoked()


def test_a_forged_machine_looking_token_is_not_accepted(machine):
    """Only our signature makes a token: claims that look like a machine token on
    an unsigned or foreign-signed JWT introspect as inactive."""
    token = _cc_token(machine)
    header, payload, _ = token.split(".")
    assert machine.is_active(f"{header}.{payload}.") is False
    assert machine.is_active(f"{header}.{payload}.AAAA") is False
