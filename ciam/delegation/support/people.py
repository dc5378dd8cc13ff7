"""What the support console shows about one person and one organization: account and
lock state, second factors, every membership; an organization's status and licences.
Read-only; the actions are ciam.delegation.member_actions. No `request`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ciam.accounts.mfa.factors import describe_factor, factors
from ciam.accounts.mfa.recovery import remaining_recovery_codes
from ciam.accounts.models import User
from ciam.delegation.memberships import grants_access
from ciam.delegation.models import Membership, Organization
from ciam.errors import NotFound
from ciam.extensions import db
from ciam.roles.assignments import role_keys_of
from ciam.roles.licences import licence_summary, licences_of, over_allocation


@dataclass(frozen=True)
class MembershipFacts:
    membership: Membership
    org: Organization
    roles: list[str]
    grants_access: bool  # active, inside its window, in an active organization


@dataclass(frozen=True)
class PersonFacts:
    user: User
    factors: list[str]  # each second factor, described for people
    recovery_codes_left: int
    memberships: list[MembershipFacts]


@dataclass(frozen=True)
class OrgFacts:
    org: Organization
    licences: list[dict]  # ciam.roles.licences.licence_summary
    over_allocated: dict[str, int]


def get_person(user_id: uuid.UUID) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such person.")
    return user


def get_org(slug: str) -> Organization:
    org = db.session.scalar(db.select(Organization).where(Organization.slug == slug))
    if org is None:
        raise NotFound("No such organization.")
    return org


def memberships_of(user: User) -> list[MembershipFacts]:
    """Every membership of the person, with its roles and whether it grants access."""
    rows = db.session.execute(
        db.select(Membership, Organization)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == user.id)
        .order_by(Organization.slug)
    ).all()
    return [MembershipFacts(m, org, role_keys_of(m), grants_access(m)) for m, org in rows]


def person_facts(user: User) -> PersonFacts:
    return PersonFacts(
        user=user,
        factors=[describe_factor(factor) for factor in factors(user.id)],
        recovery_codes_left=remaining_recovery_codes(user.id),
        memberships=memberships_of(user),
    )


def org_facts(org: Organization) -> OrgFacts:
    return OrgFacts(
        org=org,
        licences=[licence_summary(org, licence) for licence in licences_of(org)],
        over_allocated=over_allocation(org),
    )
