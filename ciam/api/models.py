"""Idempotency keys of the REST API (draft-ietf-httpapi-idempotency-key-header)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ciam.db import UTCDateTime, UUIDPrimaryKey, utcnow
from ciam.extensions import Model


class IdempotencyKey(UUIDPrimaryKey, Model):
    """One `Idempotency-Key` of one client, and the first answer given for it.

    The unique (client_id, key) constraint is what makes two racing requests safe:
    only one of them can insert the in-flight row, on SQLite as on PostgreSQL.
    `response_status` is NULL while the first request is still in flight.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("client_id", "key", name="uq_idempotency_keys_client_id_key"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    client_id: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 (hex) of method, path and body: the same key with another request is 422.
    fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_location: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
