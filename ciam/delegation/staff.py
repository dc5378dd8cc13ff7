"""Support engineers: people of the operator who administer every organization
(the support console). Granted by the operator only (`ciam staff ...`)."""

from __future__ import annotations

from ciam.accounts.models import User
from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.delegation.models import Staff, StaffRole
from ciam.extensions import db


def grant(user: User, role: StaffRole, ctx: ActorContext = SYSTEM) -> Staff:
    staff = db.session.get(Staff, user.id)
    if staff is None:
        staff = Staff(user_id=user.id, role=role)
        db.session.add(staff)
    staff.role = role
    db.session.flush()
    record(AuditTag.STAFF_GRANTED, ctx, target=str(user.id), role=role.value)
    return staff


def revoke(user: User, ctx: ActorContext = SYSTEM) -> bool:
    staff = db.session.get(Staff, user.id)
    if staff is None:
        return False
    db.session.delete(staff)
    db.session.flush()
    record(AuditTag.STAFF_REVOKED, ctx, target=str(user.id))
    return True


def list_staff() -> list[tuple[User, Staff]]:
    rows = db.session.execute(
        db.select(User, Staff).join(Staff, Staff.user_id == User.id).order_by(User.email)
    )
    return [(user, staff) for user, staff in rows]
