from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ciam.db import Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow
from ciam.extensions import Model


class OrgStatus(enum.StrEnum):
    active = "active"
    suspended = "suspended"
    contract_ended = "contract_ended"


class AdminRight(enum.StrEnum):
    none = "none"
    user_manager = "user_manager"
    org_admin = "org_admin"


class MembershipStatus(enum.StrEnum):
    active = "active"
    suspended = "suspended"


class Organization(UUIDPrimaryKey, Timestamps, Model):
    __tablename__ = "organizations"

    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    crm_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    email_domains: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[OrgStatus] = mapped_column(
        Enum(OrgStatus, native_enum=False, length=20), default=OrgStatus.active
    )
    # Policy
    mfa_required: Mapped[bool] = mapped_column(default=False)
    # None: the server's default idle timeout (DESIGN §8, 15 minutes).
    session_idle_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Client ids the org lets its people use; empty: every portal it is licensed for.
    allowed_portals: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    # Branding
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    logo_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    primary_colour: Mapped[str | None] = mapped_column(String(7), nullable=True)
    email_sender_name: Mapped[str | None] = mapped_column(String(120), nullable=True)


class Membership(UUIDPrimaryKey, Timestamps, Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "org_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    admin_right: Mapped[AdminRight] = mapped_column(
        Enum(AdminRight, native_enum=False, length=20), default=AdminRight.none
    )
    status: Mapped[MembershipStatus] = mapped_column(
        Enum(MembershipStatus, native_enum=False, length=20),
        default=MembershipStatus.active,
        server_default=MembershipStatus.active.value,
    )
    # Outside [valid_from, valid_until) the membership grants nothing; None: open-ended.
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # Set once by the sweep that recorded the expiry, so several workers record it once.
    expiry_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Business roles held: ciam.roles.models.MembershipRole (with when each was given).


class OrganizationChoice(Model):
    """The organization a person in several chose for a portal, remembered so the
    next sign-in there asks nothing (until `prompt=select_account`)."""

    __tablename__ = "organization_choices"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffRole(enum.StrEnum):
    support = "support"  # the support console (/ops/): every organization's people


class Staff(Model):
    """A person who works for the operator: `ciam staff grant --email E --role support`."""

    __tablename__ = "staff"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[StaffRole] = mapped_column(Enum(StaffRole, native_enum=False, length=20))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
