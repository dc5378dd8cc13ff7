"""Organizations and memberships."""

from __future__ import annotations

import re
from datetime import datetime

from ciam.accounts.models import User
from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.delegation.memberships import check_window
from ciam.delegation.models import AdminRight, Membership, Organization
from ciam.errors import CiamError, Conflict, NotFound
from ciam.extensions import db

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,78}[a-z0-9]$")


def create_org(
    slug: str,
    name: str,
    *,
    email_domains: list[str] | None = None,
    crm_account_id: str | None = None,
    ctx: ActorContext = SYSTEM,
) -> Organization:
    if not SLUG.match(slug):
        raise CiamError("A slug is 2-80 lower-case letters, digits and dashes.")
    if db.session.scalar(db.select(Organization).where(Organization.slug == slug)):
        raise Conflict(f"Organization {slug} already exists.")
    org = Organization(
        slug=slug,
        name=name,
        crm_account_id=crm_account_id,
        email_domains=[d.lower() for d in email_domains or []],
    )
    db.session.add(org)
    db.session.flush()
    record(AuditTag.ORG_CREATED, ctx, org_id=org.id, target=slug)
    return org


def get_org(slug: str) -> Organization:
    org = db.session.scalar(db.select(Organization).where(Organization.slug == slug))
    if org is None:
        raise NotFound(f"No organization {slug}.")
    return org


def list_orgs() -> list[Organization]:
    return list(db.session.scalars(db.select(Organization).order_by(Organization.slug)))


def add_member(
    org: Organization,
    user: User,
    admin_right: AdminRight = AdminRight.none,
    ctx: ActorContext = SYSTEM,
    *,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> Membership:
    check_window(valid_from, valid_until)
    if db.session.scalar(
        db.select(Membership.id).where(Membership.org_id == org.id, Membership.user_id == user.id)
    ):
        raise Conflict(f"{user.email} is already a member of {org.slug}.", code="already_member")
    membership = Membership(
        user_id=user.id,
        org_id=org.id,
        admin_right=admin_right,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    db.session.add(membership)
    db.session.flush()
    record(
        AuditTag.MEMBERSHIP_CREATED,
        ctx,
        org_id=org.id,
        target=str(user.id),
        admin_right=admin_right.value,
        valid_until=valid_until.isoformat() if valid_until else None,
    )
    return membership
