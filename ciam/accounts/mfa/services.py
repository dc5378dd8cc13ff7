"""The person's factors as a whole: confirming a new one, removing one, what the
pages show. No `request`.


Rules, with their sources:
- TOTP: 30 s steps, 6 digits, SHA-1 (RFC 6238 §4 defaults, what every authenticator
  app supports), one step of clock drift either way (RFC 6238 §5.2), and each code
  accepted once: the last accepted step is stored and a code for it or an earlier
  step is refused (RFC 6238 §5.2, NIST 800-63B §5.1.4.2). Seeds are 160 bits (RFC 4226
  §4 R6) and encrypted at rest (DESIGN §5.5).
- SMS codes: 6 random digits, valid 10 minutes (NIST 800-63B §5.1.3.2), at most 5
  tries each, one send per 30 s and 5 per hour per person, sent through the outbox.
- Recovery codes: 10 single-use look-up secrets (NIST 800-63B §5.1.2) of 60 bits,
  stored as keyed hashes, shown once, all replaced on regeneration.
- Verification failures are audited (`account:mfa:failure`) and, per NIST 800-63B
  §5.2.2, at most CIAM_MFA_MAX_FAILURES in a row (within a day) are allowed.
"""

from __future__ import annotations

import uuid

from ciam.accounts.mfa.factors import describe_factor, factors, notify, org_requires_mfa
from ciam.accounts.mfa.models import FactorKind, MfaFactor, RecoveryCode
from ciam.accounts.mfa.recovery import generate_recovery_codes, remaining_recovery_codes
from ciam.accounts.models import User
from ciam.audit.services import ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.errors import Conflict, NotFound
from ciam.extensions import db


def confirm_factor(factor: MfaFactor, user: User, ctx: ActorContext) -> list[str]:
    """Mark a pending factor confirmed. Returns new recovery codes when the person
    has none left (first factor, or all used), shown once; else []."""
    factor.confirmed_at = utcnow()
    db.session.flush()
    record(
        AuditTag.ACCOUNT_MFA_ENROLLED,
        ctx,
        actor_id=user.id,
        target=str(factor.id),
        kind=factor.kind,
    )
    notify(
        user,
        "Two-step verification method added",
        f"{describe_factor(factor).capitalize()} was added as a second step for signing in "
        "to your account.\n\nIf this was not you, reset your password and contact support.",
    )
    if remaining_recovery_codes(user.id) == 0:
        return generate_recovery_codes(user, ctx)
    return []


def remove_factor(user: User, factor_id: uuid.UUID, ctx: ActorContext) -> MfaFactor:
    factor = db.session.get(MfaFactor, factor_id)
    if factor is None or factor.user_id != user.id or not factor.confirmed:
        raise NotFound("No such second factor.")
    remaining = [f for f in factors(user.id) if f.id != factor.id]
    if not remaining and org_requires_mfa(user.id):
        raise Conflict(
            "Your organization requires two-step verification: add another method first.",
            code="mfa_required",
        )
    db.session.delete(factor)
    if not remaining:
        # Recovery codes stand in for a second factor; without one they mean nothing.
        db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()
    record(
        AuditTag.ACCOUNT_MFA_REMOVED, ctx, actor_id=user.id, target=str(factor.id), kind=factor.kind
    )
    notify(
        user,
        "Two-step verification method removed",
        f"{describe_factor(factor).capitalize()} was removed from your account's sign-in."
        + ("" if remaining else " Two-step verification is now off.")
        + "\n\nIf this was not you, reset your password and contact support.",
    )
    return factor


def describe(user_id: uuid.UUID) -> dict:
    """What the second-step and account pages show."""
    found = factors(user_id)
    return {
        "factors": found,
        "totp": next((f for f in found if f.kind == FactorKind.totp), None),
        "sms": next((f for f in found if f.kind == FactorKind.sms), None),
        "recovery_codes": remaining_recovery_codes(user_id),
    }
