"""Recording audit events. Views pass an ActorContext; services never read `request`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table

from ciam.audit.models import AuditEvent
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.extensions import db
from ciam.ops.events import observe_audit_event


@dataclass(frozen=True)
class ActorContext:
    """Who acts and from where: built once per request at the edge."""

    ip: str | None = None
    user_agent: str | None = None
    actor_id: uuid.UUID | None = None


SYSTEM = ActorContext()


def record(
    tag: AuditTag,
    ctx: ActorContext = SYSTEM,
    *,
    actor_id: uuid.UUID | None = None,
    client_id: str | None = None,
    target: str | None = None,
    org_id: uuid.UUID | None = None,
    **data,
) -> AuditEvent:
    values = event_values(
        tag, ctx, actor_id=actor_id, client_id=client_id, target=target, org_id=org_id, **data
    )
    event = AuditEvent(**values)
    db.session.add(event)
    return event


def event_values(
    tag: AuditTag,
    ctx: ActorContext = SYSTEM,
    *,
    actor_id: uuid.UUID | None = None,
    client_id: str | None = None,
    target: str | None = None,
    org_id: uuid.UUID | None = None,
    **data,
) -> dict:
    """The row record() writes, as plain column values (every column of the table):
    for a hot path that inserts its events with INSERT_EVENT along with its other
    writes, in the same transaction, instead of through the ORM's unit of work."""
    values = {
        "id": uuid.uuid4(),
        # ValueError for a tag that is not an AuditTag: the vocabulary is closed.
        "tag": AuditTag(tag).value,
        "actor_id": actor_id or ctx.actor_id,
        "client_id": client_id,
        "target": target,
        "org_id": org_id,
        "ip": ctx.ip,
        "user_agent": (ctx.user_agent or "")[:400] or None,
        "data": data,
        # When it happened, not when the flush that writes it runs: a request's events
        # are written together, and keep their order.
        "created_at": utcnow(),
    }
    observe_audit_event(values)  # a count by tag and a log line (ciam.ops.events)
    return values


# Built once, for rows from event_values (one or many per execution).
_EVENTS = cast(Table, AuditEvent.__table__)
INSERT_EVENT = _EVENTS.insert()
_COLUMNS = tuple(column.key for column in _EVENTS.columns)


def take_unwritten() -> list[dict]:
    """The events record() added to this request's ORM session that no flush has
    written yet, as rows for INSERT_EVENT, in the order they were recorded. They
    leave the ORM session: the caller must write them, in the same transaction (a
    hot path that writes its own events in one statement, DESIGN §7)."""
    session = db.session
    events = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    for event in events:
        session.expunge(event)
    return [_row_of(event) for event in events]


def _row_of(event: AuditEvent) -> dict:
    row = {name: getattr(event, name) for name in _COLUMNS}
    # What the ORM's column defaults would fill in for an event not made by record().
    row["id"] = row["id"] or uuid.uuid4()
    row["created_at"] = row["created_at"] or utcnow()
    row["data"] = {} if row["data"] is None else row["data"]
    return row


def events_for(tag_prefix: str | None = None, actor_id: uuid.UUID | None = None) -> list:
    query = db.select(AuditEvent).order_by(AuditEvent.created_at.desc())
    if tag_prefix:
        query = query.where(AuditEvent.tag.startswith(tag_prefix))
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id)
    return list(db.session.scalars(query))


def events_about_person(user_id: uuid.UUID, *, limit: int = 50, offset: int = 0) -> list:
    """A person's own security events, newest first: what they did (actor) and what
    was done to their account (target), e.g. an unlock by support. Nobody else's."""
    query = (
        db.select(AuditEvent)
        .where(db.or_(AuditEvent.actor_id == user_id, AuditEvent.target == str(user_id)))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id)
        .limit(limit)
        .offset(offset)
    )
    return list(db.session.scalars(query))
