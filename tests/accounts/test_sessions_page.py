"""/account/sessions: a person's live sessions, ending one or all others (with their
tokens), CSRF on both forms; the device cookie and the new sign-in email."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ciam import create_app
from ciam.accounts.mfa.models import MfaFactor
from ciam.accounts.models import KnownDevice, LoginSession
from ciam.accounts.sessions.services import session_handle
from ciam.crypto import hash_secret
from ciam.db import utcnow
from ciam.extensions import db
from ciam.oidc import refresh_tokens, token_store
from ciam.oidc.models import Token
from tests.accounts.mfa_support import enrol_totp, submit_code, totp_now
from tests.accounts.security_support import (
    CSRF,
    FIREFOX_LINUX,
    FORGED_CSRF,
    SAFARI_IPHONE,
    csrf,
    login,
    tags,
)
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD
from tests.smtp import SMTPServer

ONE_YEAR = 365 * 86400


@pytest.fixture
def smtp(app, monkeypatch):
    server = SMTPServer().start()
    monkeypatch.setitem(app.config, "CIAM_SMTP_URL", server.url)
    yield server
    server.stop()


def _signed_in(app, user, ua=FIREFOX_LINUX, ip="192.0.2.10"):
    browser = app.test_client()
    assert login(browser, user.email, ip=ip, ua=ua).status_code == 303
    return browser


def _sessions(user_id) -> list[LoginSession]:
    db.session.expire_all()
    query = db.select(LoginSession).where(LoginSession.user_id == user_id)
    return list(db.session.scalars(query.order_by(LoginSession.created_at)))


def _token_for(session: LoginSession) -> Token:
    """A token row as the token endpoint would store it for a portal login."""
    context = token_store.IssueContext(
        family_id=f"family-{session.id[:8]}", user_id=session.user_id, session_id=session.id
    )

    class Portal:
        client_id = "portal"

    body, row = token_store.issue(Portal(), "openid", context, include_refresh_token=True)
    db.session.add(row)
    db.session.commit()
    row.raw_refresh_token = body["refresh_token"]
    return row


FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def _end_form(html: str) -> list[str]:
    return [action for action in FORM_ACTION.findall(html) if action.endswith("/end")]


def test_sessions_page_needs_a_login(client):
    """Without a session the page sends the person to the login page."""
    response = client.get("/account/sessions")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/account/sessions")


def test_lists_live_sessions_with_device_ip_and_times_and_marks_this_one(app, make, ctx):
    """Each live session shows its device (from the User-Agent), IP, sign-in and
    last-seen times; the one in use is marked. Ended sessions are not listed."""
    user = make.user()
    mine = _signed_in(app, user, FIREFOX_LINUX, "192.0.2.10")
    _signed_in(app, user, SAFARI_IPHONE, "198.51.100.20")
    gone = _signed_in(app, user, FIREFOX_LINUX, "203.0.113.30")
    assert gone.post("/logout", data={"csrf_token": csrf(gone, "/logout")}).status_code == 303
    html = mine.get("/account/sessions").get_data(as_text=True)
    assert len(re.findall(r'<li class="session', html)) == 2
    assert "Firefox on Linux" in html and "Safari on iPhone" in html
    assert "192.0.2.10" in html and "198.51.100.20" in html
    assert "203.0.113.30" not in html
    assert html.count("This device") == 1
    current = html.index("This device")
    assert html.rindex("Firefox on Linux", 0, current) > html.rfind("Safari on iPhone", 0, current)
    assert utcnow().strftime("%Y-%m-%d") in html
    assert len(_end_form(html)) == 1  # only the other session has an End button


def test_ending_a_session_signs_that_browser_out_and_revokes_its_tokens(app, make, ctx):
    """End one session: that browser is signed out, tokens issued through it are
    revoked, this browser and tokens of other sessions stay; audited."""
    user = make.user()
    mine = _signed_in(app, user)
    phone = _signed_in(app, user, SAFARI_IPHONE)
    my_row, phone_row = _sessions(user.id)
    mine_token, phone_token = _token_for(my_row), _token_for(phone_row)
    html = mine.get("/account/sessions").get_data(as_text=True)
    [action] = _end_form(html)
    assert action == f"/account/sessions/{session_handle(phone_row)}/end"
    response = mine.post(action, data={"csrf_token": CSRF.search(html).group(1)})
    assert response.status_code == 303
    assert phone.get("/account").status_code == 302
    assert mine.get("/account").status_code == 200
    db.session.expire_all()
    assert db.session.get(Token, phone_token.id).revoked_at is not None
    assert db.session.get(Token, mine_token.id).revoked_at is None
    # What the token endpoint would do with each refresh token now:
    assert refresh_tokens.consume_refresh_token(phone_token.raw_refresh_token, "portal") is None
    assert refresh_tokens.consume_refresh_token(mine_token.raw_refresh_token, "portal") is not None
    assert "account:session:ended" in tags(user.id)
    assert "1 session ended" in mine.get(response.headers["Location"]).get_data(as_text=True)


def test_end_all_other_sessions(app, make, ctx):
    """'End all other sessions' ends every session but this one, and their tokens."""
    user = make.user()
    mine = _signed_in(app, user)
    others = [_signed_in(app, user, SAFARI_IPHONE), _signed_in(app, user)]
    rows = _sessions(user.id)
    issued = [_token_for(row) for row in rows]
    token = csrf(mine, "/account/sessions")
    response = mine.post("/account/sessions/end-others", data={"csrf_token": token})
    assert response.status_code == 303
    assert [browser.get("/account").status_code for browser in others] == [302, 302]
    assert mine.get("/account").status_code == 200
    db.session.expire_all()
    assert [db.session.get(Token, t.id).revoked_at is not None for t in issued] == [
        False,
        True,
        True,
    ]
    assert [row.ended_at is None for row in _sessions(user.id)] == [True, False, False]


def test_ending_this_session_signs_out(app, make, ctx):
    """A person may end the session they are using: it is a sign-out."""
    user = make.user()
    mine = _signed_in(app, user)
    [row] = _sessions(user.id)
    token = csrf(mine, "/logout")  # alone, this session has no form of its own
    response = mine.post(f"/account/sessions/{session_handle(row)}/end", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert mine.get("/account").status_code == 302


def test_cannot_end_another_persons_session(app, make, ctx):
    """A handle of someone else's session is not found, and that session lives on."""
    user, stranger = make.user(), make.user()
    mine = _signed_in(app, user)
    theirs = _signed_in(app, stranger)
    [their_row] = _sessions(stranger.id)
    token = csrf(mine, "/logout")
    response = mine.post(
        f"/account/sessions/{session_handle(their_row)}/end", data={"csrf_token": token}
    )
    assert response.status_code == 404
    assert theirs.get("/account").status_code == 200


@pytest.mark.parametrize("form", ["one", "others"])
@pytest.mark.parametrize("token", [None, FORGED_CSRF])
def test_session_forms_refuse_missing_or_forged_csrf(app, make, ctx, form, token):
    """CSRF on every form: without a valid token nothing is ended."""
    user = make.user()
    mine = _signed_in(app, user)
    phone = _signed_in(app, user, SAFARI_IPHONE)
    phone_row = _sessions(user.id)[1]
    path = (
        f"/account/sessions/{session_handle(phone_row)}/end"
        if form == "one"
        else "/account/sessions/end-others"
    )
    data = {} if token is None else {"csrf_token": token}
    assert mine.post(path, data=data).status_code == 400
    assert phone.get("/account").status_code == 200
    assert "account:session:ended" not in tags(user.id)


@pytest.mark.parametrize("form", ["one", "others"])
def test_ending_sessions_needs_a_recent_login(app, make, ctx, form):
    """ASVS 3.3.4: with a login older than CIAM_RECENT_AUTH_SECONDS, ending sessions
    first asks to sign in again (and comes back to the list); nothing is ended."""
    user = make.user()
    mine = _signed_in(app, user)
    phone = _signed_in(app, user, SAFARI_IPHONE)
    my_row, phone_row = _sessions(user.id)
    my_row.auth_time = utcnow() - timedelta(seconds=app.config["CIAM_RECENT_AUTH_SECONDS"] + 60)
    db.session.commit()
    path = (
        f"/account/sessions/{session_handle(phone_row)}/end"
        if form == "one"
        else "/account/sessions/end-others"
    )
    response = mine.post(path, data={"csrf_token": csrf(mine, "/account/sessions")})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=/account/sessions")
    assert phone.get("/account").status_code == 200


def _device_cookie_header(response, name="ciam_device") -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "="))


def test_device_cookie_is_long_lived_httponly_lax_and_stored_hashed(app, make, ctx):
    """Login sets a random device cookie: HttpOnly, SameSite=Lax, Path=/, one year,
    no Secure on the http loopback issuer. Only its SHA-256 is stored, on the
    session and in known_devices; the same browser keeps the same device id."""
    user = make.user()
    browser = app.test_client()
    response = login(browser, user.email)
    header = _device_cookie_header(response)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert f"Max-Age={ONE_YEAR}" in header and "Secure" not in header
    raw = browser.get_cookie("ciam_device", domain="127.0.0.1").value
    assert len(raw) >= 40
    [row] = _sessions(user.id)
    assert row.device_id == hash_secret(raw) != raw
    known = db.session.scalars(db.select(KnownDevice.device_id)).all()
    assert known == [hash_secret(raw)]
    login(browser, user.email)
    assert browser.get_cookie("ciam_device", domain="127.0.0.1").value == raw
    assert {s.device_id for s in _sessions(user.id)} == {hash_secret(raw)}


def test_device_cookie_is_host_prefixed_and_secure_on_https(database_url, make):
    """With an https issuer the device cookie is __Host-ciam_device, Secure, Path=/,
    no Domain."""
    https = create_app(
        {
            "CIAM_ISSUER": "https://id.example.test",
            "SECRET_KEY": "k" * 32,
            "RATELIMIT_ENABLED": False,
        }
    )
    https.test_client_class = IsolatedClient
    browser = https.test_client()
    user = make.user()
    base = "https://id.example.test"
    page = browser.get("/login", base_url=base)
    response = browser.post(
        "/login",
        base_url=base,
        headers={"Referer": base + "/login"},
        data={
            "csrf_token": CSRF.search(page.get_data(as_text=True)).group(1),
            "email": user.email,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303
    header = _device_cookie_header(response, "__Host-ciam_device")
    assert "Secure" in header and "HttpOnly" in header and "Path=/" in header
    assert "Domain" not in header
    with https.app_context():
        db.engine.dispose()


def test_new_device_sends_an_email_but_a_known_device_does_not(app, make, ctx, smtp):
    """The first sign-in of an account sends nothing; a sign-in from a new browser is
    audited and emailed (received by a real SMTP server) with device and IP; signing
    in again from a known browser sends nothing."""
    user = make.user()
    laptop = app.test_client()
    assert login(laptop, user.email, ua=FIREFOX_LINUX).status_code == 303
    assert smtp.messages == []
    phone = app.test_client()
    assert login(phone, user.email, ua=SAFARI_IPHONE, ip="198.51.100.77").status_code == 303
    [message] = smtp.messages
    assert message["To"] == user.email
    assert message["Subject"] == "New sign-in to your account"
    text = message.get_payload(decode=True).decode()
    assert "Safari on iPhone" in text and "198.51.100.77" in text
    assert "/account/sessions" in text
    assert login(laptop, user.email, ua=FIREFOX_LINUX).status_code == 303
    assert login(phone, user.email, ua=SAFARI_IPHONE).status_code == 303
    assert len(smtp.messages) == 1
    assert tags(user.id).count("account:device:new") == 2


def _new_sign_in_emails(smtp) -> list:
    return [m for m in smtp.messages if m["Subject"] == "New sign-in to your account"]


def test_first_sign_in_with_a_second_factor_sends_nothing(app, make, ctx, smtp):
    """The login session opens only after the second step; the account's very first
    sign-in still counts as first (no email), and a new browser after it is emailed."""
    app.test_client_class = IsolatedClient  # each browser's requests get their own `g`
    user = make.user()
    secret = enrol_totp(user)
    laptop = app.test_client()
    assert login(laptop, user.email).status_code == 303
    assert submit_code(laptop, totp_now(secret)).status_code == 303
    assert len(_sessions(user.id)) == 1
    assert _new_sign_in_emails(smtp) == []
    db.session.execute(db.update(MfaFactor).values(last_used_step=None))  # same 30 s step
    db.session.commit()
    phone = app.test_client()
    assert login(phone, user.email, ua=SAFARI_IPHONE).status_code == 303
    assert submit_code(phone, totp_now(secret)).status_code == 303
    assert [m["To"] for m in _new_sign_in_emails(smtp)] == [user.email]
    assert tags(user.id).count("account:device:new") == 2


def test_device_known_to_one_person_is_new_to_another(app, make, ctx, smtp):
    """Devices are known per person: a browser one person uses is new for another
    person who has signed in before elsewhere."""
    first, second = make.user(), make.user()
    shared = app.test_client()
    _signed_in(app, second)
    assert login(shared, first.email).status_code == 303
    assert login(shared, second.email).status_code == 303
    assert [m["To"] for m in smtp.messages] == [second.email]
