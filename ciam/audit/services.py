"""Recording audit events. Views pass an ActorContext; services never read `request`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ciam.audit.models import AuditEvent
from ciam.db import utcnow
from ciam.extensions import db


@dataclass(frozen=True)
class ActorContext:
    """Who acts and from where: built once per request at the edge."""

    ip: str | None = None
    user_agent: str | None = None
    actor_id: uuid.UUID | None = None


SYSTEM = ActorContext()


def record(
    tag: str,
    ctx: ActorContext = SYSTEM,
    *,
    actor_id: uuid.UUID | None = None,
    client_id: str | None = None,
    target: str | None = None,
    org_id: uuid.UUID | None = None,
    **data,
) -> AuditEvent:
    event = AuditEvent(
        tag=tag,
        actor_id=actor_id or ctx.actor_id,
        client_id=client_id,
        target=target,
        org_id=org_id,
        ip=ctx.ip,
        user_agent=(ctx.user_agent or "")[:400] or None,
        data=data,
        # When it happened, not when the flush that writes it runs: a request's events
        # are written together, and keep their order.
        created_at=utcnow(),
    )
    db.session.add(event)
    return event


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
