"""Licences: an organization's seats on a portal, and who holds them.

A person holds a seat of a portal while one of their business roles in the
organization maps to it. When a licence has fewer seats than people needing one,
those who came last (by when the role was given) lose that portal, nobody else.
"""

from __future__ import annotations

from sqlalchemy import func

from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.delegation.models import Membership, Organization
from ciam.errors import CiamError
from ciam.extensions import db
from ciam.oidc import portals
from ciam.roles.models import Licence, MembershipRole, RoleMapping

UNLIMITED = None


def licence_for(org: Organization, client_id: str, *, lock: bool = False) -> Licence | None:
    query = db.select(Licence).where(Licence.org_id == org.id, Licence.client_id == client_id)
    if lock:
        # Two assignments racing for the last seat serialize on the licence row.
        query = query.with_for_update()
    return db.session.scalar(query)


def licences_of(org: Organization) -> list[Licence]:
    query = db.select(Licence).where(Licence.org_id == org.id).order_by(Licence.client_id)
    return list(db.session.scalars(query))


def set_licence(
    org: Organization, client_id: str, seats: int | None, ctx: ActorContext = SYSTEM
) -> Licence:
    """Entitle the org to a portal with `seats` seats (None: unlimited). Reducing the
    seats below use is allowed: over_allocation() reports it."""
    if seats is not None and seats < 0:
        raise CiamError("Seats are a number of 0 or more, or unlimited.", code="invalid_seats")
    portal = portals.get_portal(client_id)
    licence = licence_for(org, portal.client_id)
    if licence is None:
        licence = Licence(org_id=org.id, client_id=portal.client_id)
        db.session.add(licence)
    previous = licence.seats
    licence.seats = seats
    db.session.flush()
    record(
        AuditTag.ORG_LICENCE_SET,
        ctx,
        org_id=org.id,
        client_id=portal.client_id,
        seats=seats,
        previous_seats=previous,
    )
    return licence


def entitled(org: Organization, client_id: str) -> bool:
    """The org holds a licence with seats for the portal, and its policy (allowed
    portals, when it lists any) lets its people use it."""
    if org.allowed_portals and client_id not in org.allowed_portals:
        return False
    licence = licence_for(org, client_id)
    return licence is not None and (licence.seats is UNLIMITED or licence.seats > 0)


def _seat_needs(org: Organization, client_id: str):
    """Per membership of the org that needs a seat of the portal: since when (the
    earliest of its roles that map there was given)."""
    return (
        db.select(
            MembershipRole.membership_id.label("membership_id"),
            func.min(MembershipRole.assigned_at).label("since"),
        )
        .join(Membership, Membership.id == MembershipRole.membership_id)
        .join(RoleMapping, RoleMapping.role_id == MembershipRole.role_id)
        .where(Membership.org_id == org.id, RoleMapping.client_id == client_id)
        .group_by(MembershipRole.membership_id)
        .subquery()
    )


def seats_in_use(org: Organization, client_id: str) -> int:
    needs = _seat_needs(org, client_id)
    return db.session.scalar(db.select(func.count()).select_from(needs)) or 0


def holds_seat(membership: Membership, client_id: str) -> bool:
    """A role of theirs maps to the portal, the org is licensed for it, and they are
    among the first `seats` to need it (the most recently given lose it first)."""
    org = db.session.get_one(Organization, membership.org_id)
    licence = licence_for(org, client_id)
    needs = _seat_needs(org, client_id)
    since = db.session.scalar(
        db.select(needs.c.since).where(needs.c.membership_id == membership.id)
    )
    if licence is None or since is None:
        return False
    if licence.seats is UNLIMITED:
        return True
    earlier = db.or_(
        needs.c.since < since,
        db.and_(needs.c.since == since, needs.c.membership_id < membership.id),
    )
    ahead = db.session.scalar(db.select(func.count()).select_from(needs).where(earlier))
    return ahead < licence.seats


def over_allocation(org: Organization) -> dict[str, int]:
    """{client_id: people needing a seat beyond the licence's count}, for each portal
    whose seats were reduced below use (or whose roles were mapped to it since)."""
    excess = {}
    for licence in licences_of(org):
        if licence.seats is UNLIMITED:
            continue
        beyond = seats_in_use(org, licence.client_id) - licence.seats
        if beyond > 0:
            excess[licence.client_id] = beyond
    return excess


def licence_summary(org: Organization, licence: Licence) -> dict:
    used = seats_in_use(org, licence.client_id)
    seats = "unlimited" if licence.seats is UNLIMITED else licence.seats
    beyond = 0 if licence.seats is UNLIMITED else max(0, used - licence.seats)
    return {
        "org": org.slug,
        "portal": licence.client_id,
        "seats": seats,
        "in_use": used,
        "over_allocated": beyond,
    }


def licence_summaries(org: Organization) -> list[dict]:
    """licence_summary of each of the org's licences, by portal."""
    return [licence_summary(org, licence) for licence in licences_of(org)]
