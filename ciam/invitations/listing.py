"""Listing invitations for the CRM's API: filters and cursor pagination.

Newest first, by keyset on (created_at, id) (ciam.pagination).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select

from ciam.accounts import services as accounts
from ciam.db import utcnow
from ciam.delegation.models import Organization
from ciam.extensions import db
from ciam.invitations.errors import UnknownOrg
from ciam.invitations.models import Invitation, InvitationStatus
from ciam.pagination import after_cursor, encode_cursor


@dataclass
class Page:
    items: list[Invitation]
    next_cursor: str | None = None


def _in_org(query: Select, slug: str) -> Select:
    org = db.session.scalar(db.select(Organization).where(Organization.slug == slug))
    if org is None:
        raise UnknownOrg(f"No organization {slug}.", details={"org": slug})
    return query.where(Invitation.org_id == org.id)


def _with_status(query: Select, status: str) -> Select:
    """Filter on the status callers see (Invitation.effective_status), not the column:
    a pending row past its expiry that no sweep wrote down yet counts as expired."""
    now = utcnow()
    if status == InvitationStatus.expired:
        return query.where(
            db.or_(
                Invitation.status == InvitationStatus.expired,
                db.and_(
                    Invitation.status == InvitationStatus.pending, Invitation.expires_at <= now
                ),
            )
        )
    if status == InvitationStatus.pending:
        return query.where(
            Invitation.status == InvitationStatus.pending, Invitation.expires_at > now
        )
    return query.where(Invitation.status == InvitationStatus(status))


def list_invitations(
    *,
    limit: int,
    cursor: str | None = None,
    org: str | None = None,
    status: str | None = None,
    email: str | None = None,
    batch_id: uuid.UUID | None = None,
) -> Page:
    """One page of invitations matching every filter given, newest first."""
    query = db.select(Invitation)
    if org:
        query = _in_org(query, org)
    if status:
        query = _with_status(query, status)
    if email:
        query = query.where(Invitation.email == accounts.normalize_email(email))
    if batch_id:
        query = query.where(Invitation.batch_id == batch_id)
    if cursor:
        query = query.where(after_cursor(cursor, Invitation.created_at, Invitation.id))
    query = query.order_by(Invitation.created_at.desc(), Invitation.id.desc()).limit(limit + 1)
    rows = list(db.session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    return Page(rows, encode_cursor(last.created_at, last.id) if last else None)
