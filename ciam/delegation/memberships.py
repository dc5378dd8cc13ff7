"""A membership's state: suspended or active, its validity window, and the sweep
that records expiries."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult

from ciam.accounts.models import User
from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.delegation.models import Membership, MembershipStatus, Organization, OrgStatus
from ciam.errors import CiamError, NotFound
from ciam.extensions import db

SWEEP_CHUNK = 500


def find_membership(org: Organization, user: User) -> Membership:
    membership = db.session.scalar(
        db.select(Membership).where(Membership.org_id == org.id, Membership.user_id == user.id)
    )
    if membership is None:
        raise NotFound(f"{user.email} is not a member of {org.slug}.", code="not_a_member")
    return membership


def inside_window(membership: Membership, now: datetime) -> bool:
    if membership.valid_from is not None and now < membership.valid_from:
        return False
    return membership.valid_until is None or now < membership.valid_until


def grants_access(membership: Membership | None, now: datetime | None = None) -> bool:
    """Active, inside its window, in an active organization: otherwise it grants nothing."""
    if membership is None or membership.status != MembershipStatus.active:
        return False
    if not inside_window(membership, now or utcnow()):
        return False
    org = db.session.get(Organization, membership.org_id)
    return org is not None and org.status == OrgStatus.active


def check_window(valid_from: datetime | None, valid_until: datetime | None) -> None:
    if valid_from and valid_until and valid_until <= valid_from:
        raise CiamError("valid_until must be after valid_from.", code="invalid_window")


def set_window(
    membership: Membership,
    valid_from: datetime | None,
    valid_until: datetime | None,
) -> Membership:
    """Change the window; a new end is a new expiry for the sweep to record."""
    check_window(valid_from, valid_until)
    membership.valid_from, membership.valid_until = valid_from, valid_until
    membership.expiry_recorded_at = None
    db.session.flush()
    return membership


def _set_status(
    membership: Membership, status: MembershipStatus, tag: AuditTag, ctx: ActorContext
) -> bool:
    if membership.status == status:
        return False
    membership.status = status
    db.session.flush()
    record(tag, ctx, org_id=membership.org_id, target=str(membership.user_id))
    return True


def suspend(membership: Membership, ctx: ActorContext = SYSTEM) -> bool:
    """Suspended: grants nothing, keeps its roles (and seats). False if it was already."""
    return _set_status(membership, MembershipStatus.suspended, AuditTag.MEMBERSHIP_SUSPENDED, ctx)


def reactivate(membership: Membership, ctx: ActorContext = SYSTEM) -> bool:
    return _set_status(membership, MembershipStatus.active, AuditTag.MEMBERSHIP_REACTIVATED, ctx)


def _claim_expiry(membership_id, now: datetime) -> bool:
    """Mark the expiry recorded, if no other sweep (another worker) did first."""
    statement = (
        db.update(Membership)
        .where(Membership.id == membership_id, Membership.expiry_recorded_at.is_(None))
        .values(expiry_recorded_at=now)
        .execution_options(synchronize_session=False)
    )
    # An UPDATE answers a CursorResult (typed as any Result).
    return cast(CursorResult, db.session.execute(statement)).rowcount == 1


def _due_expiries(now: datetime) -> list[Membership]:
    query = (
        db.select(Membership)
        .where(Membership.valid_until <= now, Membership.expiry_recorded_at.is_(None))
        .order_by(Membership.valid_until, Membership.id)
        .limit(SWEEP_CHUNK)
    )
    return list(db.session.scalars(query))


def sweep_expired(now: datetime | None = None) -> int:
    """Record each membership whose window ended (once). Returns how many.

    The CRM is not told yet: no outbox handler can deliver a `crm_identity_state`
    message until the CRM adapters exist, and a message nobody can send would
    only die in the outbox. The audit trail keeps the expiry for the CRM sync."""
    now = now or utcnow()
    recorded = 0
    while due := _due_expiries(now):
        claimed = [membership for membership in due if _claim_expiry(membership.id, now)]
        for membership in claimed:
            record(
                AuditTag.MEMBERSHIP_EXPIRED,
                SYSTEM,
                org_id=membership.org_id,
                target=str(membership.user_id),
                # Never None here (the query wants one); the type does not know it.
                valid_until=membership.valid_until.isoformat() if membership.valid_until else None,
            )
        db.session.flush()
        db.session.expire_all()
        recorded += len(claimed)
        if not claimed:
            break  # another sweep holds what is left
    return recorded


def sweep_and_commit() -> int:
    """The daily job of `ciam worker`."""
    expired = sweep_expired()
    db.session.commit()
    return expired
