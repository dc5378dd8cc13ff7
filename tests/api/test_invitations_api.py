"""POST/GET /api/v1/invitations: create one, idempotency, conflicts, validation as
JSON 4xx, reading, pagination, revoke, resend, the webmail flag."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from ciam.db import utcnow
from ciam.delegation import services as orgs
from ciam.delegation.models import OrgStatus
from ciam.extensions import db
from ciam.invitations import lookup
from ciam.invitations.models import Invitation
from ciam.outbox.sealing import open_payload
from tests.api.support import (
    audit,
    audit_tags,
    bearer,
    client_token,
    crm_headers,
    email_count,
    emails_to,
    invitations,
)

URL = "/api/v1/invitations"


@pytest.fixture
def crm(client, make):
    """Bearer headers of a CRM client with both invitation scopes, and its client id."""
    portal, secret = make.crm_client()
    headers = bearer(client_token(client, portal.client_id, secret))
    headers["client_id"] = portal.client_id
    return headers


def _h(crm: dict) -> dict:
    return {"Authorization": crm["Authorization"]}


def test_create_returns_201_without_token_and_queues_one_email(client, make, crm):
    """One invitation: 201 with the invitation (never its token or link), a Location,
    the email lower-cased, the inviting client recorded, one email queued whose link
    is built from CIAM_ISSUER even when the request came with a forged Host."""
    make.org(slug="acme", name="Acme Insurance")
    response = client.post(
        URL,
        json={
            "email": "Pat.Doe@Example.COM",
            "org": "acme",
            "business_roles": ["claims-handler", "reader"],
            "crm_contact_id": "003ABC",
            "given_name": "Pat",
            "family_name": "Doe",
            "locale": "de-DE",
        },
        headers={**_h(crm), "Host": "evil.example"},
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["email"] == "pat.doe@example.com"
    assert body["org"] == "acme"
    assert body["status"] == "pending"
    assert body["business_roles"] == ["claims-handler", "reader"]
    assert body["inviter_client_id"] == crm["client_id"]
    assert body["sends"] == 1
    assert body["public_email_domain"] is False
    assert response.headers["Location"].endswith(f"/api/v1/invitations/{body['id']}")
    text = response.get_data(as_text=True)
    assert "token" not in text and "/invitations/ey" not in text

    [email] = emails_to("pat.doe@example.com")
    issuer = client.application.config["CIAM_ISSUER"]
    assert email.payload["subject"] == "Your invitation to Acme Insurance"
    text = open_payload("email", email.payload)["text"]
    assert f"{issuer}/invitations/" in text
    assert "evil.example" not in text
    assert audit_tags() == ["invitation:created", "invitation:sent"]
    [created] = audit("invitation:created")
    assert created.client_id == crm["client_id"]
    assert created.target == body["id"]


def test_same_pending_invitation_is_returned_with_200_and_no_email(client, make, crm):
    """Idempotency: posting the same address and org again (any case) returns the
    pending invitation with 200, unchanged, and sends nothing more."""
    make.org(slug="acme")
    first = client.post(URL, json={"email": "pat@example.com", "org": "acme"}, headers=_h(crm))
    again = client.post(
        URL,
        json={"email": "PAT@example.com", "org": "acme", "business_roles": ["x"]},
        headers=_h(crm),
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"]
    assert again.json["business_roles"] == []
    assert len(invitations()) == 1
    assert len(emails_to("pat@example.com")) == 1


def test_same_email_other_org_is_a_separate_invitation(client, make, crm):
    """Idempotency is per address *and* organization."""
    make.org(slug="acme")
    make.org(slug="globex", crm_account_id="001GLOBEX")
    a = client.post(URL, json={"email": "pat@example.com", "org": "acme"}, headers=_h(crm))
    b = client.post(
        URL, json={"email": "pat@example.com", "crm_account_id": "001GLOBEX"}, headers=_h(crm)
    )
    assert (a.status_code, b.status_code) == (201, 201)
    assert b.json["org"] == "globex"
    assert len(emails_to("pat@example.com")) == 2


def test_existing_member_is_409(client, make, crm):
    """Inviting someone who already belongs to the org is a 409 already_member."""
    org = make.org(slug="acme")
    user = make.user(email="member@example.com")
    orgs.add_member(org, user)
    db.session.commit()
    response = client.post(
        URL, json={"email": "Member@example.com", "org": "acme"}, headers=_h(crm)
    )
    assert response.status_code == 409
    assert response.json["error"] == "already_member"
    assert response.json["details"] == {"email": "member@example.com", "org": "acme"}
    assert invitations() == [] and email_count() == 0


def test_unknown_and_inactive_orgs_are_refused(client, make, crm):
    """An unknown slug or CRM account id is a 422 unknown_org; a suspended org a 409."""
    org = make.org(slug="sleepy")
    org.status = OrgStatus.suspended
    db.session.commit()
    unknown = client.post(URL, json={"email": "a@example.com", "org": "nope"}, headers=_h(crm))
    assert unknown.status_code == 422
    assert unknown.json == {
        "error": "unknown_org",
        "message": "No organization nope.",
        "details": {"org": "nope"},
    }
    by_crm = client.post(
        URL, json={"email": "a@example.com", "crm_account_id": "001NONE"}, headers=_h(crm)
    )
    assert by_crm.status_code == 422 and by_crm.json["error"] == "unknown_org"
    inactive = client.post(URL, json={"email": "a@example.com", "org": "sleepy"}, headers=_h(crm))
    assert inactive.status_code == 409 and inactive.json["error"] == "org_not_active"
    assert invitations() == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"org": "acme"}, "email"),
        ({"email": "not-an-email", "org": "acme"}, "email"),
        ({"email": 42, "org": "acme"}, "email"),
        ({"email": "a@example.com"}, "org"),
        ({"email": "a@example.com", "org": "acme", "crm_account_id": "1"}, "org"),
        ({"email": "a@example.com", "org": "Not A Slug!"}, "org"),
        ({"email": "a@example.com", "org": "acme", "business_roles": "admin"}, "business_roles"),
        ({"email": "a@example.com", "org": "acme", "business_roles": [1]}, "business_roles"),
        (
            {"email": "a@example.com", "org": "acme", "crm_contact_id": "1", "crm_lead_id": "2"},
            "crm_lead_id",
        ),
        ({"email": "a@example.com", "org": "acme", "locale": "<script>"}, "locale"),
        ({"email": "a@example.com", "org": "acme", "admin": True}, "admin"),
        ({"email": "a@example.com", "org": "acme", "given_name": "x" * 121}, "given_name"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(client, make, crm, body, where):
    """Wrong types, missing or unknown fields, bad combinations: a JSON 422
    validation_error whose details name the field, and nothing is created."""
    make.org(slug="acme")
    response = client.post(URL, json=body, headers=_h(crm))
    assert response.status_code == 422, response.json
    assert response.json["error"] == "validation_error"
    assert where in response.json["details"]["json"]
    assert invitations() == []


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ('["a@example.com"]', "application/json", 422),
        ("null", "application/json", 422),
        ("email=a@example.com&org=acme", "application/x-www-form-urlencoded", 422),
        ("\xff\xfe", "application/json", 400),
    ],
)
def test_malformed_bodies_are_json_4xx(client, make, crm, data, content_type, status):
    """Broken JSON, a JSON array or null, a form body: a JSON 4xx, never a 500."""
    make.org(slug="acme")
    response = client.post(URL, data=data, content_type=content_type, headers=_h(crm))
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    assert set(response.json) == {"error", "message", "details"}


def test_get_one_and_unknown_ids(client, make, crm):
    """GET by id returns the invitation; an unknown or malformed id is a JSON 404."""
    make.org(slug="acme")
    created = client.post(URL, json={"email": "a@example.com", "org": "acme"}, headers=_h(crm))
    got = client.get(f"{URL}/{created.json['id']}", headers=_h(crm))
    assert got.status_code == 200 and got.json == created.json
    missing = client.get(f"{URL}/00000000-0000-0000-0000-000000000000", headers=_h(crm))
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
    malformed = client.get(f"{URL}/not-a-uuid", headers=_h(crm))
    assert malformed.status_code == 404 and malformed.is_json


def test_list_paginates_with_opaque_cursor(client, make, crm):
    """`limit` + `cursor`: pages of newest first, no item twice or missed, the last
    page's next_cursor is null; filters by org and status; bad input is a 4xx."""
    make.org(slug="acme")
    make.org(slug="globex")
    for n in range(5):
        client.post(URL, json={"email": f"p{n}@example.com", "org": "acme"}, headers=_h(crm))
    client.post(URL, json={"email": "other@example.com", "org": "globex"}, headers=_h(crm))
    seen, cursor, pages = [], None, 0
    while True:
        query = {"org": "acme", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(URL, query_string=query, headers=_h(crm))
        assert page.status_code == 200, page.json
        pages += 1
        seen += [item["email"] for item in page.json["items"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == [f"p{n}@example.com" for n in range(5)]
    assert len(set(seen)) == 5
    everything = client.get(URL, query_string={"limit": 50}, headers=_h(crm)).json
    assert len(everything["items"]) == 6 and everything["next_cursor"] is None
    accepted = client.get(URL, query_string={"status": "accepted"}, headers=_h(crm)).json
    assert accepted["items"] == []

    for bad in ({"limit": 0}, {"limit": 201}, {"limit": "x"}, {"status": "lost"}):
        response = client.get(URL, query_string=bad, headers=_h(crm))
        assert response.status_code == 422, bad
        assert response.json["error"] == "validation_error"
    bad_cursor = client.get(URL, query_string={"cursor": "!!garbage"}, headers=_h(crm))
    assert bad_cursor.status_code == 400 and bad_cursor.json["error"] == "invalid_cursor"
    unknown_org = client.get(URL, query_string={"org": "nope"}, headers=_h(crm))
    assert unknown_org.status_code == 422


def test_revoke(client, make, crm):
    """Revoking a pending invitation: 200, status revoked, audited; a second revoke
    (or revoking an unknown id) is refused as JSON."""
    make.org(slug="acme")
    created = client.post(URL, json={"email": "a@example.com", "org": "acme"}, headers=_h(crm))
    path = f"{URL}/{created.json['id']}/revoke"
    revoked = client.post(path, headers=_h(crm))
    assert revoked.status_code == 200
    assert revoked.json["status"] == "revoked" and revoked.json["revoked_at"]
    [event] = audit("invitation:revoked")
    assert event.client_id == crm["client_id"]
    again = client.post(path, headers=_h(crm))
    assert again.status_code == 409 and again.json["error"] == "not_pending"
    unknown = client.post(f"{URL}/{uuid.uuid4()}/revoke", headers=_h(crm))
    assert unknown.status_code == 404


def test_resend_sends_a_new_link_and_is_throttled(client, make, crm, app, monkeypatch):
    """Resend: a second email with a different link, sends=2, audited; a resend
    within CIAM_INVITATION_RESEND_INTERVAL is a 429 with Retry-After; a revoked
    invitation cannot be resent."""
    make.org(slug="acme")
    created = client.post(URL, json={"email": "a@example.com", "org": "acme"}, headers=_h(crm))
    path = f"{URL}/{created.json['id']}/resend"
    throttled = client.post(path, headers=_h(crm))
    assert throttled.status_code == 429
    assert throttled.json["error"] == "throttled"
    assert int(throttled.headers["Retry-After"]) > 0
    assert len(emails_to("a@example.com")) == 1

    monkeypatch.setitem(app.config, "CIAM_INVITATION_RESEND_INTERVAL", 0)
    resent = client.post(path, headers=_h(crm))
    assert resent.status_code == 200 and resent.json["sends"] == 2
    first, second = (open_payload("email", m.payload)["text"] for m in emails_to("a@example.com"))
    assert first != second
    assert len(audit("invitation:resent")) == 1

    client.post(f"{URL}/{created.json['id']}/revoke", headers=_h(crm))
    refused = client.post(path, headers=_h(crm))
    assert refused.status_code == 409 and refused.json["error"] == "not_pending"


@pytest.mark.parametrize(
    ("email", "lead", "flagged"),
    [
        ("lead@gmail.com", True, True),
        ("lead@GMX.de", True, True),
        ("lead@acme-insurance.example", True, False),
        ("contact@gmail.com", False, False),
    ],
)
def test_lead_at_public_webmail_is_flagged(client, make, crm, email, lead, flagged):
    """DESIGN §3: a lead invited at a webmail domain is flagged public_email_domain;
    a corporate domain, or a contact (already tied to an account), is not."""
    make.org(slug="acme")
    body = {"email": email, "org": "acme", ("crm_lead_id" if lead else "crm_contact_id"): "X1"}
    response = client.post(URL, json=body, headers=_h(crm))
    assert response.status_code == 201
    assert response.json["public_email_domain"] is flagged


def test_public_email_domains_are_configurable(client, make, crm, app, monkeypatch):
    """CIAM_PUBLIC_EMAIL_DOMAINS replaces the default list."""
    monkeypatch.setitem(app.config, "CIAM_PUBLIC_EMAIL_DOMAINS", ["mailbox.example"])
    make.org(slug="acme")
    own = client.post(
        URL,
        json={"email": "l@mailbox.example", "org": "acme", "crm_lead_id": "L1"},
        headers=_h(crm),
    )
    gmail = client.post(
        URL, json={"email": "l@gmail.com", "org": "acme", "crm_lead_id": "L2"}, headers=_h(crm)
    )
    assert own.json["public_email_domain"] is True
    assert gmail.json["public_email_domain"] is False


def test_expired_pending_invitation_is_replaced_on_create(client, make, crm):
    """A pending invitation past its expiry does not block a new one: it is marked
    expired (audited) and a new invitation is created and emailed."""
    make.org(slug="acme")
    first = client.post(URL, json={"email": "a@example.com", "org": "acme"}, headers=_h(crm))
    row = db.session.get(Invitation, uuid.UUID(first.json["id"]))
    row.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert client.get(f"{URL}/{first.json['id']}", headers=_h(crm)).json["status"] == "expired"
    second = client.post(URL, json={"email": "a@example.com", "org": "acme"}, headers=_h(crm))
    assert second.status_code == 201 and second.json["id"] != first.json["id"]
    assert len(audit("invitation:expired")) == 1
    assert len(emails_to("a@example.com")) == 2


def test_unknown_api_path_is_json_404(client, crm):
    """Unknown paths under /api/ answer JSON, never an HTML page."""
    response = client.get("/api/v1/nothing-here", headers=_h(crm))
    assert response.status_code == 404 and response.json["error"] == "not_found"


def test_crm_headers_helper_gives_working_token(client, make):
    """The helper used across these tests yields a token the API accepts."""
    assert client.get(URL, headers=crm_headers(client, make)).status_code == 200


def test_racing_creates_meet_the_partial_unique_index(client, make, crm, monkeypatch):
    """Two creates racing past the "is one pending?" read: the database's partial
    unique index refuses the second insert, which then answers with the first
    invitation (200) instead of a duplicate or a 500; one email only."""
    make.org(slug="acme")
    first = client.post(URL, json={"email": "a@example.com", "org": "acme"}, headers=_h(crm))
    real, calls = lookup.pending_invitations, []

    def blind_once(org_ids, emails):
        calls.append(1)
        return {} if len(calls) == 1 else real(org_ids, emails)

    monkeypatch.setattr(lookup, "pending_invitations", blind_once)
    second = client.post(URL, json={"email": "a@example.com", "org": "acme"}, headers=_h(crm))
    assert second.status_code == 200, second.json
    assert second.json["id"] == first.json["id"]
    assert len(calls) == 2
    assert len(invitations()) == 1 and len(emails_to("a@example.com")) == 1
