"""The login's second step: check the code of whichever factor the person chose.

Failures are audited (`account:mfa:failure`) and, per NIST 800-63B §5.2.2, at most
CIAM_MFA_MAX_FAILURES in a row (within a day) are allowed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from ciam.accounts.login import assurance
from ciam.accounts.mfa.factors import factor_of_kind, has_factor
from ciam.accounts.mfa.models import FactorKind, MfaFactor
from ciam.accounts.mfa.recovery import use_recovery_code
from ciam.accounts.mfa.sms import send_sms_code, verify_sms_code
from ciam.accounts.mfa.totp import verify_totp
from ciam.accounts.models import User
from ciam.audit.models import AuditEvent
from ciam.audit.services import ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.errors import NotFound
from ciam.extensions import db

FAILURE_WINDOW = timedelta(hours=24)

METHOD_AMR = {"totp": assurance.TOTP, "sms": assurance.SMS, "recovery": assurance.RECOVERY_CODE}


@dataclass(frozen=True)
class Verification:
    """The outcome of a second-factor check: the amr method on success, else why not."""

    method: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.method is not None


def too_many_failures(user_id: uuid.UUID) -> bool:
    """NIST 800-63B §5.2.2: failures since the last success (within a day) are capped.
    Counted from the audit trail, which every failure is written to anyway."""
    since = utcnow() - FAILURE_WINDOW
    last_ok = db.session.scalar(
        db.select(db.func.max(AuditEvent.created_at)).where(
            AuditEvent.actor_id == user_id,
            AuditEvent.tag.in_((AuditTag.ACCOUNT_MFA_VERIFIED, AuditTag.ACCOUNT_MFA_ENROLLED)),
            AuditEvent.created_at > since,
        )
    )
    failures = db.session.scalar(
        db.select(db.func.count(AuditEvent.id)).where(
            AuditEvent.actor_id == user_id,
            AuditEvent.tag == AuditTag.ACCOUNT_MFA_FAILURE,
            AuditEvent.created_at > (last_ok or since),
        )
    )
    return (failures or 0) >= current_app.config["CIAM_MFA_MAX_FAILURES"]


def verify_login_factor(
    user: User, method: str, code: str | None, ctx: ActorContext
) -> Verification:
    """Check a second factor at login; audits success and failure either way."""
    if method not in METHOD_AMR:
        return Verification(reason="unknown_method")
    if too_many_failures(user.id):
        record(AuditTag.ACCOUNT_MFA_FAILURE, ctx, actor_id=user.id, method=method, reason="locked")
        return Verification(reason="locked")
    ok = False
    if method == "totp":
        factor = factor_of_kind(user.id, FactorKind.totp)
        ok = factor is not None and verify_totp(factor, code)
    elif method == "sms":
        factor = factor_of_kind(user.id, FactorKind.sms)
        ok = factor is not None and verify_sms_code(factor, code)
    else:
        ok = has_factor(user.id) and use_recovery_code(user, code, ctx)
    if not ok:
        record(
            AuditTag.ACCOUNT_MFA_FAILURE, ctx, actor_id=user.id, method=method, reason="wrong_code"
        )
        return Verification(reason="wrong_code")
    record(AuditTag.ACCOUNT_MFA_VERIFIED, ctx, actor_id=user.id, method=method)
    return Verification(method=METHOD_AMR[method])


def send_login_sms(user: User, ctx: ActorContext) -> MfaFactor:
    factor = factor_of_kind(user.id, FactorKind.sms)
    if factor is None:
        raise NotFound("No phone is set up for text messages.")
    send_sms_code(user, factor, ctx)
    return factor
