"""The business-role catalogue: global roles (the operator's) and organizations'
own, and what each maps to, per portal, among the app roles the portal declares."""

from __future__ import annotations

from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.delegation.models import Organization
from ciam.errors import CiamError, Conflict
from ciam.extensions import db
from ciam.oidc import portals
from ciam.roles.app_roles import app_roles_of
from ciam.roles.errors import PortalNotEntitled, RoleNotFound, UnknownAppRole
from ciam.roles.keys import checked_key
from ciam.roles.licences import entitled
from ciam.roles.models import BusinessRole, RoleMapping


def _existing(key: str, org: Organization | None) -> BusinessRole | None:
    """A role that would clash with `key` in `org`: a global one of that key, or
    the org's own (a key means one role wherever it is used)."""
    query = db.select(BusinessRole).where(BusinessRole.key == key)
    if org is not None:
        query = query.where(db.or_(BusinessRole.org_id.is_(None), BusinessRole.org_id == org.id))
    return db.session.scalars(query.order_by(BusinessRole.org_id.is_(None).desc())).first()


def create_role(
    key: str, name: str, org: Organization | None = None, ctx: ActorContext = SYSTEM
) -> BusinessRole:
    """A global role (org None) or one of the org's own. A global key may not be
    reused by an org, nor an org's key made global, so a key never means two roles."""
    key = checked_key(key, "A role key")
    if not (name or "").strip():
        raise CiamError("A business role needs a name.", code="invalid_name")
    clash = _existing(key, org)
    if clash is not None:
        where = "the global catalogue" if clash.org_id is None else "an organization"
        raise Conflict(f"A business role {key} already exists in {where}.", code="role_exists")
    role = BusinessRole(key=key, name=name.strip(), org_id=org.id if org else None)
    db.session.add(role)
    db.session.flush()
    record(
        AuditTag.ROLE_CREATED,
        ctx,
        org_id=role.org_id,
        target=key,
        name=role.name,
        scope="org" if org else "global",
    )
    return role


def find_role(key: str, org: Organization | None = None) -> BusinessRole:
    """The role `key` means in `org`: the org's own, else the global one."""
    key = (key or "").strip().lower()
    query = db.select(BusinessRole).where(BusinessRole.key == key)
    if org is None:
        query = query.where(BusinessRole.org_id.is_(None))
    else:
        query = query.where(db.or_(BusinessRole.org_id.is_(None), BusinessRole.org_id == org.id))
    role = db.session.scalars(query.order_by(BusinessRole.org_id.is_(None))).first()
    if role is None:
        where = f" in {org.slug}" if org else " in the global catalogue"
        raise RoleNotFound(f"No business role {key}{where}.")
    return role


def list_roles(org: Organization | None = None) -> list[BusinessRole]:
    """Global roles, and the org's own when an org is given."""
    scope = BusinessRole.org_id.is_(None)
    if org is not None:
        scope = db.or_(scope, BusinessRole.org_id == org.id)
    query = db.select(BusinessRole).where(scope).order_by(BusinessRole.key)
    return list(db.session.scalars(query))


def mappings_of(role: BusinessRole) -> dict[str, list[str]]:
    """{client_id: [app roles]} the role maps to."""
    query = (
        db.select(RoleMapping.client_id, RoleMapping.app_role)
        .where(RoleMapping.role_id == role.id)
        .order_by(RoleMapping.client_id, RoleMapping.app_role)
    )
    mapped: dict[str, list[str]] = {}
    for client_id, app_role in db.session.execute(query):
        mapped.setdefault(client_id, []).append(app_role)
    return mapped


def _check_mappable(role: BusinessRole, client_id: str, app_roles: set[str]) -> None:
    if role.org_id is not None:
        org = db.session.get_one(Organization, role.org_id)
        if not entitled(org, client_id):
            raise PortalNotEntitled(
                f"{org.slug} is not entitled to portal {client_id}: its own roles map only "
                "to portals it holds a licence for."
            )
    unknown = sorted(app_roles - set(app_roles_of(client_id)))
    if unknown:
        raise UnknownAppRole(
            f"Portal {client_id} does not declare app role(s) {', '.join(unknown)} "
            f"(ciam portals app-roles {client_id} --add ...)."
        )


def map_role(
    role: BusinessRole, client_id: str, app_roles: list[str], ctx: ActorContext = SYSTEM
) -> list[str]:
    """Set the app roles `role` gives on the portal (an empty list: none). Returns them."""
    portal = portals.get_portal(client_id)
    wanted = {checked_key(key, "An app role") for key in app_roles}
    if wanted:
        _check_mappable(role, portal.client_id, wanted)
    db.session.execute(
        db.delete(RoleMapping).where(
            RoleMapping.role_id == role.id, RoleMapping.client_id == portal.client_id
        )
    )
    for app_role in sorted(wanted):
        db.session.add(RoleMapping(role_id=role.id, client_id=portal.client_id, app_role=app_role))
    db.session.flush()
    record(
        AuditTag.ROLE_MAPPED,
        ctx,
        org_id=role.org_id,
        client_id=portal.client_id,
        target=role.key,
        app_roles=sorted(wanted),
    )
    return sorted(wanted)


def role_summary(role: BusinessRole) -> dict:
    org = db.session.get(Organization, role.org_id) if role.org_id else None
    return {
        "key": role.key,
        "name": role.name,
        "org": org.slug if org else None,
        "mappings": mappings_of(role),
    }
