"""An organization's own business roles, as its admins (or the operator) see and
create them: the roles usable there (global and its own) and what each gives on
the portals it is licensed for. No `request`."""

from __future__ import annotations

from ciam.audit.services import ActorContext
from ciam.delegation.models import Organization
from ciam.delegation.permissions import NotAllowed, OrgActor
from ciam.roles import catalogue
from ciam.roles.models import BusinessRole
from ciam.roles.preview import preview_role


def role_view(role: BusinessRole, org: Organization) -> dict:
    """The role's summary and what it gives a seated member of `org`."""
    return catalogue.role_summary(role) | {"gives": preview_role(role, org)}


def roles_of_org(org: Organization) -> list[dict]:
    """Every role a member of `org` may be given: the global ones and its own."""
    return [role_view(role, org) for role in catalogue.list_roles(org)]


def create_org_role(
    actor: OrgActor,
    key: str,
    name: str,
    mappings: dict[str, list[str]],
    ctx: ActorContext,
) -> dict:
    """Create one of the organization's own roles and map it ({client_id: [app
    roles]}, only portals the org is licensed for). Org admins and the operator;
    a user manager manages people, not the catalogue."""
    if not actor.is_admin:
        raise NotAllowed("Only an organization admin may create its roles.")
    role = catalogue.create_role(key, name, actor.org, ctx)
    for client_id, app_roles in sorted(mappings.items()):
        catalogue.map_role(role, client_id, app_roles, ctx)
    return role_view(role, actor.org)
