"""A person's second factors: which they have, which are pending set-up, and the
helpers every kind of factor shares (keyed hashes of short codes, notices). No
`request`; the rules of each kind are in totp.py, sms.py and recovery.py.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import ColumnExpressionArgument

from ciam.accounts.mfa.models import FactorKind, MfaFactor
from ciam.accounts.models import User
from ciam.db import utcnow
from ciam.extensions import db
from ciam.outbox.services import enqueue

CODE_DIGITS = 6  # TOTP (RFC 6238 §4 default) and SMS codes alike
PENDING_ENROLMENT_TTL = timedelta(minutes=15)


def keyed_hash(purpose: str, value: str) -> str:
    # Recovery and SMS codes are short enough that a plain hash could be brute-forced
    # from a database copy; keyed with the server secret (a pepper) it cannot.
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()


def digits(code: str | None, length: int = CODE_DIGITS) -> str | None:
    code = re.sub(r"[\s-]", "", code or "")
    return code if len(code) == length and code.isdigit() else None


def factors(user_id: uuid.UUID) -> list[MfaFactor]:
    """The person's confirmed second factors."""
    query = (
        db.select(MfaFactor)
        .where(MfaFactor.user_id == user_id, MfaFactor.confirmed_at.is_not(None))
        .order_by(MfaFactor.created_at)
    )
    return list(db.session.scalars(query))


def has_factor_clause(user_id: uuid.UUID | ColumnExpressionArgument):
    """True when the person has a confirmed second factor (a SQL EXISTS, so the login
    can ask it together with its other questions in one query)."""
    return db.exists().where(MfaFactor.user_id == user_id, MfaFactor.confirmed_at.is_not(None))


def has_factor(user_id: uuid.UUID) -> bool:
    return bool(db.session.scalar(db.select(has_factor_clause(user_id))))


def factor_of_kind(user_id: uuid.UUID, kind: FactorKind) -> MfaFactor | None:
    return next((f for f in factors(user_id) if f.kind == kind), None)


def org_requires_mfa_clause(user_id: uuid.UUID | ColumnExpressionArgument):
    """DESIGN §2 org policy as a SQL EXISTS: does any of the person's organizations
    require MFA?"""
    from ciam.delegation.models import Membership, Organization

    return db.exists().where(
        Membership.user_id == user_id,
        Membership.org_id == Organization.id,
        Organization.mfa_required.is_(True),
    )


def org_requires_mfa(user_id: uuid.UUID) -> bool:
    """DESIGN §2 org policy: does any of the person's organizations require MFA?"""
    return bool(db.session.scalar(db.select(org_requires_mfa_clause(user_id))))


def describe_factor(factor: MfaFactor) -> str:
    if factor.kind == FactorKind.totp:
        return "an authenticator app"
    return f"text messages to {factor.masked_phone}"


def notify(user: User, subject: str, text: str) -> None:
    # ASVS 2.2.3 / NIST 800-63B §6.1.2.3: tell the person when their authenticators
    # change, so a change they did not make does not go unnoticed.
    enqueue(
        "email",
        {"to": user.email, "subject": subject, "text": text},
        aggregate_id=str(user.id),
    )


def pending(user_id: uuid.UUID, kind: FactorKind) -> MfaFactor | None:
    query = (
        db.select(MfaFactor)
        .where(
            MfaFactor.user_id == user_id,
            MfaFactor.kind == kind,
            MfaFactor.confirmed_at.is_(None),
            MfaFactor.created_at > utcnow() - PENDING_ENROLMENT_TTL,
        )
        .order_by(MfaFactor.created_at.desc())
        .limit(1)
    )
    return db.session.scalar(query)


def drop_pending(user_id: uuid.UUID, kind: FactorKind) -> None:
    db.session.execute(
        db.delete(MfaFactor).where(
            MfaFactor.user_id == user_id, MfaFactor.kind == kind, MfaFactor.confirmed_at.is_(None)
        )
    )
