"""Invitations: create (one or many), resend, revoke and expire.

No `request` here (DESIGN §5.2): callers pass who acts (`Inviter`, `ActorContext`).
Services flush; the request (or the outbox worker's transaction) commits once.

The rest of the package: the signed link in ciam.invitations.links, its email in
ciam.invitations.emails, accepting in ciam.invitations.accept, listing in
ciam.invitations.listing, errors in ciam.invitations.errors.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ciam.accounts import services as accounts
from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.delegation.models import Organization
from ciam.errors import CiamError, Conflict
from ciam.extensions import db
from ciam.invitations import lookup
from ciam.invitations.emails import queue_email
from ciam.invitations.errors import Throttled
from ciam.invitations.links import new_nonce
from ciam.invitations.models import Invitation, InvitationStatus


@dataclass(frozen=True)
class Inviter:
    """Who invites: the CRM's client (client_credentials), a person, or both."""

    client_id: str | None = None
    user_id: uuid.UUID | None = None


OPERATOR = Inviter()


@dataclass
class Outcome:
    """What happened to one requested invitation."""

    index: int
    invitation: Invitation | None = None
    created: bool = False
    error: CiamError | None = None
    # The link emailed for a created invitation, for the operator's CLI only: it is
    # never stored, and the API never shows it.
    link: str | None = None

    def settled_invitation(self) -> Invitation:
        """The invitation of an outcome without an error: created, or already pending."""
        if self.invitation is None:
            raise RuntimeError(f"item {self.index} has no invitation: {self.error!r}")
        return self.invitation


# An item that named an active organization and a valid address, still to be matched
# against the invitations and memberships that exist: (outcome, item, org, email).
_Wanted = tuple[Outcome, dict, Organization, str]
# A new invitation whose email is still to send: its outcome, itself, its org, its nonce.
_Created = tuple[Outcome, Invitation, Organization, str]


def _ttl() -> timedelta:
    return timedelta(seconds=current_app.config["CIAM_INVITATION_TTL"])


def is_public_email_domain(email: str) -> bool:
    domain = email.rpartition("@")[2].strip().lower()
    return domain in set(current_app.config["CIAM_PUBLIC_EMAIL_DOMAINS"])


def _audit(
    tag: AuditTag, invitation: Invitation, ctx: ActorContext, inviter: Inviter | None, **data
):
    record(
        tag,
        ctx,
        actor_id=inviter.user_id if inviter else None,
        client_id=inviter.client_id if inviter else None,
        org_id=invitation.org_id,
        target=str(invitation.id),
        **data,
    )


# --- creating ------------------------------------------------------------------------


def create_invitations(
    items: list[dict],
    inviter: Inviter,
    ctx: ActorContext = SYSTEM,
    *,
    batch_id: uuid.UUID | None = None,
    inline_email: bool = True,
    first_index: int = 0,
) -> list[Outcome]:
    """Create invitations for validated items (see ciam.invitations.schemas), one
    outcome per item: created (and emailed), an existing pending invitation for the
    same address and organization (nothing sent), or an error for that item alone."""
    outcomes, wanted = _check_items(items, first_index)
    if wanted:
        created = _match_or_create(wanted, inviter, ctx, batch_id)
        _send_created(created, inviter, ctx, batch_id, inline_email)
    return outcomes


def _check_items(items: list[dict], first_index: int) -> tuple[list[Outcome], list[_Wanted]]:
    """One outcome per item; the items naming an active org and a valid address are
    wanted, the others get their error."""
    by_slug, by_crm = lookup.orgs_named_by(items)
    outcomes: list[Outcome] = []
    wanted: list[_Wanted] = []
    for offset, item in enumerate(items):
        outcome = Outcome(index=first_index + offset)
        outcomes.append(outcome)
        try:
            org = lookup.org_for_item(item, by_slug, by_crm)
            email = accounts.normalize_email(accounts.validate_email(item["email"]))
        except CiamError as error:
            outcome.error = error
            continue
        wanted.append((outcome, item, org, email))
    return outcomes, wanted


def _match_or_create(
    wanted: list[_Wanted], inviter: Inviter, ctx: ActorContext, batch_id: uuid.UUID | None
) -> list[_Created]:
    """Refuse members, answer with the pending invitation for the same address and
    org, create the others (added and flushed). Returns (outcome, invitation, org,
    nonce) of each created invitation, whose email is still to send."""
    org_ids = {org.id for _, _, org, _ in wanted}
    emails = {email for *_, email in wanted}
    pending = lookup.pending_invitations(org_ids, emails)
    members = lookup.memberships(org_ids, emails)
    now = utcnow()
    created: list[_Created] = []
    for outcome, item, org, email in wanted:
        key = (org.id, email)
        if key in members:
            outcome.error = Conflict(
                f"{email} is already a member of {org.slug}.",
                code="already_member",
                details={"email": email, "org": org.slug},
            )
            continue
        existing = pending.get(key)
        if existing is not None and existing.expires_at <= now:
            # Past its expiry but not yet swept: expire it so a new one may be pending.
            expire_one(existing, ctx)
            db.session.flush()
            existing = None
        if existing is not None:
            outcome.invitation = existing
            continue
        invitation = _new_invitation(item, org, email, inviter, batch_id, now)
        pending[key] = invitation
        outcome.invitation, outcome.created = invitation, True
        created.append((outcome, invitation, org, new_nonce(invitation)))
    db.session.add_all([invitation for _, invitation, _, _ in created])
    db.session.flush()
    return created


def _send_created(
    created: list[_Created],
    inviter: Inviter,
    ctx: ActorContext,
    batch_id: uuid.UUID | None,
    inline_email: bool,
) -> None:
    for outcome, invitation, org, nonce in created:
        outcome.link = queue_email(invitation, org, nonce, inline_email)
        _audit(
            AuditTag.INVITATION_CREATED,
            invitation,
            ctx,
            inviter,
            email=invitation.email,
            business_roles=invitation.business_roles,
            batch_id=str(batch_id) if batch_id else None,
        )
        _audit(AuditTag.INVITATION_SENT, invitation, ctx, inviter, sends=invitation.sends)
    db.session.flush()


def _new_invitation(
    item: dict,
    org: Organization,
    email: str,
    inviter: Inviter,
    batch_id: uuid.UUID | None,
    now: datetime,
) -> Invitation:
    lead = bool(item.get("crm_lead_id"))
    return Invitation(
        id=uuid.uuid4(),
        email=email,
        org_id=org.id,
        business_roles=list(dict.fromkeys(item.get("business_roles") or [])),
        crm_contact_id=item.get("crm_contact_id"),
        crm_lead_id=item.get("crm_lead_id"),
        given_name=item.get("given_name"),
        family_name=item.get("family_name"),
        locale=item.get("locale"),
        inviter_client_id=inviter.client_id,
        inviter_user_id=inviter.user_id,
        batch_id=batch_id,
        status=InvitationStatus.pending,
        # DESIGN §3: only leads are flagged; a contact already belongs to an account.
        public_email_domain=lead and is_public_email_domain(email),
        expires_at=now + _ttl(),
        sends=0,
        created_at=now,
    )


def create_invitation(item: dict, inviter: Inviter, ctx: ActorContext = SYSTEM) -> Outcome:
    """One invitation. Raises the item's error; returns the outcome (created or not)."""
    try:
        outcome = create_invitations([item], inviter, ctx)[0]
    except IntegrityError:
        # Another request created the same pending invitation between our read and
        # our insert (the partial unique index refused ours): answer with theirs.
        db.session.rollback()
        outcome = create_invitations([item], inviter, ctx)[0]
    if outcome.error is not None:
        raise outcome.error
    return outcome


# --- revoking, resending, expiring -----------------------------------------------------


def revoke(
    invitation_id: uuid.UUID | str, inviter: Inviter, ctx: ActorContext = SYSTEM
) -> Invitation:
    """Pending -> revoked: its link stops working at once."""
    invitation = lookup.get_invitation(invitation_id)
    if invitation.status != InvitationStatus.pending:
        raise Conflict(
            f"The invitation is {invitation.effective_status.value} and cannot be revoked.",
            code="not_pending",
        )
    invitation.status = InvitationStatus.revoked
    invitation.revoked_at = utcnow()
    _audit(AuditTag.INVITATION_REVOKED, invitation, ctx, inviter)
    db.session.flush()
    return invitation


def resend(
    invitation_id: uuid.UUID | str, inviter: Inviter, ctx: ActorContext = SYSTEM
) -> Invitation:
    """Send a new link with a fresh expiry; the previous link stops working.

    At most one send per CIAM_INVITATION_RESEND_INTERVAL seconds, so a stuck button in
    the CRM cannot flood someone's inbox.
    """
    invitation = lookup.get_invitation(invitation_id)
    if invitation.effective_status != InvitationStatus.pending:
        raise Conflict(
            f"The invitation is {invitation.effective_status.value} and cannot be resent.",
            code="not_pending",
        )
    interval = timedelta(seconds=current_app.config["CIAM_INVITATION_RESEND_INTERVAL"])
    now = utcnow()
    if invitation.last_sent_at and now - invitation.last_sent_at < interval:
        wait = int((invitation.last_sent_at + interval - now).total_seconds()) + 1
        raise Throttled(
            f"The invitation was sent recently. Try again in {wait} seconds.",
            details={"retry_after": wait},
        )
    nonce = new_nonce(invitation)
    invitation.expires_at = now + _ttl()
    queue_email(invitation, lookup.invited_org(invitation), nonce, inline=True)
    _audit(AuditTag.INVITATION_RESENT, invitation, ctx, inviter, sends=invitation.sends)
    db.session.flush()
    return invitation


def expire_one(invitation: Invitation, ctx: ActorContext = SYSTEM) -> None:
    invitation.status = InvitationStatus.expired
    _audit(AuditTag.INVITATION_EXPIRED, invitation, ctx, None)


def expire_due(ctx: ActorContext = SYSTEM, limit: int = 1000) -> int:
    """Mark pending invitations past their expiry as expired (`ciam invitations
    expire`). Returns how many; call again until it returns less than `limit`."""
    query = (
        db.select(Invitation)
        .where(Invitation.status == InvitationStatus.pending, Invitation.expires_at <= utcnow())
        .limit(limit)
    )
    rows = list(db.session.scalars(query))
    for invitation in rows:
        expire_one(invitation, ctx)
    db.session.flush()
    return len(rows)
