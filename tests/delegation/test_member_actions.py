"""Delegated administration's rules, below any page or API: who may act on whom
(ciam.delegation.permissions) and what each action does (member_actions)."""

from __future__ import annotations

import pytest

from ciam.accounts.mfa.factors import has_factor
from ciam.accounts.models import User
from ciam.audit.actor import ActorContext
from ciam.audit.models import AuditEvent
from ciam.delegation import directory, member_actions, permissions, staff
from ciam.delegation import services as orgs
from ciam.delegation.models import AdminRight, MembershipStatus, StaffRole
from ciam.extensions import db
from ciam.oidc.models import Token
from ciam.oidc.token_store import IssueContext, insert_token, issue_values
from tests.accounts.mfa_support import enrol_totp


@pytest.fixture
def acme(make):
    org = make.org(slug="acme")
    admin = orgs.add_member(org, make.user(), AdminRight.org_admin)
    manager = orgs.add_member(org, make.user(), AdminRight.user_manager)
    member = orgs.add_member(org, make.user())
    db.session.commit()
    return org, admin, manager, member


def _ctx(membership) -> ActorContext:
    return ActorContext(ip="198.51.100.7", actor_id=membership.user_id)


def test_a_foreign_admin_finds_no_organization(acme, make):
    other = make.org(slug="globex")
    outsider = orgs.add_member(other, make.user(), AdminRight.org_admin)
    db.session.commit()
    with pytest.raises(permissions.OrgNotFound):
        permissions.org_actor(outsider.user_id, "acme")
    with pytest.raises(permissions.OrgNotFound):
        permissions.org_actor(outsider.user_id, "no-such-org")


def test_a_plain_member_is_no_administrator(acme):
    _, _, _, member = acme
    with pytest.raises(permissions.OrgNotFound):
        permissions.org_actor(member.user_id, "acme")


def test_a_suspended_admin_administers_nothing(acme):
    _, admin, _, _ = acme
    admin.status = MembershipStatus.suspended
    db.session.commit()
    with pytest.raises(permissions.OrgNotFound):
        permissions.org_actor(admin.user_id, "acme")


def test_support_staff_administer_every_organization(acme, make):
    engineer = make.user()
    staff.grant(engineer, StaffRole.support)
    db.session.commit()
    actor = permissions.org_actor(engineer.id, "acme")
    assert actor.support and actor.is_admin


def test_a_user_manager_manages_members_but_not_admins_or_rights(acme):
    _, admin, manager, member = acme
    actor = permissions.org_actor(manager.user_id, "acme")
    member_actions.suspend(actor, member, _ctx(manager))
    assert member.status == MembershipStatus.suspended
    with pytest.raises(permissions.NotAllowed):
        member_actions.suspend(actor, admin, _ctx(manager))
    with pytest.raises(permissions.NotAllowed):
        member_actions.set_admin_right(actor, member, AdminRight.user_manager, _ctx(manager))
    assert admin.status == MembershipStatus.active
    assert member.admin_right == AdminRight.none


def test_an_admin_grants_rights_and_the_last_admin_stays(acme):
    _, admin, manager, member = acme
    actor = permissions.org_actor(admin.user_id, "acme")
    member_actions.set_admin_right(actor, member, AdminRight.user_manager, _ctx(admin))
    assert member.admin_right == AdminRight.user_manager
    with pytest.raises(permissions.LastAdmin):
        member_actions.set_admin_right(actor, admin, AdminRight.none, _ctx(admin))
    with pytest.raises(permissions.LastAdmin):
        member_actions.remove(actor, admin, _ctx(admin))
    member_actions.set_admin_right(actor, manager, AdminRight.org_admin, _ctx(admin))
    member_actions.set_admin_right(actor, admin, AdminRight.none, _ctx(admin))
    assert admin.admin_right == AdminRight.none


def test_a_foreign_member_is_not_found_through_an_actor(acme, make):
    _, admin, _, _ = acme
    stranger = orgs.add_member(make.org(slug="initech"), make.user())
    db.session.commit()
    actor = permissions.org_actor(admin.user_id, "acme")
    with pytest.raises(permissions.NotFound):
        permissions.member_of(actor, stranger.user_id)
    with pytest.raises(permissions.NotFound):
        permissions.member_of(actor, "not-a-uuid")


def _token_for(membership, org_id) -> str:
    ctx = IssueContext(
        family_id="fam-" + str(membership.id), user_id=membership.user_id, org_id=org_id
    )
    portal = type("P", (), {"client_id": "portal-x"})()
    _, values = issue_values(portal, "openid", ctx, False)
    insert_token(values)
    return values["jti"]


def test_suspending_revokes_that_organizations_tokens_only(acme, make):
    org, admin, _, member = acme
    other = make.org(slug="umbrella")
    orgs.add_member(other, db.session.get(User, member.user_id))
    db.session.commit()
    in_acme, in_other = _token_for(member, org.id), _token_for(member, other.id)
    db.session.commit()

    revoked = member_actions.suspend(
        permissions.org_actor(admin.user_id, "acme"), member, _ctx(admin)
    )
    db.session.commit()

    state = dict(db.session.execute(db.select(Token.jti, Token.revoked_at)).all())
    assert revoked == 1
    assert state[in_acme] is not None and state[in_other] is None


def test_support_actions_record_the_engineer_and_the_reason(acme, make):
    _, _, _, member = acme
    enrol_totp(db.session.get(User, member.user_id))
    assert has_factor(member.user_id)
    engineer = make.user()
    staff.grant(engineer, StaffRole.support)
    db.session.commit()
    actor = permissions.org_actor(engineer.id, "acme")
    member_actions.reset_mfa(
        actor, member, ActorContext(actor_id=engineer.id), "lost phone, ticket 42"
    )
    db.session.commit()
    assert not has_factor(member.user_id)
    event = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.tag == "org:member:action")
    ).one()
    assert event.actor_id == engineer.id
    assert event.data == {"action": "reset_mfa", "reason": "lost phone, ticket 42", "support": True}


def test_the_directory_lists_only_the_organizations_members(acme, make):
    org, admin, manager, member = acme
    outsider = orgs.add_member(make.org(slug="hooli"), make.user(email="zed@hooli.example"))
    db.session.commit()
    page = directory.list_members(org, limit=2)
    assert len(page.items) == 2 and page.next_cursor
    rest = directory.list_members(org, limit=2, cursor=page.next_cursor)
    ids = {row.membership.id for row in page.items + rest.items}
    assert ids == {admin.id, manager.id, member.id}
    assert directory.list_members(org, q="zed@").items == []
    assert outsider.id not in ids


def test_the_audit_trail_is_the_organizations_own(acme, make):
    """A person in two organizations: each trail shows only its own events."""
    org, _, _, member = acme
    other = make.org(slug="stark")
    person = db.session.get(User, member.user_id)
    other_admin = orgs.add_member(other, make.user(), AdminRight.org_admin)
    in_other = orgs.add_member(other, person)
    db.session.commit()
    member_actions.suspend(
        permissions.org_actor(other_admin.user_id, "stark"), in_other, _ctx(other_admin)
    )
    db.session.commit()
    tags_here = [e.tag for e in directory.org_events(org).items]
    tags_there = [e.tag for e in directory.org_events(other).items]
    assert "membership:suspended" in tags_there
    assert "membership:suspended" not in tags_here
    assert all(e.org_id == org.id for e in directory.org_events(org, limit=200).items)


def test_the_directory_search_takes_like_wildcards_literally(make):
    """`_` and `%` in a search are characters, not wildcards: "a_b" does not find
    "axb" (the support console's search matches the same way)."""
    org = make.org(slug="wild")
    literal = orgs.add_member(org, make.user(email="a_b@wild.example"))
    orgs.add_member(org, make.user(email="axb@wild.example"))
    db.session.commit()
    found = directory.list_members(org, q="a_b@")
    assert [row.membership.id for row in found.items] == [literal.id]
    assert directory.list_members(org, q="%").items == []
