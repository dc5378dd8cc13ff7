"""Giving and taking business roles in a membership, within the org's seats."""

from __future__ import annotations

from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.delegation.models import Membership, Organization
from ciam.errors import CiamError
from ciam.extensions import db
from ciam.roles.catalogue import find_role
from ciam.roles.errors import RoleOfAnotherOrg, SeatLimitReached
from ciam.roles.licences import licence_for, seats_in_use
from ciam.roles.models import BusinessRole, MembershipRole, RoleMapping


def roles_of(membership: Membership) -> list[BusinessRole]:
    """The business roles held, in the order they were given."""
    query = (
        db.select(BusinessRole)
        .join(MembershipRole, MembershipRole.role_id == BusinessRole.id)
        .where(MembershipRole.membership_id == membership.id)
        .order_by(MembershipRole.assigned_at, BusinessRole.key)
    )
    return list(db.session.scalars(query))


def role_keys_of(membership: Membership) -> list[str]:
    return [role.key for role in roles_of(membership)]


def _portals_of(role_ids: list) -> set[str]:
    if not role_ids:
        return set()
    query = db.select(RoleMapping.client_id).where(RoleMapping.role_id.in_(role_ids)).distinct()
    return set(db.session.scalars(query))


def _check_seats(membership: Membership, org: Organization, role: BusinessRole) -> None:
    """Refuse when the role needs a seat of a portal that has none left. A portal
    the person already holds a seat of (through another role) needs no new one."""
    held = _portals_of([r.id for r in roles_of(membership)])
    for client_id in sorted(_portals_of([role.id]) - held):
        licence = licence_for(org, client_id, lock=True)
        if licence is None or licence.seats is None:
            continue  # not licensed: the role gives nothing there; unlimited: no count
        used = seats_in_use(org, client_id)
        if used >= licence.seats:
            raise SeatLimitReached(
                f"No seat left on portal {client_id}: {used} of {licence.seats} seat(s) "
                f"of {org.slug} are in use. Free a seat or raise the licence "
                f"(ciam licences set --org {org.slug} --portal {client_id} --seats N).",
                details={"portal": client_id, "seats": licence.seats, "in_use": used},
            )


def _held(membership: Membership, role: BusinessRole) -> MembershipRole | None:
    return db.session.get(MembershipRole, (membership.id, role.id))


def assign_role(
    membership: Membership, role: BusinessRole, ctx: ActorContext = SYSTEM
) -> MembershipRole:
    """Give the role (global, or the membership's org's own); refused when it needs
    a seat that is not left. Giving a role already held changes nothing."""
    org = db.session.get_one(Organization, membership.org_id)
    if role.org_id is not None and role.org_id != org.id:
        raise RoleOfAnotherOrg(f"Business role {role.key} belongs to another organization.")
    existing = _held(membership, role)
    if existing is not None:
        return existing
    _check_seats(membership, org, role)
    link = MembershipRole(membership_id=membership.id, role_id=role.id, assigned_at=utcnow())
    db.session.add(link)
    db.session.flush()
    record(
        AuditTag.MEMBERSHIP_ROLE_ASSIGNED,
        ctx,
        org_id=org.id,
        target=str(membership.user_id),
        role=role.key,
    )
    return link


def remove_role(membership: Membership, role: BusinessRole, ctx: ActorContext = SYSTEM) -> bool:
    """Take the role away (its seats are free at once). False if it was not held."""
    existing = _held(membership, role)
    if existing is None:
        return False
    db.session.delete(existing)
    db.session.flush()
    record(
        AuditTag.MEMBERSHIP_ROLE_REMOVED,
        ctx,
        org_id=membership.org_id,
        target=str(membership.user_id),
        role=role.key,
    )
    return True


def assign_role_keys(
    membership: Membership, keys: list[str], ctx: ActorContext = SYSTEM
) -> tuple[list[str], dict[str, str]]:
    """Give roles named by key (an invitation's). Returns (keys given, {key: why not})
    for the ones refused: unknown in the org's catalogue, or no seat left."""
    org = db.session.get_one(Organization, membership.org_id)
    given, refused = [], {}
    for key in dict.fromkeys(keys):
        try:
            # Both refusals come before any write: nothing to undo.
            role = find_role(key, org)
            assign_role(membership, role, ctx)
        except CiamError as error:
            refused[key] = error.code
            continue
        given.append(role.key)
    return given, refused
