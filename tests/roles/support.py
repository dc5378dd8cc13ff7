"""A small world for the roles tests: a portal declaring app roles, a global
business role mapped to it, an organization licensed for it, and members."""

from __future__ import annotations

from dataclasses import dataclass

from ciam.delegation import services as orgs
from ciam.delegation.models import Membership, Organization
from ciam.extensions import db
from ciam.roles import services as roles
from ciam.roles.models import BusinessRole
from tests import factories

PORTAL = "claims-portal"


@dataclass
class World:
    org: Organization
    handler: BusinessRole  # claims-handler: adjuster and reader on PORTAL


def world(seats: int | None = 2, slug: str = "acme") -> World:
    factories.portal(client_id=PORTAL)
    roles.change_app_roles(PORTAL, ["adjuster", "reader"])
    handler = roles.create_role("claims-handler", "Claims handler")
    roles.map_role(handler, PORTAL, ["adjuster", "reader"])
    org = licensed_org(slug, seats)
    return World(org=org, handler=handler)


def licensed_org(slug: str, seats: int | None, client_id: str = PORTAL) -> Organization:
    org = factories.org(slug=slug)
    roles.set_licence(org, client_id, seats)
    db.session.commit()
    return org


def member(org: Organization, email: str | None = None, **kwargs) -> Membership:
    membership = orgs.add_member(org, factories.user(email=email), **kwargs)
    db.session.commit()
    return membership
