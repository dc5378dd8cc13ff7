"""TOTP (RFC 6238): 30 s steps, 6 digits, SHA-1 (RFC 6238 §4 defaults, what every
authenticator app supports), one step of clock drift either way (RFC 6238 §5.2), and
each code accepted once: the last accepted step is stored and a code for it or an
earlier step is refused (RFC 6238 §5.2, NIST 800-63B §5.1.4.2). Seeds are 160 bits
(RFC 4226 §4 R6) and encrypted at rest (DESIGN §5.5)."""

from __future__ import annotations

import hmac
import time
import uuid
from typing import cast

import pyotp
import segno
from cryptography.fernet import Fernet
from flask import current_app
from sqlalchemy import CursorResult

from ciam.accounts.mfa.factors import CODE_DIGITS, digits, drop_pending, factor_of_kind, pending
from ciam.accounts.mfa.models import FactorKind, MfaFactor
from ciam.accounts.mfa.services import confirm_factor
from ciam.accounts.models import User
from ciam.audit.services import ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.crypto import fernet_for
from ciam.db import utcnow
from ciam.errors import CiamError, Conflict
from ciam.extensions import db

TOTP_INTERVAL = 30

TOTP_DRIFT_STEPS = 1


def _totp_fernet() -> Fernet:
    return fernet_for(current_app.config["SECRET_KEY"], "ciam.totp")


def totp_secret(factor: MfaFactor) -> str:
    encrypted = factor.totp_secret_encrypted
    if encrypted is None:  # only a TOTP factor has a seed
        raise ValueError(f"MFA factor {factor.id} ({factor.kind}) has no TOTP seed")
    return _totp_fernet().decrypt(encrypted.encode()).decode()


def start_totp_enrolment(user: User) -> MfaFactor:
    """A pending TOTP factor with a fresh seed; reloading the page keeps the same one
    for a while, so a scanned QR code stays valid."""
    if factor_of_kind(user.id, FactorKind.totp):
        raise Conflict("An authenticator app is already set up.", code="totp_exists")
    existing = pending(user.id, FactorKind.totp)
    if existing is not None:
        return existing
    drop_pending(user.id, FactorKind.totp)
    secret = pyotp.random_base32(length=32)  # 32 base32 chars = 160 bits (RFC 4226 §4)
    factor = MfaFactor(
        user_id=user.id,
        kind=FactorKind.totp,
        totp_secret_encrypted=_totp_fernet().encrypt(secret.encode()).decode(),
    )
    db.session.add(factor)
    db.session.flush()
    return factor


def pending_totp(user_id: uuid.UUID) -> MfaFactor | None:
    return pending(user_id, FactorKind.totp)


def provisioning_uri(user: User, factor: MfaFactor) -> str:
    """The otpauth:// URI authenticator apps read (Key Uri Format, de facto standard)."""
    totp = pyotp.TOTP(totp_secret(factor), digits=CODE_DIGITS, interval=TOTP_INTERVAL)
    return totp.provisioning_uri(
        name=user.email, issuer_name=current_app.config["CIAM_TOTP_ISSUER_NAME"]
    )


def qr_data_uri(text: str) -> str:
    """An SVG QR code as a data: URI for an <img> (our CSP allows img-src data:)."""
    # svg_data_uri keeps the SVG namespace (an <img> needs it) and percent-encodes.
    return segno.make(text, error="m").svg_data_uri(scale=5, border=4, dark="#000", light="#fff")


def grouped_secret(factor: MfaFactor) -> str:
    """The seed for typing by hand, in groups of four."""
    secret = totp_secret(factor)
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def verify_totp(factor: MfaFactor, code: str | None, now: float | None = None) -> bool:
    """True once per code: accept the current step or one either side, never a step
    at or before the last accepted one (RFC 6238 §5.2)."""
    code = digits(code)
    if code is None or factor.kind != FactorKind.totp:
        return False
    totp = pyotp.TOTP(totp_secret(factor), digits=CODE_DIGITS, interval=TOTP_INTERVAL)
    current = int((time.time() if now is None else now) // TOTP_INTERVAL)
    last = factor.last_used_step
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if last is not None and step <= last:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            # A conditional UPDATE, so two requests racing with one code (two nodes,
            # two tabs) cannot both win.
            statement = (
                db.update(MfaFactor)
                .where(
                    MfaFactor.id == factor.id,
                    db.or_(MfaFactor.last_used_step.is_(None), MfaFactor.last_used_step < step),
                )
                .values(last_used_step=step, last_used_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            claimed = cast(CursorResult, db.session.execute(statement)).rowcount
            db.session.expire(factor, ["last_used_step", "last_used_at"])
            return claimed == 1
    return False


def confirm_totp(user: User, code: str | None, ctx: ActorContext) -> list[str] | None:
    """Finish a TOTP enrolment with a code from the app. None when the code is wrong
    (audited); else the recovery codes to show (possibly [])."""
    factor = pending_totp(user.id)
    if factor is None:
        raise CiamError("The set-up expired; please start again.", code="enrolment_expired")
    if not verify_totp(factor, code):
        record(
            AuditTag.ACCOUNT_MFA_FAILURE, ctx, actor_id=user.id, method="totp", stage="enrolment"
        )
        return None
    return confirm_factor(factor, user, ctx)
