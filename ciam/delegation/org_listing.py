"""The organizations a caller of the API may administer, one cursor page at a time
(ciam.pagination): all of them for the operator and support staff, the ones a
person administers otherwise. No `request`."""

from __future__ import annotations

import uuid

from ciam.delegation.directory import MAX_PAGE, Page
from ciam.delegation.models import Organization
from ciam.delegation.permissions import administered_orgs, is_support
from ciam.extensions import db
from ciam.pagination import after_cursor, encode_cursor


def all_orgs(*, cursor: str | None = None, limit: int = 50) -> Page:
    """Every organization, newest first."""
    limit = max(1, min(limit, MAX_PAGE))
    query = db.select(Organization)
    if cursor:
        query = query.where(after_cursor(cursor, Organization.created_at, Organization.id))
    query = query.order_by(Organization.created_at.desc(), Organization.id.desc())
    orgs = list(db.session.scalars(query.limit(limit + 1)))
    more = len(orgs) > limit
    orgs = orgs[:limit]
    last = orgs[-1] if more and orgs else None
    return Page(orgs, encode_cursor(last.created_at, last.id) if last else None)


def orgs_for(user_id: uuid.UUID | None, *, cursor: str | None = None, limit: int = 50) -> Page:
    """The page of organizations `user_id` may administer (None: the operator). A
    person administers a handful: theirs come in one page, by name."""
    if user_id is None or is_support(user_id):
        return all_orgs(cursor=cursor, limit=limit)
    if cursor:
        return Page([])  # only one page was ever given out
    return Page(administered_orgs(user_id))
