"""Enqueueing side effects. Called by services inside the request's transaction."""

from __future__ import annotations

from flask import g

from ciam.extensions import db
from ciam.outbox.models import OutboxMessage


def enqueue(kind: str, payload: dict, aggregate_id: str | None = None) -> OutboxMessage:
    """Write a message to send after commit. A rollback drops it with the change."""
    message = OutboxMessage(kind=kind, payload=payload, aggregate_id=aggregate_id)
    db.session.add(message)
    db.session.flush()
    g.setdefault("ciam_outbox_ids", []).append(message.id)
    return message
