"""SMS codes: 6 random digits, valid 10 minutes (NIST 800-63B §5.1.3.2), at most 5
tries each, one send per 30 s and 5 per hour per person, sent through the outbox."""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from datetime import timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult

from ciam.accounts.mfa.factors import (
    CODE_DIGITS,
    digits,
    drop_pending,
    factor_of_kind,
    keyed_hash,
    pending,
)
from ciam.accounts.mfa.models import FactorKind, MfaFactor, SmsChallenge
from ciam.accounts.mfa.services import confirm_factor
from ciam.accounts.models import User
from ciam.audit.services import ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.errors import CiamError, Conflict, NotFound
from ciam.extensions import db
from ciam.outbox.sms import enqueue_sms

SMS_CODE_TTL = timedelta(minutes=10)

SMS_MAX_ATTEMPTS = 5

SMS_MIN_INTERVAL = timedelta(seconds=30)

SMS_MAX_PER_HOUR = 5

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class SmsThrottled(CiamError):
    code = "sms_throttled"
    status = 429


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
        record(
            AuditTag.ACCOUNT_MFA_SMS_THROTTLED, ctx, actor_id=user.id, sent_last_hour=len(recent)
        )
        if too_soon:
            raise SmsThrottled("A code was just sent. Wait half a minute before asking again.")
        raise SmsThrottled("Too many codes were sent. Try again in an hour or use another method.")


def send_sms_code(user: User, factor: MfaFactor, ctx: ActorContext) -> SmsChallenge:
    """Text a new code to the factor's phone. Earlier codes for it stop working."""
    phone = factor.phone_number  # every SMS factor has one
    if factor.kind != FactorKind.sms or factor.user_id != user.id or phone is None:
        raise NotFound("No such phone.")
    _check_send_allowed(user, ctx)
    now = utcnow()
    db.session.execute(
        db.update(SmsChallenge)
        .where(SmsChallenge.factor_id == factor.id, SmsChallenge.consumed_at.is_(None))
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    challenge = SmsChallenge(
        id=uuid.uuid4(),
        user_id=user.id,
        factor_id=factor.id,
        expires_at=now + SMS_CODE_TTL,
        attempts=0,
        created_at=now,
    )
    challenge.code_hash = keyed_hash(f"sms:{challenge.id}", code)
    db.session.add(challenge)
    db.session.flush()
    name = current_app.config["CIAM_TOTP_ISSUER_NAME"]
    enqueue_sms(
        phone,
        f"{code} is your {name} verification code. It expires in 10 minutes.",
        aggregate_id=str(challenge.id),
    )
    record(AuditTag.ACCOUNT_MFA_SMS_SENT, ctx, actor_id=user.id, phone=factor.masked_phone)
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
    entered = digits(code)
    if entered is not None and hmac.compare_digest(
        keyed_hash(f"sms:{challenge.id}", entered), challenge.code_hash
    ):
        statement = (
            db.update(SmsChallenge)
            .where(
                SmsChallenge.id == challenge.id,
                SmsChallenge.consumed_at.is_(None),
                SmsChallenge.attempts < SMS_MAX_ATTEMPTS,
            )
            .values(consumed_at=now)
            .execution_options(synchronize_session=False)
        )
        claimed = cast(CursorResult, db.session.execute(statement)).rowcount
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
    drop_pending(user.id, FactorKind.sms)
    factor = MfaFactor(user_id=user.id, kind=FactorKind.sms, phone_number=number)
    db.session.add(factor)
    db.session.flush()
    send_sms_code(user, factor, ctx)
    return factor


def pending_sms(user_id: uuid.UUID) -> MfaFactor | None:
    return pending(user_id, FactorKind.sms)


def confirm_sms(user: User, code: str | None, ctx: ActorContext) -> list[str] | None:
    factor = pending_sms(user.id)
    if factor is None:
        raise CiamError("The set-up expired; please start again.", code="enrolment_expired")
    if not verify_sms_code(factor, code):
        record(AuditTag.ACCOUNT_MFA_FAILURE, ctx, actor_id=user.id, method="sms", stage="enrolment")
        return None
    return confirm_factor(factor, user, ctx)
