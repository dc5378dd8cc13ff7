"""An organization's members and audit trail as its administrators see them: search,
filters and cursor pagination (ciam.pagination), for the org console, the support
console and the API. Only the given organization's rows, ever. No `request`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from ciam.accounts.mfa.factors import has_factor_clause
from ciam.accounts.models import User
from ciam.audit.models import AuditEvent
from ciam.db import utcnow
from ciam.delegation.models import Membership, MembershipStatus, Organization
from ciam.extensions import db
from ciam.pagination import after_cursor, encode_cursor
from ciam.roles.models import BusinessRole, MembershipRole

MAX_PAGE = 200
MAX_QUERY = 200


def like_pattern(q: str) -> str:
    """A LIKE pattern for `q` anywhere (use with escape="\\"), LIKE's own wildcards
    taken literally (`_` is common in addresses)."""
    text = q.strip().lower()[:MAX_QUERY]
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def full_name():
    """A person's name as one lower-case string, for matching."""
    return db.func.lower(
        db.func.coalesce(User.given_name, "") + " " + db.func.coalesce(User.family_name, "")
    )


@dataclass(frozen=True)
class MemberRow:
    user: User
    membership: Membership
    roles: list[str]  # business role keys
    mfa_enrolled: bool

    @property
    def locked(self) -> bool:
        return self.user.is_locked


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None = None


def _page(rows: list, limit: int, key) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(*key(rows[-1])) if more and rows else None)


def _roles_by_membership(membership_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = {}
    if not membership_ids:
        return found
    rows = db.session.execute(
        db.select(MembershipRole.membership_id, BusinessRole.key)
        .join(BusinessRole, BusinessRole.id == MembershipRole.role_id)
        .where(MembershipRole.membership_id.in_(membership_ids))
        .order_by(BusinessRole.key)
    )
    for membership_id, key in rows:
        found.setdefault(membership_id, []).append(key)
    return found


def list_members(
    org: Organization,
    *,
    q: str | None = None,
    status: str | None = None,
    role: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """One page of the organization's members (MemberRow), newest first. `q`
    matches email or name; `status` is active, suspended or locked; `role` a key."""
    limit = max(1, min(limit, MAX_PAGE))
    query = (
        db.select(Membership, User, has_factor_clause(User.id).label("mfa"))
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org.id)
    )
    if q:
        pattern = like_pattern(q)
        query = query.where(
            db.or_(
                User.email_normalized.like(pattern, escape="\\"),
                full_name().like(pattern, escape="\\"),
            )
        )
    if status in (MembershipStatus.active.value, MembershipStatus.suspended.value):
        query = query.where(Membership.status == status)
    elif status == "locked":
        query = query.where(User.locked_until > utcnow())
    if role:
        holders = (
            db.select(MembershipRole.membership_id)
            .join(BusinessRole, BusinessRole.id == MembershipRole.role_id)
            .where(BusinessRole.key == role.strip().lower())
        )
        query = query.where(Membership.id.in_(holders))
    if cursor:
        query = query.where(after_cursor(cursor, Membership.created_at, Membership.id))
    query = query.order_by(Membership.created_at.desc(), Membership.id.desc()).limit(limit + 1)
    rows = db.session.execute(query).all()
    roles = _roles_by_membership([m.id for m, _, _ in rows])
    items = [MemberRow(u, m, roles.get(m.id, []), bool(mfa)) for m, u, mfa in rows]
    return _page(items, limit, lambda row: (row.membership.created_at, row.membership.id))


def org_events(
    org: Organization,
    *,
    actor_id: uuid.UUID | None = None,
    target: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """One page of the organization's audit trail, newest first: only events recorded
    for this organization (org_id), never another's, even about a person in both.
    `action` is a tag or a tag prefix (`membership:`)."""
    limit = max(1, min(limit, MAX_PAGE))
    query = db.select(AuditEvent).where(AuditEvent.org_id == org.id)
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id)
    if target:
        query = query.where(AuditEvent.target == target)
    if action:
        query = query.where(AuditEvent.tag.startswith(action))
    if since:
        query = query.where(AuditEvent.created_at >= since)
    if until:
        query = query.where(AuditEvent.created_at < until)
    if cursor:
        query = query.where(after_cursor(cursor, AuditEvent.created_at, AuditEvent.id))
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    events = list(db.session.scalars(query))
    return _page(events, limit, lambda event: (event.created_at, event.id))
