"""Who may administer whom: the tiers of delegated administration. No `request`.

Tiers, highest first: the platform operator (the CLI, and machine API clients with
`orgs:read`/`orgs:write`), support engineers (Staff, `ciam staff grant`), an
organization's admins (`org_admin`), its user managers (`user_manager`), members.

- Support engineers act on every organization; everyone else only on an
  organization where their own membership grants access and carries an admin right.
- An org admin manages every member and may make members user managers or org
  admins; a user manager manages plain members only, never an admin or an admin
  right. Nobody grants a right they do not hold.
- The last org admin of an organization cannot be removed, suspended or demoted.
- An organization the actor may not administer does not exist for them: callers
  answer 404 (`OrgNotFound`), so its existence does not leak.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ciam.delegation.memberships import grants_access
from ciam.delegation.models import AdminRight, Membership, Organization, Staff, StaffRole
from ciam.errors import CiamError, NotFound
from ciam.extensions import db

RANK = {AdminRight.none: 0, AdminRight.user_manager: 1, AdminRight.org_admin: 2}


class OrgNotFound(NotFound):
    code = "not_found"


class NotAllowed(CiamError):
    code = "forbidden"
    status = 403


class LastAdmin(CiamError):
    code = "last_org_admin"
    status = 409


@dataclass(frozen=True)
class OrgActor:
    """Someone acting on one organization, with the right they act with there."""

    user_id: uuid.UUID | None  # None: the operator (CLI, a machine client)
    org: Organization
    right: AdminRight  # org_admin for support engineers and the operator
    support: bool = False

    @property
    def is_admin(self) -> bool:
        return self.right == AdminRight.org_admin


def is_support(user_id: uuid.UUID) -> bool:
    staff = db.session.get(Staff, user_id)
    return staff is not None and staff.role == StaffRole.support


def _own_right(user_id: uuid.UUID, org: Organization) -> AdminRight:
    membership = db.session.scalar(
        db.select(Membership).where(Membership.user_id == user_id, Membership.org_id == org.id)
    )
    if membership is None or not grants_access(membership):
        return AdminRight.none
    return membership.admin_right


def org_actor(user_id: uuid.UUID, org_slug: str) -> OrgActor:
    """The person `user_id` acting on the organization `org_slug`, if they may
    administer it (user manager or more, or support); else OrgNotFound."""
    org = db.session.scalar(db.select(Organization).where(Organization.slug == org_slug))
    if org is None:
        raise OrgNotFound("No such organization.")
    if is_support(user_id):
        return OrgActor(user_id, org, AdminRight.org_admin, support=True)
    right = _own_right(user_id, org)
    if right == AdminRight.none:
        raise OrgNotFound("No such organization.")
    return OrgActor(user_id, org, right)


def operator_actor(org: Organization) -> OrgActor:
    return OrgActor(None, org, AdminRight.org_admin)


def administered_orgs(user_id: uuid.UUID) -> list[Organization]:
    """The organizations whose console this person may open (the /account link)."""
    rows = db.session.execute(
        db.select(Membership, Organization)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == user_id, Membership.admin_right != AdminRight.none)
        .order_by(Organization.name)
    ).all()
    return [org for membership, org in rows if grants_access(membership)]


def member_of(actor: OrgActor, user_id: uuid.UUID | str) -> Membership:
    """A membership of the actor's organization; NotFound for anyone else's."""
    try:
        wanted = uuid.UUID(str(user_id))
    except ValueError as exc:
        raise NotFound("No such member.") from exc
    membership = db.session.scalar(
        db.select(Membership).where(Membership.org_id == actor.org.id, Membership.user_id == wanted)
    )
    if membership is None:
        raise NotFound("No such member.")
    return membership


def check_may_manage(actor: OrgActor, membership: Membership) -> None:
    """A user manager manages plain members only (not admins, not themselves up)."""
    if actor.is_admin:
        return
    if membership.admin_right != AdminRight.none:
        raise NotAllowed("A user manager cannot change an administrator or a user manager.")


def check_may_grant(actor: OrgActor, right: AdminRight) -> None:
    """Nobody grants a right they do not hold; a user manager grants none."""
    if right != AdminRight.none and (not actor.is_admin or RANK[right] > RANK[actor.right]):
        raise NotAllowed("You cannot give an administration right you do not hold.")


def check_not_last_admin(membership: Membership) -> None:
    """The last org admin of an organization stays one (and stays a member)."""
    if membership.admin_right != AdminRight.org_admin:
        return
    others = db.session.scalar(
        db.select(db.func.count(Membership.id)).where(
            Membership.org_id == membership.org_id,
            Membership.admin_right == AdminRight.org_admin,
            Membership.id != membership.id,
        )
    )
    if not others:
        raise LastAdmin("This is the organization's last administrator: name another first.")
