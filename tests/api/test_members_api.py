"""/api/v1/orgs/<org>/members: listing (filters, cursor pages), adding an existing
account, one member, suspension and admin rights, removal, roles within seats, and
the help actions (unlock, reset MFA, password reset)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ciam.accounts.mfa.models import FactorKind, MfaFactor
from ciam.accounts.models import User, UserStatus
from ciam.audit.models import AuditEvent
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.delegation import services as orgs
from ciam.delegation.models import AdminRight, Membership
from ciam.extensions import db
from ciam.roles import services as roles
from tests.api.org_world import PORTAL, build, machine_headers, member_url, person_headers
from tests.api.support import audit, emails_to


@pytest.fixture
def world(make):
    return build()


@pytest.fixture
def admin(world):
    return person_headers(world.admin_portal, world.acme_admin.user_id)


def _membership(world, user_id) -> Membership | None:
    db.session.expire_all()
    return db.session.scalar(
        db.select(Membership).where(
            Membership.org_id == world.acme.id, Membership.user_id == user_id
        )
    )


def _emails(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["email"] for item in response.json["items"]]


def test_list_pages_newest_first_without_repeats(client, world, admin):
    everything, cursor = [], ""
    while cursor is not None:
        page = client.get(f"/api/v1/orgs/acme/members?limit=2&cursor={cursor}", headers=admin)
        everything += _emails(page)
        cursor = page.json["next_cursor"]
    expected = [
        db.session.get(User, m.user_id).email
        for m in (world.acme_member, world.acme_manager, world.acme_admin)
    ]
    assert everything == expected


def test_list_filters(client, world, admin):
    member = db.session.get(User, world.acme_member.user_id)
    by_role = client.get("/api/v1/orgs/acme/members?role=claims-handler", headers=admin)
    assert _emails(by_role) == [member.email]
    by_text = client.get(f"/api/v1/orgs/acme/members?q={member.email[:8]}", headers=admin)
    assert member.email in _emails(by_text)
    [row] = by_role.json["items"]
    assert row["roles"] == ["claims-handler"]
    assert (row["status"], row["admin_right"], row["locked"]) == ("active", "none", False)
    suspended = client.get("/api/v1/orgs/acme/members?status=suspended", headers=admin)
    assert _emails(suspended) == []


@pytest.mark.parametrize(
    "query", ["status=gone", "limit=0", "limit=500", "cursor=WyJ4Il0", "q=" + "x" * 201]
)
def test_bad_list_queries_are_4xx(client, world, admin, query):
    response = client.get(f"/api/v1/orgs/acme/members?{query}", headers=admin)
    assert response.status_code in (400, 422), response.json
    assert response.json["error"] in ("validation_error", "invalid_cursor")


def test_get_member_shows_roles_and_preview(client, world, admin):
    response = client.get(member_url(world.acme, world.acme_member), headers=admin)
    assert response.status_code == 200
    assert response.json["roles"] == ["claims-handler"]
    assert response.json["preview"] == {PORTAL: ["adjuster", "reader"]}
    missing = client.get(member_url(world.acme, world.globex_member), headers=admin)
    assert missing.status_code == 404


def test_admin_adds_an_existing_account(client, world, admin):
    body = {
        "email": world.outsider.email.upper(),
        "roles": ["claims-handler"],
        "admin_right": "user_manager",
    }
    response = client.post("/api/v1/orgs/acme/members", json=body, headers=admin)
    assert response.status_code == 201, response.json
    assert response.headers["Location"].endswith(f"/members/{world.outsider.id}")
    assert response.json["roles"] == ["claims-handler"]
    assert response.json["admin_right"] == "user_manager"
    assert _membership(world, world.outsider.id) is not None
    [event] = [e for e in audit(AuditTag.MEMBERSHIP_CREATED) if e.target == str(world.outsider.id)]
    assert event.actor_id == world.acme_admin.user_id


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"email": "nobody@example.test"}, 404, "no_account"),
        ({"email": "not an email"}, 422, "validation_error"),
        ({"email": "{outsider}", "admin_right": "god"}, 422, "validation_error"),
        ({"email": "{outsider}", "roles": ["no-such-role"]}, 404, "role_not_found"),
        ({"email": "{outsider}", "extra": 1}, 422, "validation_error"),
    ],
)
def test_bad_additions_add_nobody(client, world, admin, body, status, error):
    if body["email"] == "{outsider}":
        body = body | {"email": world.outsider.email}
    response = client.post("/api/v1/orgs/acme/members", json=body, headers=admin)
    assert response.status_code == status, response.json
    assert response.json["error"] == error
    assert _membership(world, world.outsider.id) is None


def test_adding_a_member_twice_is_409(client, world, admin):
    member = db.session.get(User, world.acme_member.user_id)
    response = client.post("/api/v1/orgs/acme/members", json={"email": member.email}, headers=admin)
    assert response.status_code == 409
    assert response.json["error"] == "already_member"


def test_no_seat_left_adds_nobody(client, world, admin):
    """The last role asked for needs a seat there is none of: 409 with the seat
    counts, and the account is not added without its roles."""
    roles.set_licence(world.acme, PORTAL, 1)
    db.session.commit()
    body = {"email": world.outsider.email, "roles": ["claims-handler"]}
    response = client.post("/api/v1/orgs/acme/members", json=body, headers=admin)
    assert response.status_code == 409
    assert response.json["error"] == "seat_limit_reached"
    assert response.json["details"] == {"portal": PORTAL, "seats": 1, "in_use": 1}
    assert _membership(world, world.outsider.id) is None


def test_a_user_manager_adds_nobody_and_grants_nothing(client, world):
    manager = person_headers(world.admin_portal, world.acme_manager.user_id)
    body = {"email": world.outsider.email}
    assert client.post("/api/v1/orgs/acme/members", json=body, headers=manager).status_code == 403
    url = member_url(world.acme, world.acme_member)
    response = client.patch(url, json={"admin_right": "user_manager"}, headers=manager)
    assert response.status_code == 403
    assert _membership(world, world.acme_member.user_id).admin_right == AdminRight.none


def test_suspend_revokes_and_reactivate(client, world, admin):
    url = member_url(world.acme, world.acme_member)
    response = client.patch(url, json={"status": "suspended", "reason": "left"}, headers=admin)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "suspended"
    assert response.json["preview"] == {}
    again = client.patch(url, json={"status": "active"}, headers=admin)
    assert again.json["status"] == "active"
    assert [e.data["action"] for e in audit(AuditTag.ORG_MEMBER_ACTION)] == [
        "suspend",
        "reactivate",
    ]


def test_admin_rights_and_the_last_admin(client, world, admin):
    """An admin makes a member an admin; the last admin cannot step down (409)."""
    own = member_url(world.acme, world.acme_admin)
    refused = client.patch(own, json={"admin_right": "none"}, headers=admin)
    assert refused.status_code == 409
    assert refused.json["error"] == "last_org_admin"
    url = member_url(world.acme, world.acme_member)
    promoted = client.patch(url, json={"admin_right": "org_admin"}, headers=admin)
    assert promoted.json["admin_right"] == "org_admin"
    assert client.patch(own, json={"admin_right": "none"}, headers=admin).status_code == 200


@pytest.mark.parametrize(
    "body", [{}, {"reason": "why"}, {"status": "deleted"}, {"admin_right": 1}, {"nope": True}]
)
def test_bad_updates_are_422(client, world, admin, body):
    response = client.patch(member_url(world.acme, world.acme_member), json=body, headers=admin)
    assert response.status_code == 422, response.json
    assert _membership(world, world.acme_member.user_id).status.value == "active"


def test_remove_member(client, world, admin):
    url = member_url(world.acme, world.acme_member)
    assert client.delete(url, headers=admin).status_code == 204
    assert _membership(world, world.acme_member.user_id) is None
    assert client.get(url, headers=admin).status_code == 404
    assert client.delete(url, headers=admin).status_code == 404


def test_roles_are_given_within_seats_and_taken(client, world, admin):
    url = member_url(world.acme, world.acme_manager, "/roles")
    roles.set_licence(world.acme, PORTAL, 1)
    db.session.commit()
    full = client.post(url, json={"key": "claims-handler"}, headers=admin)
    assert full.status_code == 409
    assert full.json["details"] == {"portal": PORTAL, "seats": 1, "in_use": 1}
    held = member_url(world.acme, world.acme_member, "/roles/claims-handler")
    assert client.delete(held, headers=admin).status_code == 204
    given = client.post(url, json={"key": "claims-handler"}, headers=admin)
    assert given.status_code == 200, given.json
    assert given.json["roles"] == ["claims-handler"]
    unknown = client.post(url, json={"key": "no-such-role"}, headers=admin)
    assert (unknown.status_code, unknown.json["error"]) == (404, "role_not_found")
    assert client.post(url, json={}, headers=admin).status_code == 422


def test_unlock(client, world, admin):
    user = db.session.get(User, world.acme_member.user_id)
    user.status, user.locked_until = UserStatus.locked, utcnow() + timedelta(minutes=10)
    db.session.commit()
    url = member_url(world.acme, world.acme_member, "/unlock")
    response = client.post(url, json={"reason": "called us"}, headers=admin)
    assert response.status_code == 200, response.json
    assert response.json == {"action": "unlock", "changed": True}
    db.session.expire_all()
    assert not db.session.get(User, user.id).is_locked
    [event] = audit(AuditTag.ORG_MEMBER_ACTION)
    assert event.data["reason"] == "called us"


def test_reset_mfa(client, world, admin):
    db.session.add(
        MfaFactor(user_id=world.acme_member.user_id, kind=FactorKind.totp, confirmed_at=utcnow())
    )
    db.session.commit()
    url = member_url(world.acme, world.acme_member, "/reset-mfa")
    response = client.post(url, headers=admin)
    assert response.status_code == 200, response.json
    assert response.json == {"action": "reset_mfa", "changed": True, "factors_removed": 1}
    db.session.expire_all()
    assert db.session.scalars(db.select(MfaFactor)).all() == []


def test_password_reset_emails_the_person_only(client, world):
    """Support staff may act on any org, with a reason kept in the audit trail."""
    support = person_headers(world.admin_portal, world.support.id)
    member = db.session.get(User, world.acme_member.user_id)
    url = member_url(world.acme, world.acme_member, "/password-reset")
    response = client.post(url, json={"reason": "ticket 42"}, headers=support)
    assert response.status_code == 200, response.json
    assert len(emails_to(member.email)) == 1
    [event] = audit(AuditTag.ORG_MEMBER_ACTION)
    assert event.data == {"action": "password_reset", "reason": "ticket 42", "support": True}


def test_operator_acts_on_any_org(client, world):
    operator = machine_headers(client)
    url = member_url(world.globex, world.globex_member)
    response = client.patch(url, json={"status": "suspended"}, headers=operator)
    assert response.status_code == 200
    event = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.tag == AuditTag.MEMBERSHIP_SUSPENDED)
    ).one()
    assert event.org_id == world.globex.id


def test_idempotency_keys_are_each_persons(client, world, admin, make):
    """Two admins of one portal sending the same key and request: the second is
    not answered with the first's replay (keys belong to the person)."""
    other = make.user()
    orgs.add_member(world.acme, other, AdminRight.org_admin)
    db.session.commit()
    second = person_headers(world.admin_portal, other.id)
    url = member_url(world.acme, world.acme_member, "/unlock")
    key = {"Idempotency-Key": "same-key"}
    first = client.post(url, json={}, headers=admin | key)
    again = client.post(url, json={}, headers=admin | key)
    theirs = client.post(url, json={}, headers=second | key)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.status_code == theirs.status_code == 200
    assert "Idempotent-Replayed" not in theirs.headers
    assert len(audit(AuditTag.ORG_MEMBER_ACTION)) == 2
