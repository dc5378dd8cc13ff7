"""Enqueueing side effects. Called by services inside the request's transaction."""

from __future__ import annotations

import uuid
from typing import cast

from flask import g
from sqlalchemy import Table

from ciam.db import utcnow
from ciam.extensions import db
from ciam.outbox.models import OutboxMessage, OutboxStatus
from ciam.outbox.sealing import seal_payload


def enqueue(kind: str, payload: dict, aggregate_id: str | None = None) -> OutboxMessage:
    """Write a message to send after commit. A rollback drops it with the change."""
    message = new_message(kind, payload, aggregate_id)
    db.session.add(message)
    db.session.flush()
    note_enqueued(message.id)
    return message


def new_message(kind: str, payload: dict, aggregate_id: str | None = None) -> OutboxMessage:
    """An unsaved row with its text sealed (sealing.py), for callers that add many
    and flush once."""
    return OutboxMessage(kind=kind, payload=seal_payload(kind, payload), aggregate_id=aggregate_id)


def message_values(kind: str, payload: dict, aggregate_id: str | None = None) -> dict:
    """The row enqueue() writes, as plain column values (every column of the table):
    for a hot path that inserts it with INSERT_MESSAGE in its own batch of writes,
    in the request's transaction. Call note_enqueued once it is written."""
    now = utcnow()
    return {
        "id": uuid.uuid4(),
        "kind": kind,
        "aggregate_id": aggregate_id,
        "payload": seal_payload(kind, payload),
        "status": OutboxStatus.pending.value,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
    }


def note_enqueued(message_id: uuid.UUID) -> None:
    """A message was written in this request: inline dispatch sends it after commit."""
    g.setdefault("ciam_outbox_ids", []).append(message_id)


# Built once, for rows from message_values. (A mapped class's __table__ is typed as
# any FromClause; a declarative model's is a Table.)
INSERT_MESSAGE = cast(Table, OutboxMessage.__table__).insert()
