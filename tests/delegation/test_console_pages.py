"""The org console's other pages: invitations (the invitations API's services, the
signed-in person as inviter), the organization's roles, its licences and its own
audit trail."""

from __future__ import annotations

from ciam.delegation import staff
from ciam.delegation.models import StaffRole
from ciam.extensions import db
from ciam.invitations.models import Invitation, InvitationStatus
from ciam.roles import assignments, catalogue
from ciam.roles import services as roles
from tests import factories
from tests.api.support import audit
from tests.delegation.console_support import PORTAL, console_world, join, post, signed_in


def _text(response) -> str:
    return response.get_data(as_text=True)


def _invitations(email: str) -> list[Invitation]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Invitation).where(Invitation.email == email)))


def test_invite_one_with_roles_names_the_inviter(app, make):
    """The invitation is created by the invitations service with the admin as its
    inviter and the chosen roles, is listed as pending, and inviting the same address
    again sends nothing new."""
    world = console_world()
    client = signed_in(app, "admin@acme.test")
    form = {"email": "new@example.test", "given_name": "Nia", "roles": "claims-handler"}
    response = post(client, "/org/acme/invitations", form)
    assert response.status_code == 303
    page = _text(client.get("/org/acme/invitations"))
    assert "The invitation was sent." in page and "new@example.test" in page
    [invitation] = _invitations("new@example.test")
    assert invitation.inviter_user_id == world.admin.user_id
    assert invitation.business_roles == ["claims-handler"] and invitation.org_id == world.org.id
    post(client, "/org/acme/invitations", form)
    assert "already has a pending invitation" in _text(client.get("/org/acme/invitations"))
    assert len(_invitations("new@example.test")) == 1


def test_invite_offers_only_the_orgs_roles(app, make):
    """A role of another organization cannot be put in an invitation; a member
    cannot be invited again (the service's message is shown)."""
    world = console_world()
    catalogue.create_role("globex-only", "Globex only", world.other)
    db.session.commit()
    client = signed_in(app, "manager@acme.test")
    assert "globex-only" not in _text(client.get("/org/acme/invitations"))
    post(client, "/org/acme/invitations", {"email": "x@example.test", "roles": "globex-only"})
    assert "not complete" in _text(client.get("/org/acme/invitations"))
    assert _invitations("x@example.test") == []
    post(client, "/org/acme/invitations", {"email": "member@acme.test"})
    assert "already a member of acme" in _text(client.get("/org/acme/invitations"))


def test_resend_and_revoke_a_pending_invitation(app, make, monkeypatch):
    """Resend sends a new link (sends counts it); revoke ends it and drops it from
    the pending list."""
    console_world()
    monkeypatch.setitem(app.config, "CIAM_INVITATION_RESEND_INTERVAL", 0)
    invitation, _ = factories.invitation("later@example.test", "acme")
    client = signed_in(app, "admin@acme.test")
    base = f"/org/acme/invitations/{invitation.id}"
    assert post(client, base + "/resend").status_code == 303
    assert "sent again" in _text(client.get("/org/acme/invitations"))
    assert post(client, base + "/revoke").status_code == 303
    [revoked] = _invitations("later@example.test")
    assert revoked.status == InvitationStatus.revoked and revoked.sends == 2
    assert "later@example.test" not in _text(client.get("/org/acme/invitations"))


def test_licences_show_seats_used_of_total(app, make):
    """Seats in use of the licence's total per portal, and the excess when reduced."""
    world = console_world(seats=2)
    assignments.assign_role(world.member, world.roles.handler)
    db.session.commit()
    client = signed_in(app, "manager@acme.test")
    page = _text(client.get("/org/acme/licences"))
    assert PORTAL in page and "1 / 2" in page
    roles.set_licence(world.org, PORTAL, 0)
    db.session.commit()
    assert "1 over the licence" in _text(client.get("/org/acme/licences"))


def test_org_roles_created_and_mapped_within_entitled_portals(app, make):
    """An org admin creates the organization's own role and maps it on a portal it is
    licensed for; a portal it holds no licence for is not offered and is refused."""
    world = console_world()
    factories.portal(client_id="other-portal")
    roles.change_app_roles("other-portal", ["viewer"])
    db.session.commit()
    client = signed_in(app, "admin@acme.test")
    post(client, "/org/acme/roles", {"key": "field-agent", "name": "Field agent"})
    role = catalogue.find_role("field-agent", world.org)
    assert role.org_id == world.org.id
    post(client, "/org/acme/roles/field-agent/map", {"portal": PORTAL, "app_roles": "reader"})
    assert catalogue.mappings_of(role) == {PORTAL: ["reader"]}
    page = _text(client.get("/org/acme/roles"))
    assert "The role&#39;s app roles were saved." in page and "other-portal" not in page
    post(
        client, "/org/acme/roles/field-agent/map", {"portal": "other-portal", "app_roles": "viewer"}
    )
    db.session.expire_all()
    assert catalogue.mappings_of(role) == {PORTAL: ["reader"]}


def test_a_user_manager_cannot_define_roles(app, make):
    """Creating an org role is for org admins: a user manager gets the reason and 403."""
    console_world()
    client = signed_in(app, "manager@acme.test")
    refused = post(client, "/org/acme/roles", {"key": "sneaky", "name": "Sneaky"})
    assert refused.status_code == 403
    assert "Only an org admin" in _text(refused)
    assert "New role of" not in _text(client.get("/org/acme/roles"))


def test_global_roles_are_not_mapped_from_the_console(app, make):
    """The operator's global roles cannot be remapped from an org console (404)."""
    console_world()
    client = signed_in(app, "admin@acme.test")
    refused = post(client, "/org/acme/roles/claims-handler/map", {"portal": PORTAL})
    assert refused.status_code == 404
    assert catalogue.mappings_of(catalogue.find_role("claims-handler")) == {
        PORTAL: ["adjuster", "reader"]
    }


def test_audit_trail_is_the_orgs_own_and_filters(app, make):
    """The trail lists this organization's events only; actor, target, action and
    date filters narrow it."""
    world = console_world()
    join(world.other, "stranger@globex.test")
    client = signed_in(app, "admin@acme.test")
    post(client, f"/org/acme/members/{world.member.user_id}/suspend")
    page = _text(client.get("/org/acme/audit"))
    assert "membership:suspended" in page and "membership:created" in page
    assert "stranger@globex.test" not in page
    by_actor = _text(client.get("/org/acme/audit?actor=admin@acme.test"))
    assert "membership:suspended" in by_actor and "membership:created" not in by_actor
    by_target = _text(client.get("/org/acme/audit?target=manager@acme.test"))
    assert "manager@acme.test" in by_target and "member@acme.test" not in by_target
    by_action = _text(client.get("/org/acme/audit?action=org:member"))
    assert "org:member:action" in by_action and "membership:created" not in by_action
    future = _text(client.get("/org/acme/audit?since=2999-01-01"))
    assert "No events match." in future
    nobody = _text(client.get("/org/acme/audit?actor=nobody@example.test"))
    assert "No events match." in nobody


def test_support_engineers_open_any_console_and_give_a_reason(app, make):
    """Support engineers (Staff) reach every org's console; the reason they type is
    in the audit event."""
    world = console_world()
    support = factories.user(email="support@ciam.test")
    staff.grant(support, StaffRole.support)
    db.session.commit()
    client = signed_in(app, "support@ciam.test")
    assert client.get("/org/acme/").status_code == 200
    post(client, f"/org/acme/members/{world.member.user_id}/unlock", {"reason": "ticket 42"})
    [event] = audit("org:member:action")
    assert event.data["reason"] == "ticket 42" and event.data["support"] is True
