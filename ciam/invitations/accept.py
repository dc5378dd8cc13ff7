"""Accepting an invitation by its link: as a new account, or as the signed-in one.

Accepting moves the row from pending to accepted with a conditional UPDATE, so a link
works once even when two browsers race (DESIGN §5.4); then the person joins the
organization with the invited business roles.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import CursorResult

from ciam.accounts import passwords
from ciam.accounts import services as accounts
from ciam.accounts.models import User, UserStatus
from ciam.audit.services import ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.crypto import hash_secret
from ciam.db import utcnow
from ciam.delegation.models import AdminRight, Membership, Organization
from ciam.errors import Conflict, Forbidden
from ciam.extensions import db
from ciam.invitations.errors import InvitationGone
from ciam.invitations.links import read_link
from ciam.invitations.lookup import invited_org
from ciam.invitations.models import Invitation, InvitationStatus
from ciam.roles.assignments import assign_role_keys


def _claim(invitation: Invitation, nonce: str) -> None:
    """pending -> accepted, only if still pending, still this link, still in time.

    One conditional UPDATE: of two browsers (or nodes) racing on the same link, the
    second finds no row to change and is refused.
    """
    now = utcnow()
    statement = (
        db.update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.status == InvitationStatus.pending,
            Invitation.token_hash == hash_secret(nonce),
            Invitation.expires_at > now,
        )
        .values(status=InvitationStatus.accepted, accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = cast(CursorResult, db.session.execute(statement)).rowcount
    if claimed != 1:
        raise InvitationGone("This invitation has already been used or is no longer valid.")
    invitation.status = InvitationStatus.accepted
    invitation.accepted_at = now


def _add_membership(
    invitation: Invitation, org: Organization, user: User, ctx: ActorContext
) -> Membership:
    """The user's membership of the org, created with the invited roles, or, if they
    joined meanwhile (another invitation, an admin), with those roles added. Roles go
    through the catalogue and its seats: one unknown or without a seat is not given,
    and the audit event says why."""
    membership = db.session.scalar(
        db.select(Membership).where(Membership.user_id == user.id, Membership.org_id == org.id)
    )
    if membership is not None:
        assign_role_keys(membership, list(invitation.business_roles or []), ctx)
        return membership
    membership = Membership(user_id=user.id, org_id=org.id, admin_right=AdminRight.none)
    db.session.add(membership)
    db.session.flush()
    given, refused = assign_role_keys(membership, list(invitation.business_roles or []), ctx)
    record(
        AuditTag.MEMBERSHIP_CREATED,
        ctx,
        actor_id=user.id,
        org_id=org.id,
        target=str(user.id),
        admin_right=AdminRight.none.value,
        business_roles=given,
        roles_not_given=refused,
        invitation_id=str(invitation.id),
    )
    return membership


def _join(invitation: Invitation, user: User, ctx: ActorContext, new_account: bool) -> Membership:
    org = invited_org(invitation)
    membership = _add_membership(invitation, org, user, ctx)
    invitation.accepted_user_id = user.id
    record(
        AuditTag.INVITATION_ACCEPTED,
        ctx,
        actor_id=user.id,
        client_id=invitation.inviter_client_id,
        org_id=org.id,
        target=str(invitation.id),
        new_account=new_account,
        business_roles=invitation.business_roles,
    )
    db.session.flush()
    return membership


def accept_new_account(
    token: str,
    password: str,
    ctx: ActorContext,
    *,
    given_name: str | None = None,
    family_name: str | None = None,
) -> User:
    """Create the invited person's account and membership from the link.

    The account is active with a verified email: opening the link proved control of
    the mailbox. The password policy runs before the link is used up, so a refused
    password leaves the link working.
    """
    invitation, nonce = read_link(token)
    if accounts.find_by_email(invitation.email) is not None:
        raise Conflict(
            "An account with this email address exists. Sign in to accept the invitation.",
            code="email_taken",
        )
    passwords.check_policy(password, invitation.email)
    _claim(invitation, nonce)
    user = accounts.create_user(
        invitation.email,
        password,
        given_name=given_name or invitation.given_name,
        family_name=family_name or invitation.family_name,
        email_verified=True,
        status=UserStatus.active,
        ctx=ctx,
    )
    user.locale = invitation.locale
    if invitation.crm_contact_id:
        user.crm_contact_id = invitation.crm_contact_id
    _join(invitation, user, ctx, new_account=True)
    return user


def accept_existing_account(token: str, user: User, ctx: ActorContext) -> Organization:
    """The signed-in person joins the organization with the invited account."""
    invitation, nonce = read_link(token)
    if user.email_normalized != invitation.email:
        raise Forbidden(
            "This invitation is for another email address. Sign out, then open the link "
            "again and sign in with the invited address."
        )
    _claim(invitation, nonce)
    _join(invitation, user, ctx, new_account=False)
    return invited_org(invitation)
