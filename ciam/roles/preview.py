"""'What will this person get': the app roles per portal a membership (or a role)
gives in an organization. The token claims will read preview() later."""

from __future__ import annotations

from ciam.accounts.models import User
from ciam.delegation.memberships import grants_access
from ciam.delegation.models import Membership, Organization
from ciam.extensions import db
from ciam.roles.licences import entitled, holds_seat
from ciam.roles.models import BusinessRole, MembershipRole, RoleMapping


def _mapped(role_ids) -> dict[str, set[str]]:
    query = db.select(RoleMapping.client_id, RoleMapping.app_role).where(
        RoleMapping.role_id.in_(role_ids)
    )
    mapped: dict[str, set[str]] = {}
    for client_id, app_role in db.session.execute(query):
        mapped.setdefault(client_id, set()).add(app_role)
    return mapped


def preview_membership(membership: Membership | None) -> dict[str, list[str]]:
    """{client_id: [app roles]}: nothing unless the membership grants access; per
    portal, only where the org is entitled and the person holds one of its seats."""
    if membership is None or not grants_access(membership):
        return {}
    org = db.session.get_one(Organization, membership.org_id)
    role_ids = db.select(MembershipRole.role_id).where(
        MembershipRole.membership_id == membership.id
    )
    return {
        client_id: sorted(app_roles)
        for client_id, app_roles in sorted(_mapped(role_ids).items())
        if entitled(org, client_id) and holds_seat(membership, client_id)
    }


def preview(user: User, org: Organization) -> dict[str, list[str]]:
    membership = db.session.scalar(
        db.select(Membership).where(Membership.user_id == user.id, Membership.org_id == org.id)
    )
    return preview_membership(membership)


def preview_role(role: BusinessRole, org: Organization) -> dict[str, list[str]]:
    """What the role gives a member of the org who holds a seat: its mappings, on
    the portals the org is entitled to."""
    return {
        client_id: sorted(app_roles)
        for client_id, app_roles in sorted(_mapped([role.id]).items())
        if entitled(org, client_id)
    }
