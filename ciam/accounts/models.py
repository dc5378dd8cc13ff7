from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ciam.db import Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow
from ciam.extensions import Model


class UserStatus(enum.StrEnum):
    """DESIGN §3: one lifecycle, shown in API, audit, webhooks and CRM."""

    invited = "invited"
    registered = "registered"
    pending_approval = "pending_approval"
    active = "active"
    rejected = "rejected"
    locked = "locked"
    suspended = "suspended"
    deactivated = "deactivated"
    erased = "erased"


# The statuses in which an account may sign in and use its sessions and tokens.
GOOD_STANDING = (UserStatus.active, UserStatus.locked)


class User(UUIDPrimaryKey, Timestamps, Model):
    __tablename__ = "users"

    # Stored as typed; uniqueness is on the lower-cased copy (emails compare
    # case-insensitively in practice even though RFC 5321 allows otherwise).
    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320), unique=True)
    email_verified: Mapped[bool] = mapped_column(default=False)
    # An address the person asked to change to, until they click the link sent there
    # (the change happens only then; a newer request replaces it). See profile services.
    pending_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[UserStatus] = mapped_column(
        Enum(UserStatus, native_enum=False, length=20), default=UserStatus.active
    )
    given_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    family_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    phone_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # OIDC Core §5.1.1 address parts (street_address, locality, region, postal_code,
    # country), released with the `address` scope; None when none was given.
    address: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    crm_contact_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Lockout (NIST 800-63B §5.2.2), in the database so every node sees the same
    # count: consecutive wrong passwords, the end of the current lock, and how many
    # locks in a row (each one lasts twice as long). See ciam.accounts.lockout.
    failed_login_count: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lock_count: Mapped[int] = mapped_column(default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def name(self) -> str | None:
        parts = [p for p in (self.given_name, self.family_name) if p]
        return " ".join(parts) or None

    @property
    def can_log_in(self) -> bool:
        """In good standing: may sign in, and may keep using sessions and tokens.

        A locked account counts: a lockout only stops password guessing (NIST 800-63B
        §5.2.2), so the person's existing sessions and tokens keep working, and
        `authenticate` refuses new sign-ins while `is_locked`.
        """
        return self.status in GOOD_STANDING

    @property
    def is_locked(self) -> bool:
        """Locked now. A lock whose time has passed is lifted at the next attempt."""
        if self.status != UserStatus.locked:
            return False
        return self.locked_until is None or self.locked_until > utcnow()


class LoginSession(Timestamps, Model):
    """A server-side browser session. The cookie holds a random id; we keep its hash."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of cookie value
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    amr: Mapped[list] = mapped_column(JSON, default=list)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(400), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # SHA-256 of the browser's device cookie (see ciam.accounts.sessions.services).
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class KnownDevice(UUIDPrimaryKey, Timestamps, Model):
    """A browser this person signed in from before, by the hash of its device cookie.
    A sign-in from a browser not in this list is a new device: audited and emailed."""

    __tablename__ = "known_devices"
    __table_args__ = (UniqueConstraint("user_id", "device_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(64))  # sha256 of the cookie value
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_agent: Mapped[str | None] = mapped_column(String(400), nullable=True)
