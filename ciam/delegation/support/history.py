"""A person's login history and account events as a support engineer reads them: the
person-facing words of their activity page (ciam.accounts.sessions.views), plus who
acted when it was someone else, in which organization, and the reason they gave.
No `request`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from ciam.accounts.models import User
from ciam.accounts.sessions.devices import describe
from ciam.accounts.sessions.views import EVENT_WORDS, UNLOCK_WORDS
from ciam.audit.models import AuditEvent
from ciam.audit.services import events_about_person
from ciam.audit.tags import AuditTag
from ciam.delegation.models import Organization
from ciam.extensions import db

PAGE_SIZE = 25
MAX_PAGE = 200

# The `action` of org:member:action and support:account:action events. The change
# itself has its own event too (account:unlocked, membership:suspended...): this one
# says who asked for it, and why.
ACTION_WORDS = {
    "unlock": "unlock",
    "reset_mfa": "reset two-step verification",
    "password_reset": "send a password reset link",
    "suspend": "suspend the membership",
    "reactivate": "reactivate the membership",
}
ACTION_TAGS = (AuditTag.ORG_MEMBER_ACTION, AuditTag.SUPPORT_ACCOUNT_ACTION)


@dataclass(frozen=True)
class HistoryRow:
    what: str
    at: datetime
    ip: str | None
    device: str | None
    actor: str | None  # who acted, when not the person themself; None: them or the system
    org: str | None  # the organization's slug, for an event recorded there
    reason: str | None  # what a support engineer or an admin typed


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    page: int
    has_more: bool


def words(event: AuditEvent) -> str:
    data = event.data or {}
    if event.tag in ACTION_TAGS:
        action = data.get("action", "")
        who = "Support" if data.get("support") else "Administrator"
        return f"{who} action: {ACTION_WORDS.get(action, action.replace('_', ' '))}"
    if event.tag == AuditTag.ACCOUNT_UNLOCKED:
        return UNLOCK_WORDS.get(data.get("reason", ""), EVENT_WORDS[AuditTag.ACCOUNT_UNLOCKED])
    if event.tag == AuditTag.ACCOUNT_LOGIN_FAILURE and data.get("reason") == "locked":
        return "Sign-in refused: the account was locked"
    return EVENT_WORDS.get(event.tag, event.tag)


def _emails(user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    rows = db.session.execute(db.select(User.id, User.email).where(User.id.in_(user_ids)))
    return {user_id: email for user_id, email in rows}


def _slugs(org_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not org_ids:
        return {}
    query = db.select(Organization.id, Organization.slug).where(Organization.id.in_(org_ids))
    return {org_id: slug for org_id, slug in db.session.execute(query)}


def _reason(event: AuditEvent) -> str | None:
    # Only the free text of an action; other events keep a machine word under "reason".
    return (event.data or {}).get("reason") if event.tag in ACTION_TAGS else None


def history(user: User, page: int = 1) -> HistoryPage:
    """One page (newest first) of the events about `user`: theirs and others' on them."""
    page = min(max(page, 1), MAX_PAGE)
    events = events_about_person(user.id, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    shown = events[:PAGE_SIZE]
    others = {e.actor_id for e in shown if e.actor_id and e.actor_id != user.id}
    emails = _emails(others)
    slugs = _slugs({e.org_id for e in shown if e.org_id})
    rows = [
        HistoryRow(
            what=words(event),
            at=event.created_at,
            ip=event.ip,
            device=describe(event.user_agent) if event.user_agent else None,
            actor=emails.get(event.actor_id) if event.actor_id in others else None,
            org=slugs.get(event.org_id) if event.org_id else None,
            reason=_reason(event),
        )
        for event in shown
    ]
    return HistoryPage(rows, page, len(events) > PAGE_SIZE and page < MAX_PAGE)
