"""A person across organizations, for support staff and the operator: their
memberships, their lock and their second factors (never a secret). No `request`."""

from __future__ import annotations

import uuid

from ciam.accounts.mfa.models import MfaFactor, RecoveryCode
from ciam.accounts.models import User
from ciam.delegation.support.people import memberships_of
from ciam.errors import NotFound
from ciam.extensions import db


def _person(user_id: uuid.UUID | str) -> User:
    try:
        user = db.session.get(User, uuid.UUID(str(user_id)))
    except ValueError:
        user = None
    if user is None:
        raise NotFound("No such person.")
    return user


def _memberships(user: User) -> list[dict]:
    return [
        {
            "org": facts.org.slug,
            "org_name": facts.org.name,
            "status": facts.membership.status.value,
            "admin_right": facts.membership.admin_right.value,
            "roles": facts.roles,
            "valid_from": facts.membership.valid_from,
            "valid_until": facts.membership.valid_until,
            "grants_access": facts.grants_access,
        }
        for facts in memberships_of(user)
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
