from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ciam.db import UTCDateTime, UUIDPrimaryKey, utcnow
from ciam.extensions import Model


class OutboxStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    dead = "dead"  # gave up after the last attempt; kept for operators


class OutboxMessage(UUIDPrimaryKey, Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at"),)

    kind: Mapped[str] = mapped_column(String(40))  # email, sms, crm.push, webhook
    aggregate_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(OutboxStatus, native_enum=False, length=20), default=OutboxStatus.pending
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
