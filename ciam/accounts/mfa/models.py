"""Second factors (DESIGN §2, §5.5): TOTP authenticators and SMS phones, recovery
codes, and the one-time codes sent by SMS.

Secrets at rest: the TOTP seed is encrypted (Fernet, purpose "ciam.totp"), because
the server must read it back to compute codes; recovery codes and SMS codes are only
ever compared, so they are stored as keyed hashes.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ciam.db import Timestamps, UTCDateTime, UUIDPrimaryKey
from ciam.extensions import Model


class FactorKind(enum.StrEnum):
    totp = "totp"
    sms = "sms"


class MfaFactor(UUIDPrimaryKey, Timestamps, Model):
    """One second factor of one person. Unconfirmed rows are enrolments in progress:
    they never count as a factor until the person proved they hold it."""

    __tablename__ = "mfa_factors"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[FactorKind] = mapped_column(Enum(FactorKind, native_enum=False, length=20))
    # Fernet token of the base32 seed (TOTP only).
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    # RFC 6238 §5.2: the last accepted time step; a code for this step or an earlier
    # one is refused, so each code works once.
    last_used_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    phone_number: Mapped[str | None] = mapped_column(String(20), nullable=True)  # E.164
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone_number)


class RecoveryCode(UUIDPrimaryKey, Timestamps, Model):
    """A single-use look-up secret (NIST 800-63B §5.1.2), stored as a keyed hash."""

    __tablename__ = "recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SmsChallenge(UUIDPrimaryKey, Timestamps, Model):
    """One code sent by SMS. Lives 10 minutes, allows 5 tries, works once. The rows
    also count the sends for throttling, so they are kept (and pruned) by time."""

    __tablename__ = "sms_challenges"
    __table_args__ = (Index("ix_sms_challenges_user_created", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    factor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mfa_factors.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def mask_phone(number: str | None) -> str:
    """Only the last digits, as on every page and in the audit trail."""
    if not number:
        return ""
    return "•••• " + number[-4:]
