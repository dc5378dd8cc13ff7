"""Who acts in this request, for the audit trail: views build it, services take it."""

from __future__ import annotations

from flask import request

from ciam.audit.services import ActorContext


def actor_context(actor_id=None) -> ActorContext:
    return ActorContext(
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
        actor_id=actor_id,
    )
