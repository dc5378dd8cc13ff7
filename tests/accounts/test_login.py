"""Login page, server-side sessions, cookies, CSRF and security headers."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest

from ciam import create_app
from ciam.accounts import passwords, services
from ciam.accounts.models import LoginSession, User, UserStatus
from ciam.audit.models import AuditEvent
from ciam.db import utcnow
from ciam.extensions import db
from tests.factories import PASSWORD

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _csrf(client, path="/login") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def _login(client, email, password=PASSWORD, next_url=""):
    return client.post(
        "/login",
        data={"csrf_token": _csrf(client), "email": email, "password": password, "next": next_url},
    )


def test_login_page_has_labelled_inputs_and_sign_in_button(client):
    """DESIGN §6: the login page has inputs labelled Email and Password and a Sign in button."""
    html = client.get("/login").get_data(as_text=True)
    assert '<label for="email">Email</label>' in html
    assert '<label for="password">Password</label>' in html
    assert ">Sign in</button>" in html


def test_login_without_csrf_token_is_refused(client, make):
    """CSRF on every form: a login post without the token does not log in."""
    user = make.user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/account").status_code == 302


def test_login_with_forged_csrf_token_is_refused(client, make):
    """A token that was not issued to this browser is rejected."""
    user = make.user()
    response = client.post(
        "/login",
        data={"csrf_token": "forged." + "a" * 40, "email": user.email, "password": PASSWORD},
    )
    assert response.status_code == 400


def test_successful_login_opens_account_and_is_audited(client, make, ctx):
    """A right password starts a session and records account:login:success."""
    user = make.user()
    response = _login(client, user.email.upper())  # emails compare case-insensitively
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200
    tags = db.session.scalars(db.select(AuditEvent.tag).where(AuditEvent.actor_id == user.id))
    assert "account:login:success" in list(tags)


def test_wrong_password_and_unknown_email_look_the_same(client, make):
    """No enumeration: same status and message for a wrong password and no account."""
    user = make.user()
    wrong = _login(client, user.email, "not the password")
    unknown = _login(client, "nobody@example.test", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "The email or password is not right." in wrong.get_data(as_text=True)
    assert CSRF.sub("CSRF", wrong.get_data(as_text=True).replace(user.email, "X")) == CSRF.sub(
        "CSRF", unknown.get_data(as_text=True).replace("nobody@example.test", "X")
    )


def test_inactive_user_cannot_log_in_even_with_right_password(client, make, ctx):
    """A suspended account gets the same answer as a wrong password."""
    user = make.user()
    user.status = UserStatus.suspended
    db.session.commit()
    assert _login(client, user.email).status_code == 401


def test_each_login_gets_a_new_session_id(client, make, ctx):
    """ASVS 3.2.1: a new session id at every login; the old one is ended."""
    user = make.user()
    assert _login(client, user.email).status_code == 303
    first = client.get_cookie("ciam_session", domain="127.0.0.1").value
    assert _login(client, user.email).status_code == 303
    second = client.get_cookie("ciam_session", domain="127.0.0.1").value
    assert first != second
    rows = db.session.scalars(db.select(LoginSession).where(LoginSession.user_id == user.id))
    assert sorted(row.ended_at is None for row in rows) == [False, True]


def test_session_cookie_is_httponly_and_lax_on_loopback(client, make):
    """http loopback issuer: HttpOnly + SameSite=Lax, no Secure (it would be dropped)."""
    user = make.user()
    header = _login(client, user.email).headers.getlist("Set-Cookie")
    session_cookie = next(h for h in header if h.startswith("ciam_session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie
    assert "Secure" not in session_cookie


def test_https_issuer_uses_host_prefixed_secure_cookies(database_url, make):
    """With an https issuer every cookie is __Host- prefixed and Secure."""
    os.environ["CIAM_DATABASE_URL"] = database_url
    app = create_app(
        {
            "CIAM_ISSUER": "https://id.example.test",
            "SECRET_KEY": "k" * 32,
            "RATELIMIT_ENABLED": False,
        }
    )
    from tests.conftest import IsolatedClient

    app.test_client_class = IsolatedClient
    client = app.test_client()
    user = make.user()
    page = client.get("/login", base_url="https://id.example.test")
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    response = client.post(
        "/login",
        base_url="https://id.example.test",
        headers={"Referer": "https://id.example.test/login"},
        data={"csrf_token": token, "email": user.email, "password": PASSWORD},
    )
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(h for h in cookies if h.startswith("__Host-ciam_session="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie
    assert "Path=/" in session_cookie and "Domain" not in session_cookie
    flow_cookie = next(h for h in cookies if h.startswith("__Host-ciam_flow="))
    assert "Secure" in flow_cookie
    with app.app_context():
        db.engine.dispose()


def test_idle_session_expires(client, make, ctx):
    """Idle timeout (15 min default): an idle session no longer counts as logged in."""
    user = make.user()
    _login(client, user.email)
    row = db.session.scalar(db.select(LoginSession).where(LoginSession.user_id == user.id))
    row.last_seen_at = utcnow() - timedelta(minutes=16)
    db.session.commit()
    assert client.get("/account").status_code == 302


def test_absolute_session_lifetime(client, make, ctx):
    """Absolute timeout (12 h default) ends even an active session."""
    user = make.user()
    _login(client, user.email)
    row = db.session.scalar(db.select(LoginSession).where(LoginSession.user_id == user.id))
    row.created_at = utcnow() - timedelta(hours=13)
    db.session.commit()
    assert client.get("/account").status_code == 302


def test_logout_requires_post_with_csrf(client, make):
    """GET /logout only asks; the POST with a CSRF token ends the session."""
    user = make.user()
    _login(client, user.email)
    assert client.get("/logout").status_code == 200
    assert client.get("/account").status_code == 200
    assert client.post("/logout", data={}).status_code == 400  # no CSRF token
    assert client.get("/account").status_code == 200
    response = client.post("/logout", data={"csrf_token": _csrf(client, "/logout")})
    assert response.status_code == 303
    assert client.get("/account").status_code == 302


def test_pages_forbid_framing_and_sniffing(client):
    """frame-ancestors 'none' (clickjacking), nosniff, no referrer, no caching of pages."""
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.test/x",
        "https://evil.test/",
        "/\\evil.test",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x=1",
    ],
)
def test_login_next_never_leaves_the_site(client, make, target):
    """No open redirect through `next` after login."""
    user = make.user()
    response = _login(client, user.email, next_url=target)
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert "evil" not in location or location.startswith("/%")


def test_argon2id_hash_with_owasp_parameters_and_rehash_on_login(client, make, ctx):
    """argon2id (m=19 MiB, t=2, p=1); an old-parameter hash is upgraded at login."""
    from argon2 import PasswordHasher

    user = make.user()
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    db.session.commit()
    assert passwords.needs_rehash(user.password_hash)
    _login(client, user.email)
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash.startswith("$argon2id$v=19$m=19456")


def test_email_is_unique_case_insensitively(make, ctx):
    """Two accounts cannot differ only by the case of their email."""
    make.user("Case@Example.test")
    with pytest.raises(services.Conflict):
        services.create_user("case@example.TEST", PASSWORD)
