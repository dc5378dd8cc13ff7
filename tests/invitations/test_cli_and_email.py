"""The operator's CLI (`ciam invitations create|expire`) and the invitation email as
it leaves through a real SMTP server."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from ciam.db import utcnow
from ciam.extensions import db
from ciam.invitations.models import Invitation, InvitationStatus
from ciam.outbox.dispatch import dispatch_due
from tests.accounts.selfservice import CSRF, body, link_in, mail_to
from tests.api.support import audit, bearer, client_token, emails_to
from tests.smtp import SMTPServer


@pytest.fixture
def smtp(app, monkeypatch):
    server = SMTPServer().start()
    monkeypatch.setitem(app.config, "CIAM_SMTP_URL", server.url)
    yield server
    server.stop()


def _run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_cli_create_prints_a_working_link(app, client, make):
    """`ciam invitations create --email --org --role` prints the link (also queued as
    an email); the link opens the invitation page; a second run makes no new link."""
    make.org(slug="acme", name="Acme Insurance")
    result = _run(
        app,
        "invitations",
        "create",
        "--email",
        "Pat@Example.com",
        "--org",
        "acme",
        "--role",
        "claims",
        "--role",
        "reader",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["created"] is True and data["status"] == "pending"
    assert data["link"].startswith(app.config["CIAM_ISSUER"] + "/invitations/")
    db.session.expire_all()
    invitation = db.session.get(Invitation, uuid.UUID(data["id"]))
    assert invitation.business_roles == ["claims", "reader"]
    assert invitation.inviter_client_id is None
    assert len(emails_to("pat@example.com")) == 1
    page = client.get(urlsplit(data["link"]).path)
    assert page.status_code == 200 and "Acme Insurance" in page.get_data(as_text=True)

    again = _run(app, "invitations", "create", "--email", "pat@example.com", "--org", "acme")
    assert again.exit_code == 0 and "already has a pending invitation" in again.output
    assert len(emails_to("pat@example.com")) == 1


def test_cli_create_unknown_org_fails_cleanly(app, ctx):
    """An unknown org is a readable CLI error with a non-zero exit, no traceback."""
    result = _run(app, "invitations", "create", "--email", "a@example.com", "--org", "nope")
    assert result.exit_code != 0
    assert "No organization nope." in result.output


def test_cli_expire_marks_overdue_pending_invitations(app, make):
    """`ciam invitations expire` marks pending invitations past their expiry as
    expired, audits each, and leaves current and accepted ones alone."""
    make.org(slug="acme")
    overdue, _ = make.invitation("old@example.com", "acme")
    current, _ = make.invitation("new@example.com", "acme")
    db.session.get(Invitation, overdue.id).expires_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    result = _run(app, "invitations", "expire")
    assert result.exit_code == 0 and "1 invitation(s) expired" in result.output
    db.session.expire_all()
    assert db.session.get(Invitation, overdue.id).status == InvitationStatus.expired
    assert db.session.get(Invitation, current.id).status == InvitationStatus.pending
    [event] = audit("invitation:expired")
    assert event.target == str(overdue.id)


def test_email_arrives_over_smtp_and_its_link_accepts(client, make, smtp):
    """End to end: the API call commits, the outbox sends one email through SMTP
    (inline after the request here), and the link in it creates the account."""
    make.org(slug="acme", name="Acme Insurance")
    portal, secret = make.crm_client()
    headers = bearer(client_token(client, portal.client_id, secret))
    response = client.post(
        "/api/v1/invitations",
        json={"email": "pat@example.com", "org": "acme", "given_name": "Pat"},
        headers=headers,
    )
    assert response.status_code == 201
    dispatch_due()  # nothing left: the inline sender already sent it
    [message] = mail_to(smtp, "pat@example.com")
    assert message["Subject"] == "Your invitation to Acme Insurance"
    assert body(message).startswith("Hello Pat,")
    link = link_in(message)
    assert link.startswith(client.application.config["CIAM_ISSUER"] + "/invitations/")
    path = urlsplit(link).path
    page = client.get(path)
    csrf_token = CSRF.search(page.get_data(as_text=True)).group(1)
    accepted = client.post(path, data={"csrf_token": csrf_token, "password": "tide amber quiet 77"})
    assert accepted.status_code == 303
