"""Reading invitations, their organizations and memberships from the database.

One at a time for the API and the link (`get_invitation`, `org_of`, `invited_org`); in bulk for
creating many invitations at once (`orgs_named_by`, `pending_invitations`,
`memberships`), so a batch chunk costs a few queries instead of a few per item.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from ciam.accounts.models import User
from ciam.delegation.models import Membership, Organization, OrgStatus
from ciam.errors import Conflict, NotFound
from ciam.extensions import db
from ciam.invitations.errors import UnknownOrg
from ciam.invitations.models import Invitation, InvitationStatus

# Emails per IN (...) list: well under the bound-parameter limits of SQLite and
# PostgreSQL, whatever the size of a batch chunk.
_IN_LIST_SIZE = 500

OrgsBySlug = dict[str, Organization]
OrgsByCrmAccount = dict[str, Organization]


def get_invitation(invitation_id: uuid.UUID | str) -> Invitation:
    """The invitation with this id; NotFound for an unknown or malformed id."""
    try:
        key = invitation_id if isinstance(invitation_id, uuid.UUID) else uuid.UUID(invitation_id)
    except ValueError:
        key = None
    invitation = db.session.get(Invitation, key) if key else None
    if invitation is None:
        raise NotFound("No such invitation.")
    return invitation


def org_of(invitation: Invitation) -> Organization | None:
    return db.session.get(Organization, invitation.org_id)


def invited_org(invitation: Invitation) -> Organization:
    """The organization of an invitation whose org is known to exist: its link was
    read (read_link refuses one without) or it is being resent. org_id is a foreign
    key with ON DELETE CASCADE, so a missing org is a broken database (NoResultFound)."""
    return db.session.get_one(Organization, invitation.org_id)


def orgs_named_by(items: list[dict]) -> tuple[OrgsBySlug, OrgsByCrmAccount]:
    """The organizations the items name, by slug and by CRM account id (two queries)."""
    slugs = {i["org"] for i in items if i.get("org")}
    crm_ids = {i["crm_account_id"] for i in items if i.get("crm_account_id")}
    by_slug: OrgsBySlug = {}
    by_crm: OrgsByCrmAccount = {}
    if slugs:
        for org in db.session.scalars(db.select(Organization).where(Organization.slug.in_(slugs))):
            by_slug[org.slug] = org
    if crm_ids:
        query = db.select(Organization).where(Organization.crm_account_id.in_(crm_ids))
        for org in db.session.scalars(query):
            by_crm[org.crm_account_id] = org
    return by_slug, by_crm


def org_for_item(item: dict, by_slug: OrgsBySlug, by_crm: OrgsByCrmAccount) -> Organization:
    """The active organization one item names; UnknownOrg or Conflict otherwise."""
    if item.get("org"):
        org = by_slug.get(item["org"])
        if org is None:
            raise UnknownOrg(f"No organization {item['org']}.", details={"org": item["org"]})
    else:
        org = by_crm.get(item.get("crm_account_id") or "")
        if org is None:
            raise UnknownOrg(
                f"No organization with CRM account {item.get('crm_account_id')}.",
                details={"crm_account_id": item.get("crm_account_id")},
            )
    if org.status != OrgStatus.active:
        raise Conflict(
            f"Organization {org.slug} is {org.status.value} and takes no new members.",
            code="org_not_active",
        )
    return org


def _in_lists(values: set) -> Iterable[list]:
    ordered = sorted(values)
    for start in range(0, len(ordered), _IN_LIST_SIZE):
        yield ordered[start : start + _IN_LIST_SIZE]


def pending_invitations(org_ids: set, emails: set) -> dict[tuple, Invitation]:
    """Pending invitations for these organizations and addresses, by (org_id, email)."""
    found: dict[tuple, Invitation] = {}
    for part in _in_lists(emails):
        query = db.select(Invitation).where(
            Invitation.status == InvitationStatus.pending,
            Invitation.org_id.in_(org_ids),
            Invitation.email.in_(part),
        )
        for invitation in db.session.scalars(query):
            found[(invitation.org_id, invitation.email)] = invitation
    return found


def memberships(org_ids: set, emails: set) -> set[tuple]:
    """(org_id, email) of the addresses already members of these organizations."""
    found: set[tuple] = set()
    for part in _in_lists(emails):
        query = (
            db.select(Membership.org_id, User.email_normalized)
            .join(User, User.id == Membership.user_id)
            .where(Membership.org_id.in_(org_ids), User.email_normalized.in_(part))
        )
        found.update((row.org_id, row.email_normalized) for row in db.session.execute(query))
    return found
