"""Finding people and organizations across every organization, for the support
console. A person matches by email, name, user id, or membership of an organization
whose slug or name matches. Cursor pages (ciam.pagination), newest account first.
No `request`.

The text match is a substring (`LIKE '%q%'`): engineers paste part of an address or a
surname. On PostgreSQL at a million people that is a scan of `users`; a trigram index
(pg_trgm) is the fix if it is ever too slow, the query stays the same.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from ciam.accounts.models import User
from ciam.delegation.directory import Page, full_name, like_pattern
from ciam.delegation.models import Membership, Organization
from ciam.extensions import db
from ciam.pagination import after_cursor, encode_cursor

MAX_PAGE = 100
ORG_MATCHES = 10


@dataclass(frozen=True)
class PersonRow:
    user: User
    org_slugs: list[str]


def _matching_org_ids(pattern: str):
    name = db.func.lower(Organization.name)
    return db.select(Organization.id).where(
        db.or_(Organization.slug.like(pattern, escape="\\"), name.like(pattern, escape="\\"))
    )


def _person_matches(q: str):
    pattern = like_pattern(q)
    name = full_name()
    members = db.select(Membership.user_id).where(Membership.org_id.in_(_matching_org_ids(pattern)))
    conditions = [
        User.email_normalized.like(pattern, escape="\\"),
        name.like(pattern, escape="\\"),
        User.id.in_(members),
    ]
    with contextlib.suppress(ValueError):  # not an id: the text conditions only
        conditions.append(User.id == uuid.UUID(q.strip()))
    return db.or_(*conditions)


def _org_slugs(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = {}
    if not user_ids:
        return found
    rows = db.session.execute(
        db.select(Membership.user_id, Organization.slug)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id.in_(user_ids))
        .order_by(Organization.slug)
    )
    for user_id, slug in rows:
        found.setdefault(user_id, []).append(slug)
    return found


def find_people(q: str | None, *, cursor: str | None = None, limit: int = 25) -> Page:
    """One page of PersonRow matching `q`; an empty page for an empty query (the
    console never lists a million people unasked)."""
    if not q or not q.strip():
        return Page([])
    limit = max(1, min(limit, MAX_PAGE))
    query = db.select(User).where(_person_matches(q))
    if cursor:
        query = query.where(after_cursor(cursor, User.created_at, User.id))
    query = query.order_by(User.created_at.desc(), User.id.desc()).limit(limit + 1)
    users = list(db.session.scalars(query))
    more, users = len(users) > limit, users[:limit]
    slugs = _org_slugs([user.id for user in users])
    rows = [PersonRow(user, slugs.get(user.id, [])) for user in users]
    last = users[-1] if more else None
    return Page(rows, encode_cursor(last.created_at, last.id) if last else None)


def find_orgs(q: str | None, limit: int = ORG_MATCHES) -> list[Organization]:
    """Organizations whose slug or name holds `q`, by slug (the first few only: a
    search this loose names an organization to open, not a listing)."""
    if not q or not q.strip():
        return []
    query = (
        db.select(Organization)
        .where(Organization.id.in_(_matching_org_ids(like_pattern(q))))
        .order_by(Organization.slug)
        .limit(limit)
    )
    return list(db.session.scalars(query))
