"""The app roles each portal understands (`ciam portals app-roles`)."""

from __future__ import annotations

from collections.abc import Sequence

from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.extensions import db
from ciam.oidc import portals
from ciam.roles.errors import AppRoleInUse
from ciam.roles.keys import checked_key
from ciam.roles.models import BusinessRole, PortalAppRole, RoleMapping


def app_roles_of(client_id: str) -> list[str]:
    query = (
        db.select(PortalAppRole.key)
        .where(PortalAppRole.client_id == client_id)
        .order_by(PortalAppRole.key)
    )
    return list(db.session.scalars(query))


def _roles_mapping(client_id: str, app_roles: set[str]) -> list[str]:
    query = (
        db.select(BusinessRole.key)
        .join(RoleMapping, RoleMapping.role_id == BusinessRole.id)
        .where(RoleMapping.client_id == client_id, RoleMapping.app_role.in_(app_roles))
        .distinct()
        .order_by(BusinessRole.key)
    )
    return list(db.session.scalars(query))


def change_app_roles(
    client_id: str,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    ctx: ActorContext = SYSTEM,
) -> list[str]:
    """Declare and withdraw app roles of a portal; returns the portal's app roles.

    Withdrawing one a business role still maps to is refused: the mapping would
    silently stop granting it."""
    portal = portals.get_portal(client_id)
    adding = {checked_key(key, "An app role") for key in add}
    removing = {checked_key(key, "An app role") for key in remove} - adding
    held = set(app_roles_of(portal.client_id))
    mapped_by = _roles_mapping(portal.client_id, removing & held)
    if mapped_by:
        raise AppRoleInUse(
            f"Business roles {', '.join(mapped_by)} map to app roles of {client_id} being "
            "removed; change those mappings first (ciam roles map)."
        )
    for key in sorted(adding - held):
        db.session.add(PortalAppRole(client_id=portal.client_id, key=key))
    if removing & held:
        db.session.execute(
            db.delete(PortalAppRole).where(
                PortalAppRole.client_id == portal.client_id, PortalAppRole.key.in_(removing)
            )
        )
    db.session.flush()
    if adding - held or removing & held:
        record(
            AuditTag.PORTAL_APP_ROLES_CHANGED,
            ctx,
            client_id=portal.client_id,
            added=sorted(adding - held),
            removed=sorted(removing & held),
        )
    return app_roles_of(portal.client_id)


def set_entitlement_required(
    client_id: str, required: bool | None, ctx: ActorContext = SYSTEM
) -> bool:
    """Make a portal open to everyone or only to entitled organizations' people
    (None: only report). Returns the rule now in force."""
    portal = portals.get_portal(client_id)
    if required is not None and portal.requires_entitlement != required:
        portal.requires_entitlement = required
        record(AuditTag.PORTAL_ACCESS_CHANGED, ctx, client_id=client_id, requires=required)
    return portal.requires_entitlement
