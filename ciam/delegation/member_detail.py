"""One member as the organization's administrators see them: the membership, the
business roles held, and what they give on each portal (ciam.roles.preview).
No `request`."""

from __future__ import annotations

from dataclasses import dataclass

from ciam.accounts.mfa.factors import has_factor
from ciam.accounts.models import User
from ciam.delegation.models import Membership
from ciam.extensions import db
from ciam.roles.assignments import role_keys_of
from ciam.roles.preview import preview_membership


@dataclass(frozen=True)
class MemberDetail:
    user: User
    membership: Membership
    roles: list[str]
    mfa_enrolled: bool
    preview: dict[str, list[str]]  # {client_id: [app roles]} the membership gives now

    @property
    def locked(self) -> bool:
        return self.user.is_locked


def member_detail(membership: Membership) -> MemberDetail:
    user = db.session.get_one(User, membership.user_id)
    return MemberDetail(
        user=user,
        membership=membership,
        roles=role_keys_of(membership),
        mfa_enrolled=has_factor(user.id),
        preview=preview_membership(membership),
    )
