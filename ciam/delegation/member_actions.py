"""What an organization's admins, its user managers, support engineers and the
operator do to its members: one service per action, each checking the actor's
right (ciam.delegation.permissions) and audited with the actor, the organization
and, for support, the reason typed. The org console, the support console and the
REST API all call these. No `request`.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import CursorResult

from ciam.accounts import lifecycle, lockout
from ciam.accounts.mfa.models import MfaFactor, RecoveryCode
from ciam.accounts.models import User
from ciam.accounts.profile.services import RESETTABLE, request_password_reset
from ciam.audit.services import ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.delegation import memberships
from ciam.delegation.models import AdminRight, Membership
from ciam.delegation.permissions import (
    NotAllowed,
    OrgActor,
    check_may_grant,
    check_may_manage,
    check_not_last_admin,
    is_support,
)
from ciam.errors import CiamError
from ciam.extensions import db
from ciam.oidc.models import Token
from ciam.oidc.token_store import revoke_where
from ciam.roles import assignments, catalogue


def _person(membership: Membership) -> User:
    return db.session.get_one(User, membership.user_id)


def _audit(tag: AuditTag, actor: OrgActor, membership: Membership, ctx, reason, **data) -> None:
    if reason:
        data["reason"] = reason[:500]
    if actor.support:
        data["support"] = True
    record(tag, ctx, org_id=actor.org.id, target=str(membership.user_id), **data)


def _remove_second_factors(user_id) -> int:
    """Every second factor and recovery code of the person (a lost phone); returns
    how many factors went. They set one up again where one is required."""
    removed = db.session.execute(db.delete(MfaFactor).where(MfaFactor.user_id == user_id))
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    return cast(CursorResult, removed).rowcount


def revoke_org_tokens(membership: Membership) -> int:
    """The person's tokens issued for this organization stop working at once, on
    every node (each userinfo, introspection and refresh reads the row)."""
    return revoke_where(Token.user_id == membership.user_id, Token.org_id == membership.org_id)


def suspend(actor: OrgActor, membership: Membership, ctx: ActorContext, reason=None) -> int:
    """Suspend the membership and revoke its tokens; returns how many were revoked."""
    check_may_manage(actor, membership)
    check_not_last_admin(membership)
    memberships.suspend(membership, ctx)
    revoked = revoke_org_tokens(membership)
    _audit(AuditTag.ORG_MEMBER_ACTION, actor, membership, ctx, reason, action="suspend")
    return revoked


def reactivate(actor: OrgActor, membership: Membership, ctx: ActorContext, reason=None) -> None:
    check_may_manage(actor, membership)
    memberships.reactivate(membership, ctx)
    _audit(AuditTag.ORG_MEMBER_ACTION, actor, membership, ctx, reason, action="reactivate")


def remove(actor: OrgActor, membership: Membership, ctx: ActorContext, reason=None) -> int:
    """Take the person out of the organization (roles and seats go with it)."""
    check_may_manage(actor, membership)
    check_not_last_admin(membership)
    revoked = revoke_org_tokens(membership)
    _audit(AuditTag.ORG_MEMBER_REMOVED, actor, membership, ctx, reason, tokens_revoked=revoked)
    person = _person(membership)
    db.session.delete(membership)
    db.session.flush()
    if not db.session.scalar(db.select(Membership.id).where(Membership.user_id == person.id)):
        # DESIGN §3: removed from all organizations, the account is deactivated.
        lifecycle.deactivate(person, ctx, "removed from every organization")
    return revoked


def unlock(actor: OrgActor, membership: Membership, ctx: ActorContext, reason=None) -> bool:
    check_may_manage(actor, membership)
    was_locked = lockout.unlock(
        _person(membership), ctx, reason="support" if actor.support else "org_admin"
    )
    _audit(AuditTag.ORG_MEMBER_ACTION, actor, membership, ctx, reason, action="unlock")
    return was_locked


def reset_mfa(actor: OrgActor, membership: Membership, ctx: ActorContext, reason=None) -> int:
    """Remove every second factor and recovery code (a lost phone); the person sets
    one up again at their next sign-in where it is required."""
    check_may_manage(actor, membership)
    count = _remove_second_factors(membership.user_id)
    _audit(AuditTag.ORG_MEMBER_ACTION, actor, membership, ctx, reason, action="reset_mfa")
    return count


def send_password_reset(
    actor: OrgActor, membership: Membership, ctx: ActorContext, reason=None
) -> None:
    check_may_manage(actor, membership)
    request_password_reset(_person(membership).email, ctx)
    _audit(AuditTag.ORG_MEMBER_ACTION, actor, membership, ctx, reason, action="password_reset")


def assign_role(actor: OrgActor, membership: Membership, key: str, ctx: ActorContext) -> None:
    """Give a business role of the catalogue (seats allowing)."""
    check_may_manage(actor, membership)
    assignments.assign_role(membership, catalogue.find_role(key, actor.org), ctx)


def remove_role(actor: OrgActor, membership: Membership, key: str, ctx: ActorContext) -> bool:
    check_may_manage(actor, membership)
    return assignments.remove_role(membership, catalogue.find_role(key, actor.org), ctx)


def set_admin_right(
    actor: OrgActor, membership: Membership, right: AdminRight, ctx: ActorContext
) -> None:
    """Make a member a user manager or an org admin, or take the right away."""
    check_may_manage(actor, membership)
    check_may_grant(actor, right)
    if right != AdminRight.org_admin:
        check_not_last_admin(membership)
    if membership.admin_right == right:
        return
    before = membership.admin_right
    membership.admin_right = right
    db.session.flush()
    _audit(
        AuditTag.ORG_MEMBER_RIGHT_CHANGED,
        actor,
        membership,
        ctx,
        None,
        before=before.value,
        after=right.value,
    )


# --- Support: account-level actions -------------------------------------------------
# Unlocking, resetting second factors and sending a reset link act on the account
# itself, not on one membership: a locked person is locked in every organization.
# Only support engineers take them from a console (an org admin's reach ends at their
# organization's members: the per-membership actions above). `ctx.actor_id` is the
# engineer, and the reason they typed is required and kept with the event.

REASON_MAX = 500


class ReasonRequired(CiamError):
    code = "reason_required"


def check_support_action(ctx: ActorContext, reason: str | None) -> str:
    """The reason, stripped; NotAllowed unless `ctx.actor_id` is a support engineer,
    ReasonRequired for an empty or overlong reason."""
    if ctx.actor_id is None or not is_support(ctx.actor_id):
        raise NotAllowed("Only support engineers act on an account as a whole.")
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise ReasonRequired(f"Type the reason for this action ({REASON_MAX} characters at most).")
    return reason


def _support_audit(user: User, ctx: ActorContext, reason: str, action: str, **data) -> None:
    record(
        AuditTag.SUPPORT_ACCOUNT_ACTION,
        ctx,
        target=str(user.id),
        action=action,
        reason=reason,
        support=True,
        **data,
    )


def support_unlock(user: User, ctx: ActorContext, reason: str | None) -> bool:
    """Lift the lock (and forget the failures); True if the account was locked."""
    reason = check_support_action(ctx, reason)
    was_locked = lockout.unlock(user, ctx, reason="support")
    _support_audit(user, ctx, reason, "unlock", was_locked=was_locked)
    return was_locked


def support_reset_mfa(user: User, ctx: ActorContext, reason: str | None) -> int:
    """Remove every second factor and recovery code (a lost phone); returns how many
    factors went. The person sets one up again where it is required."""
    reason = check_support_action(ctx, reason)
    count = _remove_second_factors(user.id)
    _support_audit(user, ctx, reason, "reset_mfa", factors_removed=count)
    return count


def support_send_password_reset(user: User, ctx: ActorContext, reason: str | None) -> bool:
    """Email the person a reset link; False (nothing sent) when their account may not
    reset its password (suspended, deactivated...), which the engineer is told."""
    reason = check_support_action(ctx, reason)
    sendable = user.status in RESETTABLE
    if sendable:
        request_password_reset(user.email, ctx)
    _support_audit(user, ctx, reason, "password_reset", sent=sendable)
    return sendable


def add_member(
    actor: OrgActor,
    email: str,
    ctx: ActorContext,
    *,
    admin_right: AdminRight = AdminRight.none,
    role_keys: list[str] | tuple[str, ...] = (),
) -> Membership:
    """Add an existing account to the organization, with roles (seats allowing) and
    an admin right. Org admins and the operator; a user manager invites instead.
    A refusal part-way (no seat left for the third role) raises: the caller's
    transaction is rolled back, so the member is added with all the roles or not."""
    # Imported here: kept additive to a module other consoles edit too.
    from ciam.accounts.services import find_by_email
    from ciam.delegation.permissions import NotAllowed
    from ciam.delegation.services import add_member as add_membership
    from ciam.errors import NotFound

    if not actor.is_admin:
        raise NotAllowed("Only an organization admin adds members; invite them instead.")
    check_may_grant(actor, admin_right)
    user = find_by_email(email)
    if user is None:
        raise NotFound("No account with this email address: invite them.", code="no_account")
    membership = add_membership(actor.org, user, admin_right, ctx)
    for key in dict.fromkeys(role_keys):
        assignments.assign_role(membership, catalogue.find_role(key, actor.org), ctx)
    return membership


def update_member(
    actor: OrgActor,
    membership: Membership,
    ctx: ActorContext,
    *,
    status: str | None = None,
    admin_right: AdminRight | None = None,
    reason: str | None = None,
) -> None:
    """Change a membership's admin right and/or status (active, suspended), each
    with its own checks; what is unchanged is not touched nor audited."""
    check_may_manage(actor, membership)
    if admin_right is not None:
        set_admin_right(actor, membership, admin_right, ctx)
    if status is None or status == membership.status.value:
        return
    if status == "suspended":
        suspend(actor, membership, ctx, reason)
    else:
        reactivate(actor, membership, ctx, reason)
