"""Redeeming an authorization code has two implementations: one statement on
PostgreSQL (ciam.oidc.codes._REDEEM_CODE through ciam.hotsql) and the session path
used on SQLite, with CIAM_DB_HOT_CONNECTIONS=0, and whenever the one statement
claims nothing. Both must behave the same (RFC 6749 §4.1.3, RFC 7636 §4.6,
RFC 9700 §4.2.4); each test here runs on both paths (the first only on PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from authlib.common.security import generate_token

from ciam.accounts.models import User, UserStatus
from ciam.crypto import hash_secret
from ciam.db import utcnow
from ciam.extensions import db
from ciam.hotsql import HOT_SQL
from ciam.oidc import codes
from ciam.oidc.models import AuthorizationCode, Token
from tests.conftest import require_service
from tests.oidc.attacker import client_for, jwt_parts, userinfo
from tests.oidc.hot_paths import without_hot_sql

# Each test runs with the fast path on and off (tests/oidc/conftest.py).
pytestmark = pytest.mark.usefixtures("fastpath_mode")


@pytest.fixture(params=["one-statement", "session"])
def path(request, app, monkeypatch):
    """Which implementation serves the code redemptions of the test. On the
    one-statement path, a redemption that reaches the session path is counted."""
    if request.param == "one-statement":
        require_service(
            HOT_SQL in app.extensions,
            "the one-statement redemption needs PostgreSQL (CIAM_TEST_DATABASE_URL)",
        )
        fallbacks: list[str] = []
        consume_code = codes.consume_code

        def counted(code: str, client_id: str):
            fallbacks.append(client_id)
            return consume_code(code, client_id)

        monkeypatch.setattr(codes, "consume_code", counted)
        request.node.fallbacks = fallbacks
        yield request.param
        return
    with without_hot_sql(app):
        yield request.param


@pytest.fixture
def portal(live_server, make):
    created, secret = make.portal(scopes=["openid", "profile", "email", "offline_access"])
    return client_for(live_server, created, secret)


@pytest.fixture
def user(make):
    return make.user(given_name="Ada", family_name="Lovelace")


def assert_invalid_grant(response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    assert "access_token" not in response.json()


def test_redemption_issues_working_tokens_and_one_row(path, portal, user, request):
    """The code is marked used, one token row joins the code's family with its
    user, session, scope, auth_time and amr, the ID token speaks for the owner, and
    the access and refresh tokens work. The one statement needs no session path."""
    code, verifier = portal.get_code(user.email)

    response = portal.redeem(code, verifier)
    assert response.status_code == 200, response.text
    body = response.json()

    stored = _code(code)
    assert stored.used_at is not None
    [row] = _family(stored.id)
    _, access, _ = jwt_parts(body["access_token"])
    _, id_token, _ = jwt_parts(body["id_token"])
    assert row.jti == access["jti"]
    assert row.refresh_token_hash == hash_secret(body["refresh_token"])
    assert (row.client_id, row.user_id, row.session_id) == (
        portal.client_id,
        user.id,
        stored.session_id,
    )
    assert (row.scope, row.auth_time, row.amr) == (stored.scope, stored.auth_time, stored.amr)
    assert row.revoked_at is None and row.refresh_used_at is None
    assert id_token["sub"] == access["sub"] == str(user.id)
    assert (id_token["email"], id_token["given_name"]) == (user.email, "Ada")
    assert id_token["auth_time"] == int(stored.auth_time.timestamp())
    assert userinfo(portal.issuer, body["access_token"]).status_code == 200
    assert portal.is_active(body["refresh_token"]) is True
    assert portal.refresh(body["refresh_token"]).status_code == 200
    if path == "one-statement":
        assert request.node.fallbacks == []


def test_portal_without_refresh_grant_gets_no_refresh_token(path, live_server, make, user):
    """A portal that may not refresh gets no refresh token, and its row stores none."""
    created, secret = make.portal(grant_types=["authorization_code"])
    portal = client_for(live_server, created, secret)
    code, verifier = portal.get_code(user.email)

    response = portal.redeem(code, verifier)
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    [row] = _family(hash_secret(code))
    assert row.refresh_token_hash is None and row.refresh_expires_at is None


def test_reuse_is_refused_and_revokes_what_the_code_issued(path, portal, user):
    """RFC 6749 §4.1.2 / RFC 9700 §4.2.4: a second redemption is invalid_grant, and
    the tokens of the first (and what they were refreshed into) stop working."""
    code, verifier = portal.get_code(user.email)
    first = portal.redeem(code, verifier).json()
    rotated = portal.refresh(first["refresh_token"]).json()

    assert_invalid_grant(portal.redeem(code, verifier))

    assert userinfo(portal.issuer, first["access_token"]).status_code == 401
    assert portal.is_active(rotated["access_token"]) is False
    assert portal.is_active(rotated["refresh_token"]) is False
    assert all(row.revoked_at is not None for row in _family(hash_secret(code)))


def test_code_of_another_client_is_not_burnt(path, live_server, make, portal, user):
    """RFC 6749 §4.1.3: another portal presenting the code gets invalid_grant, the
    code stays unused and its own portal redeems it afterwards."""
    other_portal, other_secret = make.portal()
    other = client_for(live_server, other_portal, other_secret)
    code, verifier = portal.get_code(user.email)

    assert_invalid_grant(other.redeem(code, verifier, redirect_uri=portal.redirect_uri))

    assert _code(code).used_at is None
    assert _family(hash_secret(code)) == []
    assert portal.redeem(code, verifier).status_code == 200


@pytest.mark.parametrize(
    ("redirect_uri", "verifier"),
    [
        pytest.param("https://portal.example.test/other", None, id="wrong-redirect-uri"),
        pytest.param(None, generate_token(64), id="wrong-verifier"),
    ],
)
def test_failed_check_refuses_and_uses_up_the_code(path, portal, user, redirect_uri, verifier):
    """RFC 6749 §4.1.3 (redirect_uri identical) and RFC 7636 §4.6 (verifier checked
    before any token is returned) are checked after the code is claimed: a failure
    is invalid_grant, and the code is then used up, as it always was, so the
    correct request after it is a replay. Nothing a refused request may have
    written for the code stays usable."""
    code, right_verifier = portal.get_code(user.email)
    extra = {"redirect_uri": redirect_uri} if redirect_uri else {}

    assert_invalid_grant(portal.redeem(code, verifier or right_verifier, **extra))

    assert _code(code).used_at is not None
    assert_invalid_grant(portal.redeem(code, right_verifier))
    assert all(row.revoked_at is not None for row in _family(hash_secret(code)))


def test_suspended_owner_is_refused(path, portal, user):
    """A code whose owner was suspended after signing in gives no tokens (invalid_grant)
    and, as on the session path, is used up: reactivating the account does not
    revive it."""
    code, verifier = portal.get_code(user.email)
    _set_status(user.id, UserStatus.suspended)

    assert_invalid_grant(portal.redeem(code, verifier))
    assert _family(hash_secret(code)) == []

    _set_status(user.id, UserStatus.active)
    assert_invalid_grant(portal.redeem(code, verifier))


def test_expired_code_is_refused(path, portal, user):
    """RFC 6749 §4.1.2: a code past its expiry is invalid_grant and issues nothing."""
    code, verifier = portal.get_code(user.email)
    db.session.execute(
        db.update(AuthorizationCode)
        .where(AuthorizationCode.id == hash_secret(code))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()

    assert_invalid_grant(portal.redeem(code, verifier))
    assert _family(hash_secret(code)) == []


def test_racing_redemptions_of_one_code_have_one_winner(path, portal, user, database_url):
    """Four requests presenting the same code at once: exactly one gets tokens. The
    others are replays, and (as RFC 9700 §4.2.4 asks) revoke what the winner got."""
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent writers need PostgreSQL: SQLite serialises them with errors")
    code, verifier = portal.get_code(user.email)
    barrier = threading.Barrier(4)
    responses = []

    def attempt() -> None:
        barrier.wait()
        responses.append(portal.redeem(code, verifier))

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in responses) == [200, 400, 400, 400]
    [winner] = [r.json() for r in responses if r.status_code == 200]
    [row] = _family(hash_secret(code))
    assert row.refresh_token_hash == hash_secret(winner["refresh_token"])
    assert row.revoked_at is not None


def _code(code: str) -> AuthorizationCode:
    db.session.expire_all()
    return db.session.get(AuthorizationCode, hash_secret(code))


def _family(family_id: str) -> list[Token]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Token).where(Token.family_id == family_id)))


def _set_status(user_id, status: UserStatus) -> None:
    db.session.get(User, user_id).status = status
    db.session.commit()
