"""Account pages: profile, email verification and change, password change; the links
from /account and /login. Emails go through a real SMTP server and links are followed."""

from __future__ import annotations

import pytest

from ciam.accounts.models import User
from ciam.audit.models import AuditEvent
from ciam.extensions import db
from ciam.oidc.models import Token
from tests.accounts.selfservice import (
    FORGED_CSRF,
    age_login,
    body,
    csrf,
    link_in,
    login,
    mail_to,
    open_sessions,
    path_of,
    post_form,
)
from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp
from tests.smtp import SMTPServer

NEW_PASSWORD = "harbor copper lantern 2031"
NEW_EMAIL = "pat.new@example.test"


@pytest.fixture
def smtp(app, monkeypatch):
    server = SMTPServer().start()
    monkeypatch.setitem(app.config, "CIAM_SMTP_URL", server.url)
    yield server
    server.stop()


def _reload(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def _tags(user) -> set[str]:
    return set(db.session.scalars(db.select(AuditEvent.tag).where(AuditEvent.actor_id == user.id)))


def _another_browser(client):
    return client.application.test_client()


# --- pages and links ------------------------------------------------------------


def test_account_page_links_to_every_settings_page(client, make):
    """/account leads to profile, email, password, MFA, sessions and activity."""
    user = make.user()
    login(client, user.email)
    html = client.get("/account").get_data(as_text=True)
    for href in (
        "/account/profile",
        "/account/email",
        "/account/password",
        "/account/mfa",
        "/account/sessions",
        "/account/activity",
    ):
        assert f'href="{href}"' in html, href


def test_login_page_links_to_password_reset(client):
    """The login page offers "Forgot your password?" leading to the reset form."""
    html = client.get("/login").get_data(as_text=True)
    assert '<a href="/reset-password">Forgot your password?</a>' in html


def test_pages_fit_a_phone_screen(client, make):
    """Mobile-first: every self-service page has the viewport meta tag and the shared
    stylesheet (one column, readable at 360 px)."""
    user = make.user()
    login(client, user.email)
    for path in ("/account", "/account/profile", "/account/email", "/account/password"):
        html = client.get(path).get_data(as_text=True)
        assert 'name="viewport" content="width=device-width, initial-scale=1"' in html, path
        assert "style.css" in html, path


@pytest.mark.parametrize(
    "path", ["/account/profile", "/account/email", "/account/password", "/account/email/verify"]
)
def test_account_pages_need_a_login(client, path):
    """Without a session every account page sends the person to the login page."""
    response = client.get(path) if path != "/account/email/verify" else client.post(path)
    if path == "/account/email/verify":
        assert response.status_code == 400  # no CSRF token: refused before anything else
        response = client.post(path, data={"csrf_token": csrf(client, "/login")})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- profile ----------------------------------------------------------------------


def test_profile_saves_name_and_phone(client, make, ctx):
    """Name and phone are saved and the change is audited."""
    user = make.user()
    login(client, user.email)
    data = {"given_name": " Pat ", "family_name": "Lee", "phone_number": "+49 30 1234567"}
    response = post_form(client, "/account/profile", data)
    assert response.status_code == 303
    saved = _reload(user)
    assert (saved.given_name, saved.family_name, saved.phone_number) == (
        "Pat",
        "Lee",
        "+49 30 1234567",
    )
    assert "account:profile:updated" in _tags(user)
    assert "Your profile was saved." in client.get("/account/profile").get_data(as_text=True)


def test_profile_saves_the_address_and_shows_it_again(client, make, ctx):
    """The address parts (OIDC Core §5.1.1) are saved trimmed, shown on the page
    again, and emptying them all removes the address."""
    user = make.user()
    login(client, user.email)
    data = {
        "street_address": " 100 Main Street ",
        "locality": "Hartford",
        "region": "",
        "postal_code": "06103",
        "country": "US",
    }
    assert post_form(client, "/account/profile", data).status_code == 303
    assert _reload(user).address == {
        "street_address": "100 Main Street",
        "locality": "Hartford",
        "postal_code": "06103",
        "country": "US",
    }
    html = client.get("/account/profile").get_data(as_text=True)
    assert "100 Main Street" in html and 'value="Hartford"' in html
    emptied = dict.fromkeys(data, "")
    assert post_form(client, "/account/profile", emptied).status_code == 303
    assert _reload(user).address is None


def test_profile_refuses_a_malformed_phone(client, make, ctx):
    """A phone number with letters is refused and nothing is saved."""
    user = make.user()
    login(client, user.email)
    response = post_form(client, "/account/profile", {"phone_number": "call me maybe"})
    assert response.status_code == 400
    assert _reload(user).phone_number is None


@pytest.mark.parametrize("token", [None, FORGED_CSRF])
def test_profile_form_needs_csrf(client, make, ctx, token):
    """CSRF: a profile post without a valid token changes nothing."""
    user = make.user()
    login(client, user.email)
    data = {"given_name": "Mallory"} | ({"csrf_token": token} if token else {})
    assert client.post("/account/profile", data=data).status_code == 400
    assert _reload(user).given_name is None


# --- email change -------------------------------------------------------------------


def test_email_change_happens_only_when_the_link_is_followed(client, make, smtp, ctx):
    """The new address gets a link; nothing changes until it is confirmed; then the
    person signs in with the new address and the old one gets a notice."""
    user = make.user("pat@example.test")
    login(client, user.email)
    response = post_form(client, "/account/email", {"email": NEW_EMAIL})
    assert response.status_code == 200
    assert NEW_EMAIL in response.get_data(as_text=True)
    assert _reload(user).email == "pat@example.test"  # not yet
    assert _reload(user).pending_email == NEW_EMAIL
    [message] = mail_to(smtp, NEW_EMAIL)
    url = link_in(message)
    assert url.startswith(ctx.config["CIAM_ISSUER"] + "/verify-email/")

    page = client.get(path_of(url))  # opening the link only asks
    assert page.status_code == 200
    assert _reload(user).email == "pat@example.test"
    confirmed = post_form(_another_browser(client), path_of(url), {})
    assert confirmed.status_code == 200

    saved = _reload(user)
    assert (saved.email, saved.email_verified, saved.pending_email) == (NEW_EMAIL, True, None)
    [notice] = mail_to(smtp, "pat@example.test")
    assert notice["Subject"] == "Your email address was changed"
    assert "contact support" in body(notice)
    assert "account:email:changed" in _tags(user)
    fresh = _another_browser(client)
    assert post_form(fresh, "/login", {"email": NEW_EMAIL, "password": PASSWORD}).status_code == 303


def test_email_change_link_works_once(client, make, smtp, ctx):
    """A followed change link is refused the second time."""
    user = make.user()
    login(client, user.email)
    post_form(client, "/account/email", {"email": NEW_EMAIL})
    path = path_of(link_in(mail_to(smtp, NEW_EMAIL)[0]))
    assert post_form(client, path, {}).status_code == 200
    assert client.get(path).status_code == 400


def test_newer_email_change_request_kills_the_older_link(client, make, smtp, ctx):
    """Only the latest requested address can be confirmed."""
    user = make.user()
    login(client, user.email)
    post_form(client, "/account/email", {"email": "first@example.test"})
    first = path_of(link_in(mail_to(smtp, "first@example.test")[0]))
    post_form(client, "/account/email", {"email": NEW_EMAIL})
    assert client.get(first).status_code == 400
    assert _reload(user).pending_email == NEW_EMAIL


def test_email_change_to_a_taken_address_says_the_same_and_sends_no_link(client, make, smtp):
    """The page does not reveal that another account uses the address; that address
    gets a notice without a link."""
    user = make.user()
    other = make.user()
    login(client, user.email)
    taken = post_form(client, "/account/email", {"email": other.email})
    free = post_form(client, "/account/email", {"email": NEW_EMAIL})
    assert taken.status_code == free.status_code == 200
    assert taken.get_data(as_text=True).replace(other.email, "X") == free.get_data(
        as_text=True
    ).replace(NEW_EMAIL, "X")
    [notice] = mail_to(smtp, other.email)
    assert "/verify-email/" not in body(notice)


def test_email_change_needs_recent_authentication(client, make, smtp, ctx):
    """ASVS 3.7.1: with a login older than CIAM_RECENT_AUTH_SECONDS the email page sends
    the person to sign in again, and nothing is sent."""
    user = make.user()
    login(client, user.email)
    age_login(user.id, minutes=10)
    response = client.post("/account/email", data={"csrf_token": csrf(client, "/login")})
    assert response.status_code == 302
    assert "reauth=1" in response.headers["Location"]
    assert smtp.messages == []


@pytest.mark.parametrize("token", [None, FORGED_CSRF])
def test_email_change_form_needs_csrf(client, make, smtp, ctx, token):
    """CSRF: an email change without a valid token is refused and sends nothing."""
    user = make.user()
    login(client, user.email)
    data = {"email": NEW_EMAIL} | ({"csrf_token": token} if token else {})
    assert client.post("/account/email", data=data).status_code == 400
    assert smtp.messages == [] and _reload(user).pending_email is None


@pytest.mark.parametrize("token", [None, FORGED_CSRF])
def test_email_confirm_form_needs_csrf(client, make, smtp, ctx, token):
    """CSRF: confirming a change link without a valid token changes nothing."""
    user = make.user()
    login(client, user.email)
    post_form(client, "/account/email", {"email": NEW_EMAIL})
    path = path_of(link_in(mail_to(smtp, NEW_EMAIL)[0]))
    data = {"csrf_token": token} if token else {}
    assert client.post(path, data=data).status_code == 400
    assert _reload(user).email != NEW_EMAIL


# --- email verification -------------------------------------------------------------


def _unverified(make):
    user = make.user()
    user.email_verified = False
    db.session.commit()
    return user


def test_unverified_address_is_verified_by_its_link(client, make, smtp, ctx):
    """An unverified person asks for a link from /account, follows it and confirms."""
    user = _unverified(make)
    login(client, user.email)
    assert "not verified" in client.get("/account").get_data(as_text=True)
    response = client.post("/account/email/verify", data={"csrf_token": csrf(client, "/account")})
    assert response.status_code == 303
    path = path_of(link_in(mail_to(smtp, user.email)[0]))
    assert _reload(user).email_verified is False
    assert post_form(client, path, {}).status_code == 200
    assert _reload(user).email_verified is True
    assert "account:email:verified" in _tags(user)


def test_verification_link_dies_if_the_address_changes(client, make, smtp, ctx):
    """A link for an address the account no longer has is refused."""
    user = _unverified(make)
    login(client, user.email)
    client.post("/account/email/verify", data={"csrf_token": csrf(client, "/account")})
    path = path_of(link_in(mail_to(smtp, user.email)[0]))
    user.email, user.email_normalized = "moved@example.test", "moved@example.test"
    db.session.commit()
    assert client.get(path).status_code == 400


@pytest.mark.parametrize("token", [None, FORGED_CSRF])
def test_send_verification_form_needs_csrf(client, make, smtp, ctx, token):
    """CSRF: the "send verification link" button without a valid token sends nothing."""
    user = _unverified(make)
    login(client, user.email)
    data = {"csrf_token": token} if token else {}
    client.post("/account/email/verify", data=data)
    assert smtp.messages == []


# --- password change ------------------------------------------------------------------


def test_password_change_ends_other_sessions_and_tokens(live_server, client, make, smtp, ctx):
    """A password change keeps this session, signs out every other browser and revokes
    portal tokens (ASVS 3.3.3), and tells the person by email."""
    user = make.user()
    portal, secret = make.portal()
    _, _, portal_browser = portal_rp(live_server, portal, secret).login(user.email, PASSWORD)
    login(client, user.email)
    assert open_sessions(user.id) == 2
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = post_form(client, "/account/password", data)
    assert response.status_code == 303
    assert client.get("/account").status_code == 200  # this browser stays signed in
    assert portal_browser.get("/account").status_code == 302  # the other one does not
    assert open_sessions(user.id) == 1
    db.session.expire_all()
    tokens = db.session.scalars(db.select(Token).where(Token.user_id == user.id)).all()
    assert tokens and all(t.revoked_at is not None for t in tokens)
    assert mail_to(smtp, user.email)[-1]["Subject"] == "Your password was changed"
    assert "account:password:changed" in _tags(user)


def test_password_change_needs_the_current_password(client, make, ctx):
    """ASVS 2.1.6: a wrong current password changes nothing and is audited."""
    user = make.user()
    login(client, user.email)
    data = {"current_password": "not the password", "new_password": NEW_PASSWORD}
    response = post_form(client, "/account/password", data)
    assert response.status_code == 400
    assert "current password is not right" in response.get_data(as_text=True)
    assert "account:password:change_failed" in _tags(user)
    fresh = _another_browser(client)
    assert post_form(fresh, "/login", {"email": user.email, "password": PASSWORD}).status_code == (
        303
    )


def test_password_change_needs_recent_authentication(client, make, ctx):
    """ASVS 3.7.1: a login older than CIAM_RECENT_AUTH_SECONDS must sign in again before
    the password can change, even with the right current password."""
    user = make.user()
    login(client, user.email)
    token = csrf(client, "/account/password")
    age_login(user.id, minutes=10)
    assert client.get("/account/password").status_code == 302
    data = {"csrf_token": token, "current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = client.post("/account/password", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/account/password")
    fresh = _another_browser(client)
    assert post_form(fresh, "/login", {"email": user.email, "password": PASSWORD}).status_code == (
        303
    )


def test_password_change_applies_the_policy(client, make, ctx):
    """The new password must pass the policy (here: contains the email's local part)."""
    user = make.user("lantern@example.test")
    login(client, user.email)
    data = {"current_password": PASSWORD, "new_password": "my Lantern harbor 2031"}
    response = post_form(client, "/account/password", data)
    assert response.status_code == 400
    assert "email address" in response.get_data(as_text=True)


@pytest.mark.parametrize("token", [None, FORGED_CSRF])
def test_password_change_form_needs_csrf(client, make, ctx, token):
    """CSRF: a password change without a valid token changes nothing."""
    user = make.user()
    login(client, user.email)
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    data |= {"csrf_token": token} if token else {}
    assert client.post("/account/password", data=data).status_code == 400
    fresh = _another_browser(client)
    assert post_form(fresh, "/login", {"email": user.email, "password": PASSWORD}).status_code == (
        303
    )
