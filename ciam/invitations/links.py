"""The signed invitation link: making it, reading it, and what its page should ask.

The link is an itsdangerous token of purpose "invitation" (ciam.tokens, DESIGN §5.4)
whose payload names the invitation and a random nonce; the row stores only the
nonce's SHA-256 (DESIGN §5.5). A resend draws a new nonce, so the previous link stops
working; accepting (ciam.invitations.accept) makes the link single-use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import current_app

from ciam.accounts import services as accounts
from ciam.accounts.models import User
from ciam.crypto import hash_secret, random_token, secret_matches
from ciam.delegation.models import Organization, OrgStatus
from ciam.errors import Forbidden
from ciam.extensions import db
from ciam.invitations.errors import InvitationGone
from ciam.invitations.lookup import invited_org, org_of
from ciam.invitations.models import Invitation, InvitationStatus
from ciam.tokens import LinkExpired, LinkInvalid, Purpose, make_token, read_token

_NOT_VALID = "This invitation link is not valid. It may have been replaced by a newer one."

# Why a link that is real cannot be used, by the invitation's effective status.
_GONE = {
    InvitationStatus.accepted: "This invitation has already been used. Sign in instead.",
    InvitationStatus.revoked: "This invitation was withdrawn.",
    InvitationStatus.expired: "This invitation has expired. Ask for a new one.",
}


@dataclass
class LinkView:
    """What the invitation page shows: the invitation, its org, and what to ask."""

    invitation: Invitation
    org: Organization
    # "new": set a password; "sign_in": this email has an account, sign in first;
    # "confirm": signed in as the invited account; "wrong_account": signed in as
    # someone else.
    mode: str
    signed_in_email: str | None = None


def new_nonce(invitation: Invitation) -> str:
    """A fresh nonce for the invitation's link; only its hash is kept on the row, so
    every earlier link of this invitation stops working."""
    nonce = random_token(24)
    invitation.token_hash = hash_secret(nonce)
    return nonce


def link_for(invitation: Invitation, nonce: str) -> str:
    """The link to send. Built from CIAM_ISSUER, never from a Host header, so a forged
    Host cannot make us mail a working link to someone else's site."""
    token = make_token(Purpose.invitation, {"i": str(invitation.id), "n": nonce})
    return f"{current_app.config['CIAM_ISSUER']}/invitations/{token}"


def _signed_payload(token: str) -> dict:
    try:
        # The row's expires_at decides; the signature age is only a backstop.
        return read_token(
            Purpose.invitation, token, max_age=current_app.config["CIAM_INVITATION_TTL"] + 86400
        )
    except LinkExpired as exc:
        raise InvitationGone(_GONE[InvitationStatus.expired]) from exc


def read_link(token: str) -> tuple[Invitation, str]:
    """The invitation a link is for, if it can still be accepted, and the nonce.

    Raises LinkInvalid (400) for a tampered or replaced link, InvitationGone (410)
    for one already used, revoked or expired, Forbidden when the organization no
    longer takes members.
    """
    payload = _signed_payload(token)
    try:
        invitation = db.session.get(Invitation, uuid.UUID(str(payload.get("i"))))
    except ValueError:
        invitation = None
    nonce = payload.get("n")
    if invitation is None or not isinstance(nonce, str):
        raise LinkInvalid(_NOT_VALID)
    if not secret_matches(nonce, invitation.token_hash):
        raise LinkInvalid(_NOT_VALID)
    gone = _GONE.get(invitation.effective_status)
    if gone is not None:
        raise InvitationGone(gone)
    org = org_of(invitation)
    if org is None or org.status != OrgStatus.active:
        raise Forbidden("This organization does not take new members at the moment.")
    return invitation, nonce


def describe_link(token: str, signed_in: User | None) -> LinkView:
    """What the invitation page should ask of this browser."""
    invitation, _ = read_link(token)
    org = invited_org(invitation)
    account = accounts.find_by_email(invitation.email)
    if account is None:
        mode = "new"
    elif signed_in is None:
        mode = "sign_in"
    elif signed_in.id == account.id:
        mode = "confirm"
    else:
        mode = "wrong_account"
    return LinkView(invitation, org, mode, signed_in.email if signed_in else None)
