"""Account lockout after consecutive wrong passwords (NIST 800-63B §5.2.2, ASVS 2.2.1):
threshold, increasing lock periods, unlock by time, by success, by reset and by an
admin, and a locked account that looks exactly like a wrong password."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from ciam import create_app
from ciam.accounts import lockout, services
from ciam.accounts.models import User, UserStatus
from ciam.audit.models import AuditEvent
from ciam.audit.services import ActorContext
from ciam.config import load_config
from ciam.db import utcnow
from ciam.errors import ConfigError
from ciam.extensions import db
from tests.accounts.security_support import extra_app, login, tags
from tests.factories import PASSWORD

CTX = ActorContext(ip="192.0.2.1", user_agent="pytest")


@pytest.fixture
def threshold(app, monkeypatch):
    """A small threshold keeps the tests short; the default is tested on its own."""

    def set_threshold(value: int) -> int:
        monkeypatch.setitem(app.config, "CIAM_LOCKOUT_THRESHOLD", value)
        return value

    set_threshold(3)
    return set_threshold


def _fail(user, times: int = 1) -> None:
    for _ in range(times):
        assert services.authenticate(user.email, "not the password", CTX) is None
    db.session.commit()


def _reload(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def _expire_lock(user) -> None:
    user = _reload(user)
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_account_locks_at_the_threshold_and_refuses_the_right_password(client, make, threshold):
    """Below the threshold the account stays open; the failure that reaches it locks
    the account (status locked, audited), and then even the right password fails."""
    user = make.user()
    for _ in range(2):
        assert login(client, user.email, "wrong password").status_code == 401
    assert _reload(user).status == UserStatus.active
    assert _reload(user).failed_login_count == 2
    assert login(client, user.email, "wrong password").status_code == 401
    locked = _reload(user)
    assert locked.status == UserStatus.locked and locked.is_locked
    assert locked.locked_until > utcnow() + timedelta(seconds=50)
    assert "account:locked" in tags(user.id)
    assert login(client, user.email).status_code == 401
    assert client.get("/account").status_code == 302


def test_default_threshold_is_ten(ctx, make):
    """CIAM_LOCKOUT_THRESHOLD defaults to 10: nine failures leave the account open,
    the tenth locks it."""
    assert load_config(ctx.instance_path, {"SECRET_KEY": "x"})["CIAM_LOCKOUT_THRESHOLD"] == 10
    assert ctx.config["CIAM_LOCKOUT_THRESHOLD"] == 10
    user = make.user()
    _fail(user, 9)
    assert _reload(user).status == UserStatus.active
    _fail(user)
    assert _reload(user).status == UserStatus.locked


@pytest.mark.parametrize("value", [101, 1000, 0])
def test_threshold_above_100_or_below_1_is_refused(tmp_path, value, monkeypatch):
    """NIST 800-63B §5.2.2 allows at most 100 consecutive failures: the server refuses
    to start with more, from an override or from the environment."""
    with pytest.raises(ConfigError, match="CIAM_LOCKOUT_THRESHOLD"):
        load_config(str(tmp_path), {"SECRET_KEY": "x", "CIAM_LOCKOUT_THRESHOLD": value})
    monkeypatch.setenv("CIAM_LOCKOUT_THRESHOLD", str(value))
    with pytest.raises(ConfigError, match="CIAM_LOCKOUT_THRESHOLD"):
        create_app({"SECRET_KEY": "x", "RATELIMIT_ENABLED": False})
    monkeypatch.setenv("CIAM_LOCKOUT_THRESHOLD", "100")
    assert load_config(str(tmp_path), {"SECRET_KEY": "x"})["CIAM_LOCKOUT_THRESHOLD"] == 100


def _comparable(response, email: str) -> str:
    """The page without what differs by design: the email typed and the CSRF token
    (signed with a timestamp in seconds, so two pages a second apart differ)."""
    html = response.get_data(as_text=True).replace(email, "X")
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "CSRF", html)


def test_locked_account_looks_exactly_like_a_wrong_password(client, make, ctx, monkeypatch):
    """Same status, same page and the same hashing work for a locked account (even
    with the right password) as for a wrong password: a lock reveals nothing."""
    locked, other = make.user(), make.user()
    locked.status, locked.locked_until = UserStatus.locked, utcnow() + timedelta(hours=1)
    db.session.commit()
    calls = []
    real_verify = PasswordHasher.verify
    monkeypatch.setattr(
        PasswordHasher, "verify", lambda *a, **k: calls.append(1) or real_verify(*a, **k)
    )
    refused = login(client, locked.email)
    locked_calls, calls[:] = len(calls), []
    wrong = login(client, other.email, "not the password")
    assert refused.status_code == wrong.status_code == 401
    assert _comparable(refused, locked.email) == _comparable(wrong, other.email)
    assert locked_calls == len(calls) == 1


def test_lock_lifts_by_time_at_the_next_attempt(client, make, threshold):
    """Once locked_until has passed, the next login attempt lifts the lock (audited
    account:unlocked, reason expired) and the right password works again."""
    user = make.user()
    _fail(user, 3)
    assert login(client, user.email).status_code == 401
    _expire_lock(user)
    assert login(client, user.email).status_code == 303
    assert _reload(user).status == UserStatus.active
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.tag == "account:unlocked"))
    assert event.data["reason"] == "expired" and event.target == str(user.id)


def test_each_lock_in_a_row_lasts_twice_as_long_up_to_the_cap(ctx, make, threshold, monkeypatch):
    """Lock periods grow: base, 2 x base, 4 x base ..., capped at CIAM_LOCKOUT_MAX_SECONDS."""
    threshold(1)
    monkeypatch.setitem(ctx.config, "CIAM_LOCKOUT_BASE_SECONDS", 60)
    monkeypatch.setitem(ctx.config, "CIAM_LOCKOUT_MAX_SECONDS", 300)
    user = make.user()
    periods = []
    for _ in range(5):
        before = utcnow()
        _fail(user)
        locked = _reload(user)
        assert locked.status == UserStatus.locked
        periods.append(round((locked.locked_until - before).total_seconds() / 10) * 10)
        _expire_lock(user)
    assert periods == [60, 120, 240, 300, 300]
    assert _reload(user).lock_count == 5


def test_success_clears_the_failure_count(ctx, make, threshold):
    """A successful login resets the count: failures on either side of it do not add
    up to a lock, and the lock number starts again at one."""
    user = make.user()
    _fail(user, 2)
    assert services.authenticate(user.email, PASSWORD, CTX) is not None
    db.session.commit()
    assert _reload(user).failed_login_count == 0
    _fail(user, 2)
    assert _reload(user).status == UserStatus.active
    _fail(user)
    _expire_lock(user)
    assert services.authenticate(user.email, PASSWORD, CTX) is not None
    db.session.commit()
    assert _reload(user).lock_count == 0


def test_clear_unlocks_for_password_reset(ctx, make, threshold):
    """lockout.clear(user), which a self-service reset calls, lifts a lock at once."""
    user = make.user()
    _fail(user, 3)
    assert _reload(user).is_locked
    lockout.clear(_reload(user))
    db.session.commit()
    user = _reload(user)
    assert user.status == UserStatus.active
    assert (user.failed_login_count, user.lock_count, user.locked_until) == (0, 0, None)
    assert services.authenticate(user.email, PASSWORD, CTX) is not None


def test_admin_unlock_service_lifts_the_lock_and_is_audited(ctx, make, threshold):
    """unlock(user, ctx): an org admin or support engineer lifts the lock; the event
    names the admin as actor and the person as target."""
    user, admin = make.user(), make.user()
    _fail(user, 3)
    assert lockout.unlock(_reload(user), ActorContext(actor_id=admin.id)) is True
    db.session.commit()
    assert _reload(user).status == UserStatus.active
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.tag == "account:unlocked"))
    assert event.actor_id == admin.id and event.target == str(user.id)
    assert services.authenticate(user.email, PASSWORD, CTX) is not None


def test_cli_users_unlock(app, ctx, make, threshold):
    """`ciam users unlock --email E` lifts a lock; an unknown email is an error."""
    user = make.user()
    _fail(user, 3)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "unlock", "--email", user.email.upper(), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "id": str(user.id),
        "email": user.email,
        "was_locked": True,
    }
    assert _reload(user).status == UserStatus.active
    missing = runner.invoke(args=["users", "unlock", "--email", "nobody@example.test"])
    assert missing.exit_code != 0 and "No user" in missing.output


def test_locked_account_keeps_its_existing_sessions(client, app, make, threshold):
    """Lockout stops guessing, not the person (NIST 800-63B §5.2.2): a session opened
    before the lock keeps working while someone else trips the lock."""
    user = make.user()
    assert login(client, user.email).status_code == 303
    attacker = app.test_client()
    for _ in range(3):
        assert login(attacker, user.email, "guess").status_code == 401
    assert _reload(user).is_locked
    assert client.get("/account").status_code == 200


def test_failures_do_not_lock_an_inactive_account(ctx, make, threshold):
    """Only an active account locks: a suspended one keeps its own status."""
    user = make.user()
    user.status = UserStatus.suspended
    db.session.commit()
    _fail(user, 3)
    assert _reload(user).status == UserStatus.suspended


def test_lockout_counters_are_shared_through_the_database(app, make, threshold, database_url):
    """Failures counted by two app instances (two nodes) add up to one lock, because
    the counter lives in the users table."""
    user = make.user()
    with extra_app(database_url, RATELIMIT_ENABLED=False, CIAM_LOCKOUT_THRESHOLD=3) as other:
        clients = [app.test_client(), other.test_client(), app.test_client()]
        for node in clients:
            assert login(node, user.email, "wrong").status_code == 401
    assert _reload(user).status == UserStatus.locked
