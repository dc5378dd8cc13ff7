"""Refresh rotation has two implementations: the rotation that claims the token and
writes its successor together (one statement on PostgreSQL,
ciam.oidc.refresh_tokens._ROTATE through ciam.hotsql; one transaction elsewhere,
which only the fast path uses) and the session path, used by Flask on SQLite and
whenever the rotation claims nothing. Both must behave the same; each test here
runs on both paths (the first only on PostgreSQL), with the fast path on and off."""

from __future__ import annotations

import threading

import pytest

from ciam.accounts.models import User, UserStatus
from ciam.extensions import db
from ciam.hotsql import HOT_SQL
from ciam.oidc.models import Token
from tests.conftest import require_service
from tests.oidc.attacker import client_for, userinfo
from tests.oidc.hot_paths import without_hot_sql

# Each test runs with the fast path on and off (tests/oidc/conftest.py).
pytestmark = pytest.mark.usefixtures("fastpath_mode")


@pytest.fixture(params=["one-statement", "session"])
def path(request, app):
    """Which implementation serves the refresh requests of the test."""
    if request.param == "one-statement":
        require_service(
            HOT_SQL in app.extensions,
            "the one-statement rotation needs PostgreSQL (CIAM_TEST_DATABASE_URL)",
        )
        yield request.param
        return
    with without_hot_sql(app):
        yield request.param


@pytest.fixture
def portal(live_server, make):
    created, secret = make.portal(scopes=["openid", "profile", "email", "offline_access"])
    return client_for(live_server, created, secret)


def _rows(family_id: str) -> list[Token]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Token).where(Token.family_id == family_id)))


def test_rotation_writes_one_successor_in_the_family(path, portal, make, app):
    """The old row is marked used, exactly one new row joins its family with the
    same user, session, scope, auth_time and amr, and the new tokens work."""
    user = make.user()
    first = portal.login(user.email)
    [original] = _rows(_family_of(first["refresh_token"]))

    response = portal.refresh(first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == original.scope
    assert second["id_token"].count(".") == 2

    rows = _rows(original.family_id)
    assert len(rows) == 2
    old = next(r for r in rows if r.id == original.id)
    new = next(r for r in rows if r.id != original.id)
    assert old.refresh_used_at is not None and new.refresh_used_at is None
    for column in ("user_id", "session_id", "scope", "auth_time", "amr", "client_id"):
        assert getattr(new, column) == getattr(original, column), column
    assert userinfo(portal.issuer, second["access_token"]).status_code == 200
    assert portal.is_active(second["refresh_token"]) is True


def test_reuse_after_rotation_revokes_the_family(path, portal, make):
    """RFC 9700 §4.14.2 on either path: the rotated token presented again is refused
    and the successor stops working."""
    user = make.user()
    first = portal.login(user.email)
    second = portal.refresh(first["refresh_token"]).json()

    replay = portal.refresh(first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert portal.is_active(second["access_token"]) is False
    assert portal.refresh(second["refresh_token"]).status_code == 400


def test_suspended_owner_is_refused_and_the_token_is_not_burned(path, portal, make):
    """A refresh for a suspended account is invalid_grant and leaves the token unused:
    once the account is active again the same token refreshes, without tripping
    reuse detection."""
    user = make.user()
    tokens = portal.login(user.email)
    _set_status(user.id, UserStatus.suspended)

    refused = portal.refresh(tokens["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"

    _set_status(user.id, UserStatus.active)
    again = portal.refresh(tokens["refresh_token"])
    assert again.status_code == 200, again.text


def test_racing_refreshes_of_one_token_have_one_winner(path, portal, make):
    """Two requests presenting the same refresh token at once: one gets new tokens,
    the other is refused, whichever path serves them."""
    user = make.user()
    refresh_token = portal.login(user.email)["refresh_token"]
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def attempt() -> None:
        barrier.wait()
        statuses.append(portal.refresh(refresh_token).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 400, 400, 400]


def _family_of(refresh_token: str) -> str:
    from ciam.crypto import hash_secret

    return db.session.scalar(
        db.select(Token.family_id).where(Token.refresh_token_hash == hash_secret(refresh_token))
    )


def _set_status(user_id, status: UserStatus) -> None:
    db.session.get(User, user_id).status = status
    db.session.commit()
