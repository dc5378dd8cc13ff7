from __future__ import annotations

import enum
import uuid

from sqlalchemy import JSON, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ciam.db import Timestamps, UUIDPrimaryKey
from ciam.extensions import Model


class OrgStatus(enum.StrEnum):
    active = "active"
    suspended = "suspended"
    contract_ended = "contract_ended"


class AdminRight(enum.StrEnum):
    none = "none"
    user_manager = "user_manager"
    org_admin = "org_admin"


class Organization(UUIDPrimaryKey, Timestamps, Model):
    __tablename__ = "organizations"

    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    crm_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    email_domains: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[OrgStatus] = mapped_column(
        Enum(OrgStatus, native_enum=False, length=20), default=OrgStatus.active
    )
    mfa_required: Mapped[bool] = mapped_column(default=False)


class Membership(UUIDPrimaryKey, Timestamps, Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "org_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    admin_right: Mapped[AdminRight] = mapped_column(
        Enum(AdminRight, native_enum=False, length=20), default=AdminRight.none
    )
    # Names of business roles held in this org (DESIGN §2); a catalogue comes later.
    business_roles: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
