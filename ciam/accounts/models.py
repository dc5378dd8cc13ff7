from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ciam.db import Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow
from ciam.extensions import db


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


class User(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "users"

    # Stored as typed; uniqueness is on the lower-cased copy (emails compare
    # case-insensitively in practice even though RFC 5321 allows otherwise).
    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320), unique=True)
    email_verified: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[UserStatus] = mapped_column(
        Enum(UserStatus, native_enum=False, length=20), default=UserStatus.active
    )
    given_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    family_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    phone_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    crm_contact_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def name(self) -> str | None:
        parts = [p for p in (self.given_name, self.family_name) if p]
        return " ".join(parts) or None

    @property
    def can_log_in(self) -> bool:
        return self.status == UserStatus.active


class LoginSession(Timestamps, db.Model):
    """A server-side browser session. The cookie holds a random id; we keep its hash."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of cookie value
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    amr: Mapped[list] = mapped_column(JSON, default=list)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(400), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
