"""The `org` and `roles` claims of a person's tokens for one portal.

`org`: the organization the sign-in was for ({"id", "slug", "name"}). `roles`: the
app roles the person's business roles there mean for the requesting portal only,
within the organization's licence and seats (never another portal's). Read when a
token is issued or refreshed and when userinfo or introspection is asked, so a role
removed or a membership ended shows in the next answer. A membership that grants
nothing now (suspended, outside its window, organization not active) gives neither
claim.
"""

from __future__ import annotations

from ciam.delegation.memberships import grants_access
from ciam.delegation.models import Membership, Organization
from ciam.extensions import db
from ciam.oidc.token_claims import TokenSubject
from ciam.roles.licences import entitled, holds_seat
from ciam.roles.models import MembershipRole, RoleMapping


def portal_roles(membership: Membership, org: Organization, client_id: str) -> list[str]:
    """The app roles of one portal this membership gives, within licence and seats."""
    if not entitled(org, client_id) or not holds_seat(membership, client_id):
        return []
    query = (
        db.select(RoleMapping.app_role)
        .join(MembershipRole, MembershipRole.role_id == RoleMapping.role_id)
        .where(MembershipRole.membership_id == membership.id, RoleMapping.client_id == client_id)
        .distinct()
    )
    return sorted(db.session.scalars(query))


def org_claims(subject: TokenSubject) -> dict:
    membership = db.session.scalar(
        db.select(Membership).where(
            Membership.user_id == subject.user_id, Membership.org_id == subject.org_id
        )
    )
    if membership is None or not grants_access(membership):
        return {}
    org = db.session.get_one(Organization, subject.org_id)
    return {
        "org": {"id": str(org.id), "slug": org.slug, "name": org.name},
        "roles": portal_roles(membership, org, subject.client_id),
    }
