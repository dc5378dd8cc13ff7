"""The business-role catalogue, its mapping to portals' app roles, licences, and
the roles each membership holds (DESIGN §2)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ciam.db import Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow
from ciam.extensions import Model

GLOBAL_ONLY = text("org_id IS NULL")


class PortalAppRole(Model):
    """An app role a portal understands (`ciam portals app-roles`). A table of its
    own, not Portal.app_roles: mappings point at it with a foreign key, so a mapping
    can never name an app role the portal does not declare."""

    __tablename__ = "portal_app_roles"

    client_id: Mapped[str] = mapped_column(
        ForeignKey("portals.client_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BusinessRole(UUIDPrimaryKey, Timestamps, Model):
    """A role an org admin understands. Global (org_id None, the operator's) or an
    organization's own; a key is unique among the global ones and within an org."""

    __tablename__ = "business_roles"
    __table_args__ = (
        UniqueConstraint("org_id", "key"),
        Index(
            "uq_business_roles_global_key",
            "key",
            unique=True,
            sqlite_where=GLOBAL_ONLY,
            postgresql_where=GLOBAL_ONLY,
        ),
    )

    key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True, index=True
    )


class RoleMapping(Model):
    """Business role x portal -> app role: one row per app role given."""

    __tablename__ = "role_mappings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["client_id", "app_role"],
            ["portal_app_roles.client_id", "portal_app_roles.key"],
            name="fk_role_mappings_client_id_app_role_portal_app_roles",
            ondelete="CASCADE",
        ),
        Index("ix_role_mappings_client_id", "client_id"),
    )

    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("business_roles.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    app_role: Mapped[str] = mapped_column(String(80), primary_key=True)


class Licence(UUIDPrimaryKey, Timestamps, Model):
    """An organization's entitlement to a portal: `seats` people, or None: unlimited."""

    __tablename__ = "licences"
    __table_args__ = (UniqueConstraint("org_id", "client_id"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("portals.client_id", ondelete="CASCADE"), index=True
    )
    seats: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MembershipRole(Model):
    """A business role held in a membership, and since when: when seats run short,
    the most recently given lose the portal first."""

    __tablename__ = "membership_roles"

    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("business_roles.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
