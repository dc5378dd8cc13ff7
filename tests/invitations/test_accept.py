"""The invitation page /invitations/<token>: a new person creates an account, a
person with an account signs in and joins; bad, used, revoked, expired or replaced
links get a readable page (400/410), never a 500; a link works once, even raced."""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from ciam.accounts.models import User, UserStatus
from ciam.accounts.sessions.cookies import cookie_name
from ciam.db import utcnow
from ciam.delegation import services as orgs
from ciam.delegation.models import AdminRight, Membership, OrgStatus
from ciam.extensions import db
from ciam.invitations import accept, services
from ciam.invitations.errors import InvitationGone
from ciam.invitations.links import read_link
from ciam.invitations.models import Invitation, InvitationStatus
from ciam.outbox.models import OutboxMessage
from ciam.outbox.sealing import open_payload
from ciam.roles.assignments import assign_role, role_keys_of
from ciam.tokens import Purpose, make_token
from tests.accounts.selfservice import CSRF, URL, login
from tests.api.support import audit
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD

NEW_PASSWORD = "violet harbour lantern 42"


def _path(link: str) -> str:
    return urlsplit(link).path


def _csrf(page) -> str:
    return CSRF.search(page.get_data(as_text=True)).group(1)


def _any_csrf(client) -> str:
    """This browser's CSRF token, from a page that always has a form."""
    return _csrf(client.get("/reset-password"))


def _accept_new(client, path: str, password: str = NEW_PASSWORD, **fields):
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    data = {"csrf_token": _csrf(page), "password": password, **fields}
    return client.post(path, data=data)


def _membership(user_id, org_id) -> Membership | None:
    db.session.expire_all()
    return db.session.scalar(
        db.select(Membership).where(Membership.user_id == user_id, Membership.org_id == org_id)
    )


def _user(email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(db.select(User).where(User.email_normalized == email))


def _status(invitation) -> InvitationStatus:
    db.session.expire_all()
    return db.session.get(Invitation, invitation.id).status


def test_page_shows_org_and_email_and_changes_nothing(client, make):
    """GET shows the organization's name, the invited address and a password form;
    opening the link (a mail scanner, say) accepts nothing."""
    make.org(slug="acme", name="Acme Insurance")
    invitation, link = make.invitation("new.person@example.com", "acme", given_name="Nia")
    page = client.get(_path(link))
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Acme Insurance" in text and "new.person@example.com" in text
    assert '<label for="password">Password</label>' in text
    assert 'value="Nia"' in text
    assert page.headers["Cache-Control"] == "no-store"
    assert _status(invitation) == InvitationStatus.pending


def test_new_person_gets_active_verified_account_and_membership(client, make):
    """Accepting as a new person: an active account with a verified email, a
    membership with the invited business roles and no admin right, the invitation
    accepted and audited; then the login page (no session from the link, so an
    organization's MFA policy still applies at sign-in), where the password works."""
    org = make.org(slug="acme", name="Acme Insurance")
    make.role("claims-handler")
    invitation, link = make.invitation(
        "New.Person@Example.com", "acme", roles=["claims-handler"], locale="de"
    )
    response = _accept_new(client, _path(link), given_name="Nia", family_name="Lee")
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and not location.netloc
    assert parse_qs(location.query)["login_hint"] == ["new.person@example.com"]
    assert cookie_name() not in response.headers.get("Set-Cookie", "")

    user = _user("new.person@example.com")
    assert user.status == UserStatus.active and user.email_verified
    assert (user.given_name, user.family_name, user.locale) == ("Nia", "Lee", "de")
    membership = _membership(user.id, org.id)
    assert role_keys_of(membership) == ["claims-handler"]
    assert membership.admin_right == AdminRight.none
    db.session.expire_all()
    row = db.session.get(Invitation, invitation.id)
    assert row.status == InvitationStatus.accepted and row.accepted_user_id == user.id
    [event] = audit("invitation:accepted")
    assert event.actor_id == user.id and event.org_id == org.id
    assert event.data["new_account"] is True

    login_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sign in to continue" in login_page
    login(client, "new.person@example.com", NEW_PASSWORD)


def test_weak_password_is_refused_and_link_still_works(client, make):
    """The password policy applies; a refused password leaves the link usable."""
    make.org(slug="acme")
    invitation, link = make.invitation("pat@example.com", "acme")
    refused = _accept_new(client, _path(link), password="password123")
    assert refused.status_code == 400
    assert 'role="alert"' in refused.get_data(as_text=True)
    assert _user("pat@example.com") is None
    assert _status(invitation) == InvitationStatus.pending
    assert _accept_new(client, _path(link)).status_code == 303


def test_existing_account_signs_in_then_confirms(client, make):
    """An address with an account: the page asks to sign in (a link to /login with
    next back to the invitation); signed in as that account, Join adds the
    membership with the roles; the account keeps its password."""
    org = make.org(slug="acme", name="Acme Insurance")
    user = make.user(email="known@example.com")
    make.role("reader")
    invitation, link = make.invitation("known@example.com", "acme", roles=["reader"])
    page = client.get(_path(link)).get_data(as_text=True)
    assert "Sign in to accept" in page
    assert 'name="password"' not in page
    [href] = re.findall(r'href="([^"]*)">Sign in to accept', page)
    query = parse_qs(urlsplit(html.unescape(href)).query)
    assert query["next"] == [_path(link)]
    assert query["login_hint"] == ["known@example.com"]

    login(client, "known@example.com")
    confirm = client.get(_path(link))
    assert confirm.status_code == 200
    response = client.post(_path(link), data={"csrf_token": _csrf(confirm)})
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/account"
    assert role_keys_of(_membership(user.id, org.id)) == ["reader"]
    assert _status(invitation) == InvitationStatus.accepted
    assert audit("invitation:accepted")[0].data["new_account"] is False


def test_post_without_sign_in_does_not_accept_for_existing_account(client, make):
    """For an address that has an account, posting to the link unauthenticated
    accepts nothing: the invitation stays pending."""
    make.org(slug="acme")
    make.user(email="known@example.com")
    invitation, link = make.invitation("known@example.com", "acme")
    response = client.post(
        _path(link), data={"csrf_token": _any_csrf(client), "password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert _status(invitation) == InvitationStatus.pending


def test_signed_in_as_someone_else_is_refused(client, make):
    """Signed in as another account: 403 explaining which address is invited; a
    POST changes nothing."""
    org = make.org(slug="acme")
    make.user(email="invited@example.com")
    other = make.user(email="other@example.com")
    invitation, link = make.invitation("invited@example.com", "acme")
    login(client, "other@example.com")
    page = client.get(_path(link))
    assert page.status_code == 403
    assert "invited@example.com" in page.get_data(as_text=True)
    assert client.post(_path(link), data={"csrf_token": _any_csrf(client)}).status_code == 403
    assert _membership(other.id, org.id) is None
    assert _status(invitation) == InvitationStatus.pending


def test_used_link_is_410(client, make):
    """A link works once: after accepting, it shows a 410 page, for GET and POST."""
    make.org(slug="acme")
    _, link = make.invitation("pat@example.com", "acme")
    page = client.get(_path(link))
    csrf_token = _csrf(page)
    data = {"csrf_token": csrf_token, "password": NEW_PASSWORD}
    assert client.post(_path(link), data=data).status_code == 303
    again = client.get(_path(link))
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    replay = client.post(_path(link), data=data)
    assert replay.status_code == 410


def test_revoked_and_expired_links_are_410(client, make):
    """A revoked invitation and one past its expiry show readable 410 pages."""
    make.org(slug="acme")
    revoked, revoked_link = make.invitation("r@example.com", "acme")
    services.revoke(revoked.id, services.OPERATOR)
    expired, expired_link = make.invitation("e@example.com", "acme")
    db.session.get(Invitation, expired.id).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    page = client.get(_path(revoked_link))
    assert page.status_code == 410 and "withdrawn" in page.get_data(as_text=True)
    page = client.get(_path(expired_link))
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    assert page.mimetype == "text/html"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: "x" + t,
        lambda t: "garbage",
        lambda t: "a" * 3000,
    ],
)
def test_tampered_links_are_400(client, make, mangle):
    """A changed signature or payload, garbage or an absurdly long token: 400 page."""
    make.org(slug="acme")
    _, link = make.invitation("pat@example.com", "acme")
    token = _path(link).rsplit("/", 1)[1]
    page = client.get(f"/invitations/{mangle(token)}")
    assert page.status_code == 400
    assert page.mimetype == "text/html" and "<h1>" in page.get_data(as_text=True)


def test_token_of_another_purpose_or_row_is_400(client, make):
    """Our own signature is not enough: a password-reset token, or an invitation
    token naming a row with a nonce that is not its own, is refused."""
    make.org(slug="acme")
    invitation, _ = make.invitation("pat@example.com", "acme")
    reset = make_token(Purpose.password_reset, {"i": str(invitation.id), "n": "x"})
    assert client.get(f"/invitations/{reset}").status_code == 400
    guessed = make_token(Purpose.invitation, {"i": str(invitation.id), "n": "guessed"})
    assert client.get(f"/invitations/{guessed}").status_code == 400
    not_a_row = make_token(Purpose.invitation, {"i": "nope", "n": "x"})
    assert client.get(f"/invitations/{not_a_row}").status_code == 400


def test_resend_invalidates_the_old_link(client, make, app, monkeypatch):
    """After a resend the old link is refused (400) and the new one works."""
    monkeypatch.setitem(app.config, "CIAM_INVITATION_RESEND_INTERVAL", 0)
    make.org(slug="acme")
    invitation, old_link = make.invitation("pat@example.com", "acme")
    services.resend(invitation.id, services.OPERATOR)
    db.session.commit()
    messages = list(db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.created_at)))
    [new_link] = URL.findall(open_payload("email", messages[-1].payload)["text"])
    assert new_link != old_link and "/invitations/" in new_link
    assert client.get(_path(old_link)).status_code == 400
    assert _accept_new(client, _path(new_link)).status_code == 303


def test_invitation_for_org_a_never_grants_org_b(client, make):
    """Cross-org isolation: the person invited to A and B who accepts A's link joins
    A only; B's invitation stays pending and its own link is still needed."""
    a = make.org(slug="org-a")
    b = make.org(slug="org-b")
    make.role("a-role", org=a)
    make.role("b-role", org=b)
    _, link_a = make.invitation("pat@example.com", "org-a", roles=["a-role"])
    invitation_b, _ = make.invitation("pat@example.com", "org-b", roles=["b-role"])
    assert _accept_new(client, _path(link_a)).status_code == 303
    user = _user("pat@example.com")
    assert role_keys_of(_membership(user.id, a.id)) == ["a-role"]
    assert _membership(user.id, b.id) is None
    assert _status(invitation_b) == InvitationStatus.pending


def test_suspended_org_takes_no_one(client, make):
    """An invitation to an organization suspended since is refused (403 page)."""
    org = make.org(slug="acme")
    _, link = make.invitation("pat@example.com", "acme")
    org.status = OrgStatus.suspended
    db.session.commit()
    assert client.get(_path(link)).status_code == 403


def test_no_open_redirect_through_next(client, make):
    """The page ignores a `next` parameter: after accepting, the browser goes to our
    own login page, never to the address given."""
    make.org(slug="acme")
    _, link = make.invitation("pat@example.com", "acme")
    path = _path(link)
    page = client.get(path, query_string={"next": "https://evil.example/"})
    assert "evil.example" not in page.get_data(as_text=True)
    response = client.post(
        path + "?next=https://evil.example/",
        data={"csrf_token": _csrf(page), "password": NEW_PASSWORD, "next": "//evil.example"},
    )
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and location.netloc in ("", "127.0.0.1")
    assert "evil" not in response.headers["Location"]


def test_mfa_required_org_still_forces_enrolment_at_sign_in(client, make):
    """Accepting into an org that requires MFA starts no session: signing in after
    accepting sends the person to set up a second factor."""
    org = make.org(slug="secure")
    org.mfa_required = True
    db.session.commit()
    _, link = make.invitation("pat@example.com", "secure")
    assert _accept_new(client, _path(link)).status_code == 303
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": _csrf(page),
            "email": "pat@example.com",
            "password": NEW_PASSWORD,
            "next": "",
        },
    )
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path.startswith("/login/mfa")


def test_two_racing_accepts_only_one_wins(app, make):
    """Two browsers posting the same link at the same moment: one account and one
    membership are made; the other browser gets the 410 page."""
    org = make.org(slug="acme")
    _, link = make.invitation("race@example.com", "acme")
    path = _path(link)
    app.test_client_class = IsolatedClient
    browsers = [app.test_client(), app.test_client()]
    tokens = [_csrf(b.get(path)) for b in browsers]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def accept(browser, token):
        barrier.wait()
        response = browser.post(path, data={"csrf_token": token, "password": NEW_PASSWORD})
        results.append(response.status_code)

    threads = [
        threading.Thread(target=accept, args=pair) for pair in zip(browsers, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) in ([303, 409], [303, 410])
    user = _user("race@example.com")
    assert _membership(user.id, org.id) is not None
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(Membership)) == 1
    assert len(audit("invitation:accepted")) == 1


def test_claim_is_a_conditional_update(make):
    """The service-level guarantee behind the race test: with the row read by two
    callers, the second claim finds nothing pending and raises InvitationGone."""
    make.org(slug="acme")
    _, link = make.invitation("pat@example.com", "acme")
    token = _path(link).rsplit("/", 1)[1]
    row, nonce = read_link(token)
    accept._claim(row, nonce)
    with pytest.raises(InvitationGone):
        accept._claim(row, nonce)
    db.session.rollback()


def test_member_meanwhile_gets_roles_merged(client, make):
    """If the person joined the org meanwhile, accepting adds the invited roles to
    the membership instead of failing or duplicating it."""
    org = make.org(slug="acme")
    user = make.user(email="known@example.com")
    make.role("claims")
    invitation, link = make.invitation("known@example.com", "acme", roles=["claims"])
    membership = orgs.add_member(org, user)
    assign_role(membership, make.role("reader"))
    db.session.commit()
    login(client, "known@example.com", PASSWORD)
    page = client.get(_path(link))
    assert client.post(_path(link), data={"csrf_token": _csrf(page)}).status_code == 303
    assert role_keys_of(_membership(user.id, org.id)) == ["reader", "claims"]
    assert _status(invitation) == InvitationStatus.accepted


def test_invited_role_unknown_or_without_a_seat_is_not_given(client, make):
    """Invited roles go through the catalogue and the seats: a key the org's
    catalogue lacks, and a role whose portal has no seat left, are not given; the
    person still joins with the rest, and the audit event says why."""
    from ciam.roles import services as roles

    org = make.org(slug="acme")
    make.portal(client_id="claims-portal")
    roles.change_app_roles("claims-portal", ["adjuster"])
    roles.set_licence(org, "claims-portal", 0)
    roles.map_role(make.role("adjuster-role"), "claims-portal", ["adjuster"])
    make.role("reader")
    db.session.commit()
    _, link = make.invitation(
        "pat@example.com", "acme", roles=["reader", "no-such-role", "adjuster-role"]
    )
    assert _accept_new(client, _path(link)).status_code == 303
    user = _user("pat@example.com")
    assert role_keys_of(_membership(user.id, org.id)) == ["reader"]
    [event] = audit("membership:created")
    assert event.data["roles_not_given"] == {
        "no-such-role": "role_not_found",
        "adjuster-role": "seat_limit_reached",
    }
