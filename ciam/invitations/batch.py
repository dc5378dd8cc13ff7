"""Invitation batches: stored at once by the API, created in chunks by the worker.

The request only validates the shape and stores the items (one row), then writes an
outbox message of kind `invitation.batch`. The outbox worker runs `process_chunk`:
each run claims the next CIAM_INVITATION_BATCH_CHUNK items by moving the batch's
`next_index` with a conditional UPDATE, creates their invitations and `email` outbox
rows, and queues the next step, all in the worker's one transaction. So:

- a worker that dies mid-chunk commits nothing: the message is still pending and
  the rerun does the same chunk again, from the same index;
- a second worker (or a duplicated message) finds `next_index` moved and does
  nothing, so no chunk is created, or emailed, twice;
- a failure inside a chunk rolls back to a savepoint, so no half chunk is committed,
  and the message is retried later by the outbox's backoff.
"""

from __future__ import annotations

import uuid
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult

from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.errors import CiamError, NotFound
from ciam.extensions import db
from ciam.invitations import services
from ciam.invitations.models import BatchStatus, InvitationBatch
from ciam.outbox.models import OutboxMessage

KIND = "invitation.batch"
ERRORS_KEPT = 1000  # per-row errors stored on a batch; the count covers them all


class BatchTooLarge(CiamError):
    code = "batch_too_large"
    status = 413


def check_size(count: int) -> None:
    maximum = current_app.config["CIAM_INVITATION_BATCH_MAX"]
    if count > maximum:
        raise BatchTooLarge(
            f"A batch holds at most {maximum} invitations; this one has {count}.",
            details={"max": maximum, "count": count},
        )


def queue_batch(
    items: list[dict], inviter: services.Inviter, ctx: ActorContext = SYSTEM
) -> InvitationBatch:
    """Store a validated batch and queue its processing. Nothing is created yet."""
    check_size(len(items))
    batch = InvitationBatch(
        id=uuid.uuid4(),
        client_id=inviter.client_id,
        inviter_user_id=inviter.user_id,
        status=BatchStatus.queued,
        total=len(items),
        items=items,
        errors=[],
        created_at=utcnow(),
    )
    db.session.add(batch)
    db.session.flush()
    # Not through outbox.enqueue: that would also process the batch inline right
    # after this request, in the request's time. Batches are the worker's job.
    _queue_step(batch)
    record(
        AuditTag.INVITATION_BATCH_QUEUED,
        ctx,
        actor_id=inviter.user_id,
        client_id=inviter.client_id,
        target=str(batch.id),
        total=batch.total,
    )
    return batch


def get_batch(batch_id: uuid.UUID, client_id: str | None) -> InvitationBatch:
    """A batch, for the client that posted it only: another CRM's job is none of
    its business."""
    batch = db.session.get(InvitationBatch, batch_id)
    if batch is None or batch.client_id != client_id:
        raise NotFound("No such batch.")
    return batch


def _queue_step(batch: InvitationBatch) -> None:
    # The batch's creation time keeps every step at the head of the queue (the
    # worker takes the oldest messages first), so the invitations of a big batch are
    # all created without waiting behind the emails of its own earlier chunks.
    db.session.add(
        OutboxMessage(
            kind=KIND,
            payload={"batch_id": str(batch.id)},
            aggregate_id=str(batch.id),
            created_at=batch.created_at,
            next_attempt_at=utcnow(),
        )
    )


def process_chunk(payload: dict) -> None:
    """Outbox handler for `invitation.batch`: create the next chunk of the batch."""
    batch_id = uuid.UUID(payload["batch_id"])
    row = db.session.execute(
        db.select(InvitationBatch.next_index, InvitationBatch.total, InvitationBatch.status).where(
            InvitationBatch.id == batch_id
        )
    ).first()
    if row is None or row.status == BatchStatus.done or row.next_index >= row.total:
        return  # deleted, finished, or a stale duplicate: nothing to do
    start = row.next_index
    end = min(row.total, start + current_app.config["CIAM_INVITATION_BATCH_CHUNK"])
    statement = (
        db.update(InvitationBatch)
        .where(InvitationBatch.id == batch_id, InvitationBatch.next_index == start)
        .values(next_index=end)
        .execution_options(synchronize_session=False)
    )
    claimed = cast(CursorResult, db.session.execute(statement)).rowcount
    if claimed != 1:
        return  # another worker took this chunk
    # The claim above opened the transaction, so this savepoint is a real one even on
    # SQLite (whose driver would otherwise let a first SAVEPOINT commit on release).
    try:
        with db.session.begin_nested():
            _create_chunk(batch_id, start, end)
    except Exception:
        # Give the chunk back, so the retry of this message does it again.
        db.session.execute(
            db.update(InvitationBatch)
            .where(InvitationBatch.id == batch_id)
            .values(next_index=start)
            .execution_options(synchronize_session=False)
        )
        raise


def _create_chunk(batch_id: uuid.UUID, start: int, end: int) -> None:
    # The batch exists: process_chunk has just claimed this chunk of it.
    batch = db.session.get_one(InvitationBatch, batch_id, populate_existing=True)
    now = utcnow()
    if batch.started_at is None:
        batch.started_at = now
    batch.status = BatchStatus.processing
    inviter = services.Inviter(client_id=batch.client_id, user_id=batch.inviter_user_id)
    outcomes = services.create_invitations(
        batch.items[start:end],
        inviter,
        batch_id=batch.id,
        inline_email=False,
        first_index=start,
    )
    _count(batch, outcomes)
    batch.processed = end
    if end >= batch.total:
        batch.status = BatchStatus.done
        batch.finished_at = now
        batch.items = []
        record(
            AuditTag.INVITATION_BATCH_DONE,
            client_id=batch.client_id,
            actor_id=batch.inviter_user_id,
            target=str(batch.id),
            total=batch.total,
            created=batch.created,
            existing=batch.existing,
            failed=batch.failed,
        )
    else:
        _queue_step(batch)
    db.session.flush()


def _count(batch: InvitationBatch, outcomes: list[services.Outcome]) -> None:
    """Add a chunk's outcomes to the batch's counts, keeping the first ERRORS_KEPT
    per-item errors."""
    errors = list(batch.errors or [])
    for outcome in outcomes:
        if outcome.error is not None:
            batch.failed += 1
            if len(errors) < ERRORS_KEPT:
                errors.append(
                    {
                        "index": outcome.index,
                        "error": outcome.error.code,
                        "message": outcome.error.message,
                    }
                )
        elif outcome.created:
            batch.created += 1
        else:
            batch.existing += 1
    batch.errors = errors
