"""/api/v1/invitations: the CRM invites people (one, or a batch of up to 10,000).

Each view loads its input with a schema, calls one service, and dumps the result.
Callers are machine clients of the platform (the CRM integration), holding
`invitations:write` to invite, resend and revoke, `invitations:read` to read; they
name the organization in each request (slug or CRM account id).
"""

from __future__ import annotations

import uuid
from functools import wraps

from flask import current_app, request, url_for

from ciam.api.auth import current_caller, require_scope
from ciam.api.blueprint import ApiBlueprint
from ciam.api.errors import register_api_errors
from ciam.api.idempotency import idempotent
from ciam.invitations import batch as batches
from ciam.invitations import listing, lookup, services
from ciam.invitations.schemas import (
    BatchCreateSchema,
    BatchSchema,
    InvitationCreateSchema,
    InvitationPageSchema,
    InvitationQuerySchema,
    InvitationSchema,
)

bp = ApiBlueprint(
    "invitations_api",
    __name__,
    description="Invite people into an organization; they accept by an emailed link.",
)
register_api_errors(bp)

READ = "invitations:read"
WRITE = "invitations:write"


def _inviter() -> services.Inviter:
    caller = current_caller()
    return services.Inviter(client_id=caller.client_id, user_id=caller.user_id)


def _larger_body(view):
    """A batch of 10,000 is several MB: lift the app's 1 MiB body limit for this
    view only, to CIAM_INVITATION_BATCH_MAX_BYTES (beyond it: 413)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        request.max_content_length = current_app.config["CIAM_INVITATION_BATCH_MAX_BYTES"]
        return view(*args, **kwargs)

    return wrapper


@bp.route("/invitations", methods=["POST"])
@require_scope(WRITE)
@idempotent
@bp.arguments(InvitationCreateSchema)
@bp.response(201, InvitationSchema, description="Invitation created and emailed.")
@bp.alt_response(
    200,
    schema=InvitationSchema,
    description="A pending invitation for this email and organization already exists; "
    "it is returned unchanged and nothing is sent (resend explicitly).",
    success=True,
)
@bp.alt_response(409, response="CONFLICT", description="Already a member.")
@bp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def create_invitation(data: dict):
    """Invite one person."""
    caller = current_caller()
    outcome = services.create_invitation(data, _inviter(), caller.actor_context())
    invitation = outcome.invitation
    assert invitation is not None, "an outcome without an error carries its invitation"
    location = {"Location": url_for(".get_invitation", invitation_id=invitation.id)}
    return invitation, (201 if outcome.created else 200), location


@bp.route("/invitations/batch", methods=["POST"])
@_larger_body
@require_scope(WRITE)
@idempotent
@bp.arguments(BatchCreateSchema)
@bp.response(202, BatchSchema, description="Stored; the worker creates the invitations.")
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@bp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def create_batch(data: dict):
    """Invite many people: the batch is checked, stored, and processed by the worker.

    Follow its progress at the Location returned. Items for an address that already
    has a pending invitation in that organization are counted as `existing`; items
    that fail (unknown organization, already a member) are listed in `errors`.
    """
    caller = current_caller()
    batch = batches.queue_batch(data["invitations"], _inviter(), caller.actor_context())
    return batch, 202, {"Location": url_for(".get_batch", batch_id=batch.id)}


@bp.route("/invitations/batches/<uuid:batch_id>", methods=["GET"])
@require_scope(READ)
@bp.response(200, BatchSchema)
@bp.alt_response(404, response="NOT_FOUND")
def get_batch(batch_id: uuid.UUID):
    """Status, counts and per-item errors of a batch this client posted."""
    return batches.get_batch(batch_id, current_caller().client_id)


@bp.route("/invitations", methods=["GET"])
@require_scope(READ)
@bp.arguments(InvitationQuerySchema, location="query")
@bp.response(200, InvitationPageSchema)
def list_invitations(args: dict):
    """Invitations, newest first; pass `next_cursor` back as `cursor` for more."""
    return listing.list_invitations(**args)


@bp.route("/invitations/<uuid:invitation_id>", methods=["GET"])
@require_scope(READ)
@bp.response(200, InvitationSchema)
@bp.alt_response(404, response="NOT_FOUND")
def get_invitation(invitation_id: uuid.UUID):
    """One invitation."""
    return lookup.get_invitation(invitation_id)


@bp.route("/invitations/<uuid:invitation_id>/revoke", methods=["POST"])
@require_scope(WRITE)
@idempotent
@bp.response(200, InvitationSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT", description="Not pending.")
def revoke_invitation(invitation_id: uuid.UUID):
    """Withdraw a pending invitation: its link stops working at once."""
    caller = current_caller()
    return services.revoke(invitation_id, _inviter(), caller.actor_context())


@bp.route("/invitations/<uuid:invitation_id>/resend", methods=["POST"])
@require_scope(WRITE)
@idempotent
@bp.response(200, InvitationSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT", description="Not pending.")
@bp.alt_response(429, response="TOO_MANY_REQUESTS", description="Sent too recently.")
def resend_invitation(invitation_id: uuid.UUID):
    """Email a new link with a new expiry; the previous link stops working."""
    caller = current_caller()
    return services.resend(invitation_id, _inviter(), caller.actor_context())
