"""Password reset by emailed link (ASVS 2.5, OWASP Forgot Password Cheat Sheet): the
email goes through a real SMTP server, the test reads it and follows the link."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
import requests
from itsdangerous.timed import TimestampSigner

from ciam import create_app
from ciam.accounts.models import User, UserStatus
from ciam.accounts.profile import services as profile_services
from ciam.audit.models import AuditEvent
from ciam.audit.services import SYSTEM
from ciam.db import utcnow
from ciam.extensions import db, limiter
from ciam.oidc.models import Token
from ciam.tokens import Purpose, make_token
from tests.accounts.selfservice import (
    FORGED_CSRF,
    csrf,
    link_in,
    mail_to,
    open_sessions,
    path_of,
    post_form,
)
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp
from tests.smtp import SMTPServer

NEW_PASSWORD = "harbor copper lantern 2031"


@pytest.fixture
def smtp(app, monkeypatch):
    server = SMTPServer().start()
    monkeypatch.setitem(app.config, "CIAM_SMTP_URL", server.url)
    yield server
    server.stop()


def _request_reset(client, email: str, **kwargs):
    return post_form(client, "/reset-password", {"email": email}, **kwargs)


def _reset_link(client, smtp, email: str) -> str:
    assert _request_reset(client, email).status_code == 200
    return link_in(mail_to(smtp, email)[-1])


def _set_password(client, path: str, password: str = NEW_PASSWORD):
    return post_form(client, path, {"new_password": password})


def _password_works(client, email: str, password: str) -> bool:
    response = post_form(client, "/login", {"email": email, "password": password, "next": ""})
    return response.status_code == 303


def test_reset_link_arrives_by_email_and_sets_the_new_password(client, make, smtp, ctx):
    """The whole flow: request, email over SMTP, follow the link, set a password; the new
    password works and the old one no longer does."""
    user = make.user()
    url = _reset_link(client, smtp, user.email)
    [message] = mail_to(smtp, user.email)
    assert message["Subject"] == "Reset your password"
    assert client.get(path_of(url)).status_code == 200
    response = _set_password(client, path_of(url))
    assert response.status_code == 303
    assert _password_works(client, user.email, NEW_PASSWORD)
    assert not _password_works(app_client(client), user.email, PASSWORD)
    tags = set(db.session.scalars(db.select(AuditEvent.tag).where(AuditEvent.actor_id == user.id)))
    assert {"account:password:reset_requested", "account:password:reset"} <= tags
    notice = mail_to(smtp, user.email)[-1]
    assert notice["Subject"] == "Your password was changed"


def app_client(client):
    """Another browser on the same app."""
    return client.application.test_client()


def test_reset_link_is_built_from_the_issuer_not_the_host_header(client, make, smtp, ctx):
    """A forged Host header (evil.test) never reaches the emailed link: it comes from
    CIAM_ISSUER, so the token is not sent to the attacker's site."""
    user = make.user()
    response = _request_reset(client, user.email, base_url="http://evil.test")
    assert response.status_code == 200
    url = link_in(mail_to(smtp, user.email)[0])
    assert url.startswith(ctx.config["CIAM_ISSUER"] + "/reset-password/")
    assert "evil" not in url


def test_unknown_and_known_email_get_the_same_page(client, make, smtp):
    """No enumeration: same status and same page for an address with and without an
    account; only the real account gets an email."""
    user = make.user()
    known = _request_reset(client, user.email)
    unknown = _request_reset(client, "nobody@example.test")
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)
    assert [m["To"] for m in smtp.messages] == [user.email]


def test_unknown_email_does_comparable_work(client, make, monkeypatch):
    """Similar timing: an unknown address still signs a token and writes an audit event,
    as a known one does, so the response time does not single it out."""
    signed = []
    real = profile_services.make_token
    monkeypatch.setattr(
        profile_services, "make_token", lambda *a, **k: signed.append(a[0]) or real(*a, **k)
    )
    user = make.user()
    _request_reset(client, user.email)
    _request_reset(client, "nobody@example.test")
    assert signed == [Purpose.password_reset, Purpose.password_reset]
    events = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.tag == "account:password:reset_requested")
    ).all()
    assert sorted(e.data["sent"] for e in events) == [False, True]


def test_suspended_account_gets_no_reset_email(client, make, smtp, ctx):
    """Only active (or locked) accounts can reset; a suspended one sees the same page
    and no email is sent."""
    user = make.user()
    user.status = UserStatus.suspended
    db.session.commit()
    assert _request_reset(client, user.email).status_code == 200
    assert smtp.messages == []


def test_reset_link_works_once(client, make, smtp, ctx):
    """Single use: after the password is set, the same link is refused, on GET and on
    POST, and the password stays the one set first."""
    user = make.user()
    path = path_of(_reset_link(client, smtp, user.email))
    assert _set_password(client, path).status_code == 303
    again = client.get(path)
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)
    replay = client.post(
        path,
        data={
            "csrf_token": csrf(client, "/reset-password"),
            "new_password": "other " + NEW_PASSWORD,
        },
    )
    assert replay.status_code == 400
    assert _password_works(client, user.email, NEW_PASSWORD)


def test_reset_link_dies_when_the_password_changes(client, make, smtp, ctx):
    """A link asked for before a password change stops working after it."""
    user = make.user()
    path = path_of(_reset_link(client, smtp, user.email))
    profile_services.change_password(user, PASSWORD, NEW_PASSWORD, SYSTEM)
    db.session.commit()
    response = client.get(path)
    assert response.status_code == 400
    assert "already been used" in response.get_data(as_text=True)


def _token_made_minutes_ago(monkeypatch, user, minutes: int) -> str:
    with monkeypatch.context() as m:
        then = int(time.time()) - minutes * 60
        m.setattr(TimestampSigner, "get_timestamp", lambda self: then)
        return make_token(
            Purpose.password_reset,
            {"uid": str(user.id), "fp": profile_services._fingerprint(user)},
        )


def test_reset_link_expires_after_30_minutes(client, make, ctx, monkeypatch):
    """A link signed 29 minutes ago still works; one signed 31 minutes ago is expired."""
    user = make.user()
    fresh = _token_made_minutes_ago(monkeypatch, user, 29)
    stale = _token_made_minutes_ago(monkeypatch, user, 31)
    assert client.get(f"/reset-password/{fresh}").status_code == 200
    expired = client.get(f"/reset-password/{stale}")
    assert expired.status_code == 400
    assert "expired" in expired.get_data(as_text=True)
    post = client.post(
        f"/reset-password/{stale}",
        data={"csrf_token": csrf(client, "/reset-password"), "new_password": NEW_PASSWORD},
    )
    assert post.status_code == 400
    assert _password_works(client, user.email, PASSWORD)


def test_reset_ends_sessions_and_revokes_refresh_tokens(live_server, make, smtp, ctx):
    """ASVS 3.3.3: a completed reset signs the person out of every browser and revokes
    every portal token: the portal's refresh token stops working."""
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    token, _, portal_browser = rp.login(user.email, PASSWORD)
    assert portal_browser.get("/account").status_code == 200
    client = app_client_for(ctx)
    path = path_of(_reset_link(client, smtp, user.email))
    assert _set_password(client, path).status_code == 303

    assert portal_browser.get("/account").status_code == 302
    assert open_sessions(user.id) == 0
    refreshed = requests.post(
        rp.metadata["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(portal.client_id, secret),
        timeout=10,
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    db.session.expire_all()
    rows = db.session.scalars(db.select(Token).where(Token.user_id == user.id)).all()
    assert rows and all(row.revoked_at is not None for row in rows)


def app_client_for(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


def test_reset_does_not_sign_the_person_in(client, make, smtp, ctx):
    """A reset never bypasses MFA: it sends the person to the login page and opens no
    session; they sign in with the new password (and their second factor)."""
    user = make.user()
    path = path_of(_reset_link(client, smtp, user.email))
    response = _set_password(client, path)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert not any("ciam_session=" in c for c in response.headers.getlist("Set-Cookie"))
    assert client.get("/account").status_code == 302
    assert open_sessions(user.id) == 0
    assert "Sign in with your new password" in client.get("/login").get_data(as_text=True)


def test_reset_refuses_a_weak_password_and_keeps_the_link(client, make, smtp, ctx):
    """The policy applies to a reset; a refused password does not use up the link."""
    user = make.user()
    path = path_of(_reset_link(client, smtp, user.email))
    refused = _set_password(client, path, "password123456")
    assert refused.status_code == 400
    assert "most used passwords" in refused.get_data(as_text=True)
    assert _set_password(client, path).status_code == 303


def test_reset_marks_the_email_verified(client, make, smtp, ctx):
    """Receiving the link proves the person reads that inbox."""
    user = make.user()
    user.email_verified = False
    db.session.commit()
    path = path_of(_reset_link(client, smtp, user.email))
    _set_password(client, path)
    db.session.expire_all()
    assert db.session.get(User, user.id).email_verified is True


def test_reset_lifts_a_lockout(client, make, smtp, ctx):
    """DESIGN §3: a self-service reset unlocks a locked account (it proves control of
    the inbox); the person can sign in with the new password at once."""
    user = make.user()
    user.status = UserStatus.locked
    user.locked_until = utcnow() + timedelta(hours=1)
    user.failed_login_count, user.lock_count = 3, 2
    db.session.commit()
    path = path_of(_reset_link(client, smtp, user.email))
    assert _set_password(client, path).status_code == 303
    saved = db.session.get(User, user.id)
    db.session.refresh(saved)
    assert (saved.status, saved.locked_until, saved.lock_count) == (UserStatus.active, None, 0)
    assert "account:unlocked" in set(
        db.session.scalars(db.select(AuditEvent.tag).where(AuditEvent.target == str(user.id)))
    )
    assert _password_works(client, user.email, NEW_PASSWORD)


@pytest.mark.parametrize("token", [None, FORGED_CSRF])
def test_reset_request_form_needs_csrf(client, make, smtp, token):
    """CSRF: a reset request without a valid token is refused and sends nothing."""
    user = make.user()
    data = {"email": user.email} | ({"csrf_token": token} if token else {})
    assert client.post("/reset-password", data=data).status_code == 400
    assert smtp.messages == []


@pytest.mark.parametrize("token", [None, FORGED_CSRF])
def test_new_password_form_needs_csrf(client, make, smtp, ctx, token):
    """CSRF: setting the new password without a valid token is refused; the password
    stays as it was."""
    user = make.user()
    path = path_of(_reset_link(client, smtp, user.email))
    data = {"new_password": NEW_PASSWORD} | ({"csrf_token": token} if token else {})
    assert client.post(path, data=data).status_code == 400
    assert _password_works(client, user.email, PASSWORD)


def test_reset_requests_are_rate_limited_per_ip(database_url, make, monkeypatch):
    """CIAM_RESET_RATE_LIMIT caps reset requests per IP (each one sends an email)."""
    os.environ["CIAM_DATABASE_URL"] = database_url
    # Without a per-app limiter the switch is shared: put it back after the test.
    monkeypatch.setattr(limiter, "enabled", limiter.enabled)
    app = create_app(
        {
            "SECRET_KEY": "k" * 32,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "CIAM_RESET_RATE_LIMIT": "2/minute",
        }
    )
    client = app_client_for(app)
    try:
        statuses = [_request_reset(client, "someone@example.test").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert client.get("/reset-password").status_code == 200  # the form itself is not limited
        other_ip = _request_reset(
            client, "someone@example.test", environ_base={"REMOTE_ADDR": "127.0.0.2"}
        )
        assert other_ip.status_code == 200  # another IP has its own count
    finally:
        with app.app_context():
            db.engine.dispose()
