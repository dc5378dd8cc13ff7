"""Second factors: TOTP (RFC 6238), SMS one-time codes, recovery codes. No `request`.

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

import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import segno
from cryptography.fernet import Fernet
from flask import current_app

from ciam.accounts import assurance
from ciam.accounts.mfa_models import FactorKind, MfaFactor, RecoveryCode, SmsChallenge
from ciam.accounts.models import User
from ciam.audit.models import AuditEvent
from ciam.audit.services import ActorContext, record
from ciam.crypto import fernet_for
from ciam.db import utcnow
from ciam.errors import CiamError, Conflict, NotFound
from ciam.extensions import db
from ciam.outbox.services import enqueue
from ciam.outbox.sms import enqueue_sms

TOTP_INTERVAL = 30
TOTP_DIGITS = 6
TOTP_DRIFT_STEPS = 1
PENDING_ENROLMENT_TTL = timedelta(minutes=15)

SMS_CODE_TTL = timedelta(minutes=10)
SMS_MAX_ATTEMPTS = 5
SMS_MIN_INTERVAL = timedelta(seconds=30)
SMS_MAX_PER_HOUR = 5

RECOVERY_CODE_COUNT = 10
# Crockford-style alphabet without look-alikes (0/o, 1/l/i): 32 symbols, 5 bits each.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 12

FAILURE_WINDOW = timedelta(hours=24)
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

METHOD_AMR = {"totp": assurance.TOTP, "sms": assurance.SMS, "recovery": assurance.RECOVERY_CODE}


class SmsThrottled(CiamError):
    code = "sms_throttled"
    status = 429


@dataclass(frozen=True)
class Verification:
    """The outcome of a second-factor check: the amr method on success, else why not."""

    method: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.method is not None


# --- secrets -------------------------------------------------------------------------


def _totp_fernet() -> Fernet:
    return fernet_for(current_app.config["SECRET_KEY"], "ciam.totp")


def _keyed_hash(purpose: str, value: str) -> str:
    # Recovery and SMS codes are short enough that a plain hash could be brute-forced
    # from a database copy; keyed with the server secret (a pepper) it cannot.
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()


def totp_secret(factor: MfaFactor) -> str:
    return _totp_fernet().decrypt(factor.totp_secret_encrypted.encode()).decode()


def _digits(code: str | None, length: int = TOTP_DIGITS) -> str | None:
    code = re.sub(r"[\s-]", "", code or "")
    return code if len(code) == length and code.isdigit() else None


# --- factors -------------------------------------------------------------------------


def factors(user_id: uuid.UUID) -> list[MfaFactor]:
    """The person's confirmed second factors."""
    query = (
        db.select(MfaFactor)
        .where(MfaFactor.user_id == user_id, MfaFactor.confirmed_at.is_not(None))
        .order_by(MfaFactor.created_at)
    )
    return list(db.session.scalars(query))


def has_factor_clause(user_id: uuid.UUID):
    """True when the person has a confirmed second factor (a SQL EXISTS, so the login
    can ask it together with its other questions in one query)."""
    return db.exists().where(MfaFactor.user_id == user_id, MfaFactor.confirmed_at.is_not(None))


def has_factor(user_id: uuid.UUID) -> bool:
    return bool(db.session.scalar(db.select(has_factor_clause(user_id))))


def factor_of_kind(user_id: uuid.UUID, kind: FactorKind) -> MfaFactor | None:
    return next((f for f in factors(user_id) if f.kind == kind), None)


def org_requires_mfa_clause(user_id: uuid.UUID):
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
    record("account:mfa:removed", ctx, actor_id=user.id, target=str(factor.id), kind=factor.kind)
    _notify(
        user,
        "Two-step verification method removed",
        f"{describe_factor(factor).capitalize()} was removed from your account's sign-in."
        + ("" if remaining else " Two-step verification is now off.")
        + "\n\nIf this was not you, reset your password and contact support.",
    )
    return factor


def describe_factor(factor: MfaFactor) -> str:
    if factor.kind == FactorKind.totp:
        return "an authenticator app"
    return f"text messages to {factor.masked_phone}"


def _notify(user: User, subject: str, text: str) -> None:
    # ASVS 2.2.3 / NIST 800-63B §6.1.2.3: tell the person when their authenticators
    # change, so a change they did not make does not go unnoticed.
    enqueue(
        "email",
        {"to": user.email, "subject": subject, "text": text},
        aggregate_id=str(user.id),
    )


def _confirm(factor: MfaFactor, user: User, ctx: ActorContext) -> list[str]:
    """Mark a pending factor confirmed. Returns new recovery codes when the person
    has none left (first factor, or all used), shown once; else []."""
    factor.confirmed_at = utcnow()
    db.session.flush()
    record("account:mfa:enrolled", ctx, actor_id=user.id, target=str(factor.id), kind=factor.kind)
    _notify(
        user,
        "Two-step verification method added",
        f"{describe_factor(factor).capitalize()} was added as a second step for signing in "
        "to your account.\n\nIf this was not you, reset your password and contact support.",
    )
    if remaining_recovery_codes(user.id) == 0:
        return generate_recovery_codes(user, ctx)
    return []


def _pending(user_id: uuid.UUID, kind: FactorKind) -> MfaFactor | None:
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


def _drop_pending(user_id: uuid.UUID, kind: FactorKind) -> None:
    db.session.execute(
        db.delete(MfaFactor).where(
            MfaFactor.user_id == user_id, MfaFactor.kind == kind, MfaFactor.confirmed_at.is_(None)
        )
    )


# --- TOTP ----------------------------------------------------------------------------


def start_totp_enrolment(user: User) -> MfaFactor:
    """A pending TOTP factor with a fresh seed; reloading the page keeps the same one
    for a while, so a scanned QR code stays valid."""
    if factor_of_kind(user.id, FactorKind.totp):
        raise Conflict("An authenticator app is already set up.", code="totp_exists")
    pending = _pending(user.id, FactorKind.totp)
    if pending is not None:
        return pending
    _drop_pending(user.id, FactorKind.totp)
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
    return _pending(user_id, FactorKind.totp)


def provisioning_uri(user: User, factor: MfaFactor) -> str:
    """The otpauth:// URI authenticator apps read (Key Uri Format, de facto standard)."""
    totp = pyotp.TOTP(totp_secret(factor), digits=TOTP_DIGITS, interval=TOTP_INTERVAL)
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
    code = _digits(code)
    if code is None or factor.kind != FactorKind.totp:
        return False
    totp = pyotp.TOTP(totp_secret(factor), digits=TOTP_DIGITS, interval=TOTP_INTERVAL)
    current = int((time.time() if now is None else now) // TOTP_INTERVAL)
    last = factor.last_used_step
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if last is not None and step <= last:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            # A conditional UPDATE, so two requests racing with one code (two nodes,
            # two tabs) cannot both win.
            claimed = db.session.execute(
                db.update(MfaFactor)
                .where(
                    MfaFactor.id == factor.id,
                    db.or_(MfaFactor.last_used_step.is_(None), MfaFactor.last_used_step < step),
                )
                .values(last_used_step=step, last_used_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
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
        record("account:mfa:failure", ctx, actor_id=user.id, method="totp", stage="enrolment")
        return None
    return _confirm(factor, user, ctx)


# --- recovery codes ------------------------------------------------------------------


def _normalize_recovery(code: str | None) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def generate_recovery_codes(user: User, ctx: ActorContext) -> list[str]:
    """Ten new codes, replacing all earlier ones. Returned once; only hashes are kept."""
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4)))
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_keyed_hash("recovery", raw)))
    db.session.flush()
    record("account:recovery_codes:generated", ctx, actor_id=user.id, count=len(codes))
    return codes


def remaining_recovery_codes(user_id: uuid.UUID) -> int:
    query = db.select(db.func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
    )
    return db.session.scalar(query) or 0


def regenerate_recovery_codes(user: User, ctx: ActorContext) -> list[str]:
    if not has_factor(user.id):
        raise CiamError("Set up a second factor first.", code="no_factor")
    return generate_recovery_codes(user, ctx)


def use_recovery_code(user: User, code: str | None, ctx: ActorContext) -> bool:
    normalized = _normalize_recovery(code)
    if len(normalized) != RECOVERY_CODE_LENGTH:
        return False
    code_hash = _keyed_hash("recovery", normalized)
    claimed = db.session.execute(
        db.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == code_hash,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return False
    remaining = remaining_recovery_codes(user.id)
    record("account:recovery_code:used", ctx, actor_id=user.id, remaining=remaining)
    _notify(
        user,
        "A recovery code was used",
        f"A recovery code was used to sign in to your account; {remaining} are left. "
        "Make new ones on the two-step verification page if you are running low."
        "\n\nIf this was not you, reset your password and contact support.",
    )
    return True


# --- SMS -----------------------------------------------------------------------------


def normalize_phone(raw: str | None) -> str:
    """E.164 (ITU-T E.164: "+", country code, at most 15 digits); spaces, dots,
    dashes and brackets people type are dropped."""
    number = re.sub(r"[\s().-]", "", raw or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    if not E164.match(number):
        raise CiamError(
            "Enter the number with its country code, like +41 79 123 45 67.", code="invalid_phone"
        )
    return number


def _check_send_allowed(user: User, ctx: ActorContext) -> None:
    now = utcnow()
    recent = list(
        db.session.scalars(
            db.select(SmsChallenge.created_at).where(
                SmsChallenge.user_id == user.id, SmsChallenge.created_at > now - timedelta(hours=1)
            )
        )
    )
    too_soon = any(created > now - SMS_MIN_INTERVAL for created in recent)
    if too_soon or len(recent) >= SMS_MAX_PER_HOUR:
        record("account:mfa:sms_throttled", ctx, actor_id=user.id, sent_last_hour=len(recent))
        if too_soon:
            raise SmsThrottled("A code was just sent. Wait half a minute before asking again.")
        raise SmsThrottled("Too many codes were sent. Try again in an hour or use another method.")


def send_sms_code(user: User, factor: MfaFactor, ctx: ActorContext) -> SmsChallenge:
    """Text a new code to the factor's phone. Earlier codes for it stop working."""
    if factor.kind != FactorKind.sms or factor.user_id != user.id:
        raise NotFound("No such phone.")
    _check_send_allowed(user, ctx)
    now = utcnow()
    db.session.execute(
        db.update(SmsChallenge)
        .where(SmsChallenge.factor_id == factor.id, SmsChallenge.consumed_at.is_(None))
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**TOTP_DIGITS):0{TOTP_DIGITS}d}"
    challenge = SmsChallenge(
        id=uuid.uuid4(),
        user_id=user.id,
        factor_id=factor.id,
        expires_at=now + SMS_CODE_TTL,
        attempts=0,
        created_at=now,
    )
    challenge.code_hash = _keyed_hash(f"sms:{challenge.id}", code)
    db.session.add(challenge)
    db.session.flush()
    name = current_app.config["CIAM_TOTP_ISSUER_NAME"]
    enqueue_sms(
        factor.phone_number,
        f"{code} is your {name} verification code. It expires in 10 minutes.",
        aggregate_id=str(challenge.id),
    )
    record("account:mfa:sms_sent", ctx, actor_id=user.id, phone=factor.masked_phone)
    return challenge


def verify_sms_code(factor: MfaFactor, code: str | None) -> bool:
    """The latest live code for this phone, tried at most SMS_MAX_ATTEMPTS times."""
    now = utcnow()
    challenge = db.session.scalar(
        db.select(SmsChallenge)
        .where(
            SmsChallenge.factor_id == factor.id,
            SmsChallenge.consumed_at.is_(None),
            SmsChallenge.expires_at > now,
            SmsChallenge.attempts < SMS_MAX_ATTEMPTS,
        )
        .order_by(SmsChallenge.created_at.desc())
        .limit(1)
    )
    if challenge is None:
        return False
    digits = _digits(code)
    if digits is not None and hmac.compare_digest(
        _keyed_hash(f"sms:{challenge.id}", digits), challenge.code_hash
    ):
        claimed = db.session.execute(
            db.update(SmsChallenge)
            .where(
                SmsChallenge.id == challenge.id,
                SmsChallenge.consumed_at.is_(None),
                SmsChallenge.attempts < SMS_MAX_ATTEMPTS,
            )
            .values(consumed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed == 1:
            factor.last_used_at = now
            return True
        return False
    db.session.execute(
        db.update(SmsChallenge)
        .where(SmsChallenge.id == challenge.id)
        .values(attempts=SmsChallenge.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return False


def start_sms_enrolment(user: User, phone: str | None, ctx: ActorContext) -> MfaFactor:
    """A pending SMS factor for this number, and a code sent to prove it is theirs."""
    number = normalize_phone(phone)
    if factor_of_kind(user.id, FactorKind.sms):
        raise Conflict("A phone is already set up; remove it first.", code="sms_exists")
    _check_send_allowed(user, ctx)
    _drop_pending(user.id, FactorKind.sms)
    factor = MfaFactor(user_id=user.id, kind=FactorKind.sms, phone_number=number)
    db.session.add(factor)
    db.session.flush()
    send_sms_code(user, factor, ctx)
    return factor


def pending_sms(user_id: uuid.UUID) -> MfaFactor | None:
    return _pending(user_id, FactorKind.sms)


def confirm_sms(user: User, code: str | None, ctx: ActorContext) -> list[str] | None:
    factor = pending_sms(user.id)
    if factor is None:
        raise CiamError("The set-up expired; please start again.", code="enrolment_expired")
    if not verify_sms_code(factor, code):
        record("account:mfa:failure", ctx, actor_id=user.id, method="sms", stage="enrolment")
        return None
    return _confirm(factor, user, ctx)


# --- the login's second step ---------------------------------------------------------


def too_many_failures(user_id: uuid.UUID) -> bool:
    """NIST 800-63B §5.2.2: failures since the last success (within a day) are capped.
    Counted from the audit trail, which every failure is written to anyway."""
    since = utcnow() - FAILURE_WINDOW
    last_ok = db.session.scalar(
        db.select(db.func.max(AuditEvent.created_at)).where(
            AuditEvent.actor_id == user_id,
            AuditEvent.tag.in_(("account:mfa:verified", "account:mfa:enrolled")),
            AuditEvent.created_at > since,
        )
    )
    failures = db.session.scalar(
        db.select(db.func.count(AuditEvent.id)).where(
            AuditEvent.actor_id == user_id,
            AuditEvent.tag == "account:mfa:failure",
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
        record("account:mfa:failure", ctx, actor_id=user.id, method=method, reason="locked")
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
        record("account:mfa:failure", ctx, actor_id=user.id, method=method, reason="wrong_code")
        return Verification(reason="wrong_code")
    record("account:mfa:verified", ctx, actor_id=user.id, method=method)
    return Verification(method=METHOD_AMR[method])


def send_login_sms(user: User, ctx: ActorContext) -> MfaFactor:
    factor = factor_of_kind(user.id, FactorKind.sms)
    if factor is None:
        raise NotFound("No phone is set up for text messages.")
    send_sms_code(user, factor, ctx)
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
