"""A world for the organization API tests: two licensed organizations with an admin,
a user manager and members each, a support engineer, the first-party admin portal
people sign in to (scope ciam:admin), and tokens for people and machine clients."""

from __future__ import annotations

from dataclasses import dataclass

from ciam.accounts.models import User
from ciam.crypto import random_token
from ciam.db import utcnow
from ciam.delegation import services as orgs
from ciam.delegation import staff
from ciam.delegation.models import AdminRight, Membership, Organization, StaffRole
from ciam.extensions import db
from ciam.oidc import token_store
from ciam.oidc.models import Portal
from ciam.roles import services as roles
from ciam.roles.models import BusinessRole
from tests import factories
from tests.api.support import bearer, client_token

PORTAL = "claims-portal"
PERSON_SCOPE = "openid ciam:admin"


@dataclass
class OrgWorld:
    acme: Organization
    globex: Organization
    acme_admin: Membership
    acme_manager: Membership  # a user manager of acme
    acme_member: Membership  # holds claims-handler
    globex_admin: Membership
    globex_member: Membership
    support: User
    outsider: User  # an account in no organization
    admin_portal: Portal  # first-party, allowed ciam:admin
    handler: BusinessRole  # global, maps to PORTAL (adjuster, reader)


def _member(org: Organization, right: AdminRight = AdminRight.none) -> Membership:
    return orgs.add_member(org, factories.user(), right)


def build() -> OrgWorld:
    factories.portal(client_id=PORTAL)
    roles.change_app_roles(PORTAL, ["adjuster", "reader"])
    handler = roles.create_role("claims-handler", "Claims handler")
    roles.map_role(handler, PORTAL, ["adjuster", "reader"])
    acme, globex = factories.org(slug="acme"), factories.org(slug="globex")
    for org in (acme, globex):
        roles.set_licence(org, PORTAL, 5)
    members = {
        "acme_admin": _member(acme, AdminRight.org_admin),
        "acme_manager": _member(acme, AdminRight.user_manager),
        "acme_member": _member(acme),
        "globex_admin": _member(globex, AdminRight.org_admin),
        "globex_member": _member(globex),
    }
    roles.assign_role(members["acme_member"], handler)
    support = factories.user()
    staff.grant(support, StaffRole.support)
    portal, _ = factories.portal(scopes=["openid", "ciam:admin"], name="Admin portal")
    db.session.commit()
    return OrgWorld(
        acme=acme,
        globex=globex,
        support=support,
        outsider=factories.user(),
        admin_portal=portal,
        handler=handler,
        **members,
    )


def person_headers(portal: Portal, user_id, scope: str = PERSON_SCOPE) -> dict:
    """Bearer headers of an access token issued to `user_id` at `portal`, as the
    authorization code flow issues it (test_person_token_by_the_code_flow proves
    the real flow grants ciam:admin)."""
    context = token_store.IssueContext(
        family_id=random_token(16), user_id=user_id, auth_time=utcnow(), amr=["pwd"]
    )
    body, row = token_store.issue(portal, scope, context, False)
    db.session.add(row)
    db.session.commit()
    return bearer(body["access_token"])


def machine_headers(client, scopes=("orgs:read", "orgs:write")) -> dict:
    portal, secret = factories.crm_client(scopes=scopes)
    return bearer(client_token(client, portal.client_id, secret))


def db_state() -> dict:
    """Every row of every table, to show that a refused request changed nothing."""
    db.session.expire_all()
    state = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(table.select()).all()
        state[table.name] = sorted(repr(tuple(row)) for row in rows)
    db.session.rollback()
    return state


def member_url(org: Organization, membership: Membership, tail: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/members/{membership.user_id}{tail}"
