"""A person across organizations, for support staff and the operator: their
memberships, their lock and their second factors (never a secret). No `request`."""

from __future__ import annotations

import uuid

from ciam.accounts.mfa.models import MfaFactor, RecoveryCode
from ciam.accounts.models import User
from ciam.delegation.memberships import grants_access
from ciam.delegation.models import Membership, Organization
from ciam.errors import NotFound
from ciam.extensions import db
from ciam.roles.assignments import role_keys_of


def _person(user_id: uuid.UUID | str) -> User:
    try:
        user = db.session.get(User, uuid.UUID(str(user_id)))
    except ValueError:
        user = None
    if user is None:
        raise NotFound("No such person.")
    return user


def _memberships(user: User) -> list[dict]:
    rows = db.session.execute(
        db.select(Membership, Organization)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == user.id)
        .order_by(Organization.slug)
    ).all()
    return [
        {
            "org": org.slug,
            "org_name": org.name,
            "status": membership.status.value,
            "admin_right": membership.admin_right.value,
            "roles": role_keys_of(membership),
            "valid_from": membership.valid_from,
            "valid_until": membership.valid_until,
            "grants_access": grants_access(membership),
        }
        for membership, org in rows
    ]


def _mfa(user: User) -> dict:
    factors = db.session.scalars(
        db.select(MfaFactor)
        .where(MfaFactor.user_id == user.id, MfaFactor.confirmed_at.is_not(None))
        .order_by(MfaFactor.created_at)
    )
    unused = db.select(db.func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
    )
    listed = [
        {"kind": f.kind.value, "confirmed_at": f.confirmed_at, "last_used_at": f.last_used_at}
        for f in factors
    ]
    return {
        "enrolled": bool(listed),
        "factors": listed,
        "recovery_codes_left": db.session.scalar(unused) or 0,
    }


def person_summary(user_id: uuid.UUID | str) -> dict:
    user = _person(user_id)
    return {
        "id": user.id,
        "email": user.email,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "status": user.status.value,
        "locked": user.is_locked,
        "locked_until": user.locked_until if user.is_locked else None,
        "failed_login_count": user.failed_login_count,
        "last_login_at": user.last_login_at,
        "mfa": _mfa(user),
        "memberships": _memberships(user),
    }
