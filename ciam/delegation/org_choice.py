"""Which organization a sign-in to a portal is for: the authorization endpoint's
organization step (ciam.oidc.authorize) asks `decide`. No `request`.

A portal that requires an entitlement (`ciam portals access ID --entitlement-required`)
gives a code only to a person whose organization is entitled to it (a licence with
seats, allowed by the organization's policy) and who holds one of its seats; the
others see which organization lacks access and whom to ask, and the portal gets
`access_denied`. Any portal may ask for the organization: the `organization=<slug
or id>` parameter or the scope `organization:<slug>` names one; the scope
`organization` asks for the `org` and `roles` claims. A person with one eligible
organization gets it silently; with several, the one they chose for this portal
last time, or a page to choose (again with `prompt=select_account`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ciam.accounts.models import User
from ciam.db import utcnow
from ciam.delegation.memberships import grants_access
from ciam.delegation.models import AdminRight, Membership, Organization, OrganizationChoice
from ciam.extensions import db
from ciam.oidc.token_claims import ORG_SCOPE, asks_for_org
from ciam.roles.licences import entitled, holds_seat


@dataclass(frozen=True)
class OrgDecision:
    """What the organization step does: go on with `org` (None: no organization),
    ask the person to pick one of `choices`, or refuse (`denied`, naming `lacking`
    when the person's organization is the one without access)."""

    org: Organization | None = None
    choices: list[Organization] = field(default_factory=list)
    denied: bool = False
    lacking: Organization | None = None


def named_in(organization_param: str | None, scope: str | None) -> str | None:
    """The organization the request names, by slug or id, if any."""
    if organization_param:
        return organization_param.strip()
    for item in (scope or "").split():
        if item.startswith(ORG_SCOPE + ":"):
            return item.removeprefix(ORG_SCOPE + ":")
    return None


def _memberships(user_id: uuid.UUID) -> list[tuple[Membership, Organization]]:
    rows = db.session.execute(
        db.select(Membership, Organization)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == user_id)
        .order_by(Organization.name)
    ).all()
    return [(m, org) for m, org in rows if grants_access(m)]


def _eligible(membership: Membership, org: Organization, portal) -> bool:
    if not portal.requires_entitlement:
        return True
    return entitled(org, portal.client_id) and holds_seat(membership, portal.client_id)


def _matches(org: Organization, named: str) -> bool:
    return named in (org.slug, str(org.id))


def _remembered(user_id: uuid.UUID, client_id: str) -> uuid.UUID | None:
    choice = db.session.get(OrganizationChoice, (user_id, client_id))
    return choice.org_id if choice is not None else None


def decide(user_id, portal, *, named: str | None, scope: str | None, reselect: bool):
    """The organization step's decision for this person and portal."""
    wanted = portal.requires_entitlement or named is not None or asks_for_org(scope)
    if not wanted:
        return OrgDecision()
    memberships = _memberships(user_id)
    if named is not None:
        found = [(m, org) for m, org in memberships if _matches(org, named)]
        if not found:
            return OrgDecision(denied=True)  # not theirs: existence is not confirmed
        membership, org = found[0]
        if not _eligible(membership, org, portal):
            return OrgDecision(denied=True, lacking=org)
        return OrgDecision(org=org)
    eligible = [org for m, org in memberships if _eligible(m, org, portal)]
    if not eligible:
        if portal.requires_entitlement:
            return OrgDecision(denied=True, lacking=memberships[0][1] if memberships else None)
        return OrgDecision()
    if len(eligible) == 1:
        return OrgDecision(org=eligible[0])
    remembered = None if reselect else _remembered(user_id, portal.client_id)
    chosen = [org for org in eligible if org.id == remembered]
    return OrgDecision(org=chosen[0]) if chosen else OrgDecision(choices=eligible)


def choose(user_id, portal, org_id: str | None, choices: list[Organization]) -> Organization:
    """The person picked `org_id` on the page: one of `choices`, remembered for the
    portal. ValueError for anything else (a tampered form)."""
    picked = [org for org in choices if str(org.id) == (org_id or "")]
    if not picked:
        raise ValueError("not one of the choices")
    choice = db.session.get(OrganizationChoice, (user_id, portal.client_id))
    if choice is None:
        choice = OrganizationChoice(user_id=user_id, client_id=portal.client_id)
        db.session.add(choice)
    choice.org_id, choice.chosen_at = picked[0].id, utcnow()
    return picked[0]


def admins_of(org: Organization) -> list[str]:
    """Whom to ask for access: the names (else emails) of the organization's admins."""
    rows = db.session.execute(
        db.select(User.given_name, User.family_name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org.id, Membership.admin_right == AdminRight.org_admin)
        .order_by(User.email)
        .limit(5)
    ).all()
    return [" ".join(p for p in (given, family) if p) or email for given, family, email in rows]
