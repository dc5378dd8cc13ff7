"""Listing invitations for the CRM's API: filters and cursor pagination.

Newest first, by keyset on (created_at, id), so a page is stable while rows are added
(an offset would skip or repeat rows). The cursor is the last row's key, base64url of
JSON: opaque to clients, but not secret.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select

from ciam.accounts import services as accounts
from ciam.db import utcnow
from ciam.delegation.models import Organization
from ciam.errors import CiamError
from ciam.extensions import db
from ciam.invitations.errors import UnknownOrg
from ciam.invitations.models import Invitation, InvitationStatus


@dataclass
class Page:
    items: list[Invitation]
    next_cursor: str | None = None


def encode_cursor(invitation: Invitation) -> str:
    raw = json.dumps([invitation.created_at.isoformat(), str(invitation.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) a cursor holds; `invalid_cursor` (400) for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, uuid.UUID(ident)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise CiamError("The cursor is not valid.", code="invalid_cursor") from exc


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


def _after(query: Select, cursor: str) -> Select:
    when, ident = decode_cursor(cursor)
    return query.where(
        db.or_(
            Invitation.created_at < when,
            db.and_(Invitation.created_at == when, Invitation.id < ident),
        )
    )


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
        query = _after(query, cursor)
    query = query.order_by(Invitation.created_at.desc(), Invitation.id.desc()).limit(limit + 1)
    rows = list(db.session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1]) if more and rows else None)
