"""Signing keys: JWKS content, rotation overlap, retirement, encryption at rest."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from joserfc import jws

from ciam.db import utcnow
from ciam.extensions import db
from ciam.oidc import keys
from ciam.oidc.models import SigningKey
from tests.factories import PASSWORD
from tests.oidc.rp import Portal

# Each test runs with the fast path on and off (tests/oidc/conftest.py).
pytestmark = pytest.mark.usefixtures("fastpath_mode")


def _jwks(client) -> list[dict]:
    return client.get("/oauth/jwks").json["keys"]


def _kid(token: str) -> str:
    return jws.extract_compact(token.encode()).headers()["kid"]


def _expire_cache(app) -> None:
    """What CIAM_KEY_CACHE_SECONDS passing looks like to a node."""
    app.extensions["ciam.keys"]._snapshot.expires_monotonic = 0


def test_jwks_publishes_rs256_and_es256_public_keys_only(client):
    """JWKS has one RS256 and one ES256 key, each with kid/alg/use and no private part."""
    published = _jwks(client)
    assert sorted(k["alg"] for k in published) == ["ES256", "RS256"]
    for key in published:
        assert key["use"] == "sig" and key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_private_keys_are_encrypted_at_rest(ctx):
    """DESIGN §5.5: the database holds no plaintext private key."""
    for row in db.session.scalars(db.select(SigningKey)):
        assert "PRIVATE KEY" not in row.private_key_encrypted
        assert row.private_key_encrypted.startswith("gAAAA")  # Fernet token


def test_token_signed_before_rotation_still_validates_after(live_server, make, app):
    """Rotation keeps the old key published: its tokens keep working at userinfo and
    the JWKS shows both keys during the overlap."""
    user = make.user()
    portal, secret = make.portal()
    rp = Portal(live_server, portal.client_id, secret, redirect_uri=portal.redirect_uris[0])
    token, _, _ = rp.login(user.email, PASSWORD)
    old_kid = _kid(token["access_token"])

    keys.rotate(delay_seconds=0)
    db.session.commit()

    kids = {k["kid"] for k in requests.get(rp.metadata["jwks_uri"], timeout=5).json()["keys"]}
    assert old_kid in kids and len(kids) == 4  # old + new, for RS256 and ES256
    assert rp.userinfo(token["access_token"]).status_code == 200
    fresh = rp.session.refresh_token(rp.metadata["token_endpoint"], token["refresh_token"])
    assert _kid(fresh["access_token"]) != old_kid
    assert _kid(fresh["access_token"]) in kids


def test_new_key_is_published_before_it_signs(ctx, app):
    """With the default delay the next key is in the JWKS but tokens still use the old."""
    before = keys.sign({"sub": "x"})
    keys.rotate()
    db.session.commit()
    after = keys.sign({"sub": "x"})
    assert _kid(after) == _kid(before)
    states = sorted(state for _, state in keys.list_keys())
    assert states == ["active", "active", "next", "next"]
    published = {k["kid"] for k in json.loads(keys.snapshot().jwks_body)["keys"]}
    assert len(published) == 4


def test_retired_key_leaves_jwks_after_its_tokens_expire(ctx, app):
    """Once publish_until passes the old key is no longer published nor accepted."""
    old_token = keys.sign({"sub": "x"})
    keys.rotate(delay_seconds=0)
    db.session.commit()
    assert keys.verify(old_token)[1]["sub"] == "x"
    for row in db.session.scalars(
        db.select(SigningKey).where(SigningKey.publish_until.isnot(None))
    ):
        row.publish_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    _expire_cache(app)
    published = {k["kid"] for k in json.loads(keys.snapshot().jwks_body)["keys"]}
    assert _kid(old_token) not in published
    assert sorted(state for _, state in keys.list_keys()) == [
        "active",
        "active",
        "expired",
        "expired",
    ]
    with pytest.raises(keys.InvalidJWT):
        keys.verify(old_token)


def test_rotation_on_another_node_is_seen_after_cache_lifetime(ctx, app):
    """Keys are cached per process; a rotation written by another node (no local
    invalidation) is published here once the cache lifetime passes."""
    before = {k["kid"] for k in json.loads(keys.snapshot().jwks_body)["keys"]}
    other_node_key = keys.create_key("RS256")  # as if `ciam keys rotate` ran elsewhere
    db.session.commit()
    assert other_node_key.kid not in {
        k["kid"] for k in json.loads(keys.snapshot().jwks_body)["keys"]
    }
    _expire_cache(app)
    after = {k["kid"] for k in json.loads(keys.snapshot().jwks_body)["keys"]}
    assert after == before | {other_node_key.kid}


def test_keys_rotate_cli(app):
    """`ciam keys rotate --delay 0` adds a key per alg and reports it."""
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--delay", "0"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("new ") == 2
    listing = app.test_cli_runner().invoke(args=["keys", "list", "--json"])
    states = sorted(row["state"] for row in json.loads(listing.stdout))
    assert states == ["active", "active", "retired", "retired"]


def test_jwks_supports_conditional_get(client):
    """JWKS carries Cache-Control and an ETag; If-None-Match answers 304."""
    first = client.get("/oauth/jwks")
    assert "max-age" in first.headers["Cache-Control"]
    again = client.get("/oauth/jwks", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_portal_can_receive_es256_id_tokens(live_server, make):
    """A portal registered with --id-token-alg ES256 gets ES256 ID tokens that verify
    against the published JWKS."""
    user = make.user()
    portal, secret = make.portal(id_token_alg="ES256")
    rp = Portal(live_server, portal.client_id, secret, redirect_uri=portal.redirect_uris[0])
    token, claims, _ = rp.login(user.email, PASSWORD)  # validates against the JWKS
    assert jws.extract_compact(token["id_token"].encode()).headers()["alg"] == "ES256"
    assert claims["sub"] == str(user.id)


def test_unsupported_id_token_alg_is_refused(ctx):
    """Only algorithms we hold keys for can be chosen (never `none` or HS256)."""
    from ciam.errors import CiamError
    from ciam.oidc.portals import create_portal

    for alg in ("none", "HS256"):
        with pytest.raises(CiamError):
            create_portal("x", ["https://x.example.test/cb"], id_token_alg=alg)
