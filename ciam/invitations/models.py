"""Invitations and invitation batches (DESIGN §2).

An invitation's link is signed (ciam.tokens, purpose "invitation") and names the row
and a random nonce; the row keeps only the nonce's SHA-256 (`token_hash`), so a link
works only while it is the latest one sent and the row is still pending.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ciam.db import UTCDateTime, UUIDPrimaryKey, utcnow
from ciam.extensions import Model


class InvitationStatus(enum.StrEnum):
    pending = "pending"
    accepted = "accepted"
    revoked = "revoked"
    expired = "expired"


class BatchStatus(enum.StrEnum):
    queued = "queued"
    processing = "processing"
    done = "done"


PENDING_ONLY = text("status = 'pending'")


class InvitationBatch(UUIDPrimaryKey, Model):
    """A list of invitations posted at once, created by the outbox worker in chunks.

    `next_index` is the first item not yet processed: a chunk claims its items by
    moving it with a conditional UPDATE, so a chunk is done once, whatever the
    number of workers or reruns.
    """

    __tablename__ = "invitation_batches"

    client_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    inviter_user_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    status: Mapped[BatchStatus] = mapped_column(
        Enum(BatchStatus, native_enum=False, length=20), default=BatchStatus.queued
    )
    total: Mapped[int] = mapped_column(default=0)
    next_index: Mapped[int] = mapped_column(default=0)
    processed: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    existing: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    # [{"index": i, "error": code, "message": text}], at most ERRORS_KEPT of them.
    errors: Mapped[list] = mapped_column(JSON, default=list)
    # The validated items, until the batch is done (then cleared: the invitations
    # hold the same personal data, and a finished batch needs no second copy).
    items: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Invitation(UUIDPrimaryKey, Model):
    __tablename__ = "invitations"
    __table_args__ = (
        # One pending invitation per address and organization: a second create is
        # answered with the first, and two racing creates cannot both insert.
        Index(
            "uq_invitations_pending_org_email",
            "org_id",
            "email",
            unique=True,
            sqlite_where=PENDING_ONLY,
            postgresql_where=PENDING_ONLY,
        ),
        Index("ix_invitations_created", "created_at", "id"),
    )

    token_hash: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320), index=True)  # lower-cased
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    business_roles: Mapped[list] = mapped_column(JSON, default=list)
    crm_contact_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    crm_lead_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    given_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    family_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Who invited: the CRM client (client_credentials) and/or a person.
    inviter_client_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    inviter_user_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invitation_batches.id", ondelete="SET NULL"), nullable=True, index=True
    )
    status: Mapped[InvitationStatus] = mapped_column(
        Enum(InvitationStatus, native_enum=False, length=20), default=InvitationStatus.pending
    )
    # DESIGN §3: a lead invited at a webmail address (gmail.com...) is flagged.
    public_email_domain: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sends: Mapped[int] = mapped_column(default=0)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    accepted_user_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def effective_status(self) -> InvitationStatus:
        """The status as callers should see it: a pending invitation past its expiry
        is expired even before `ciam invitations expire` writes it down."""
        if self.status == InvitationStatus.pending and self.expires_at <= utcnow():
            return InvitationStatus.expired
        return self.status
