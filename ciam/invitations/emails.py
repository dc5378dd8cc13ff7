"""The invitation email: its text, and its row in the outbox (DESIGN §5.3).

The email is an `email` outbox row written in the same transaction as the invitation,
so a rolled-back request sends nothing and the worker sends it after the commit.
"""

from __future__ import annotations

from ciam.db import utcnow
from ciam.delegation.models import Organization
from ciam.extensions import db
from ciam.invitations.links import link_for
from ciam.invitations.models import Invitation
from ciam.outbox.services import enqueue, new_message


def invitation_email(invitation: Invitation, org: Organization, link: str) -> dict:
    """The `email` outbox payload inviting this person to this organization."""
    hello = f"Hello {invitation.given_name},\n\n" if invitation.given_name else "Hello,\n\n"
    days = max(1, round((invitation.expires_at - utcnow()).total_seconds() / 86400))
    text = (
        f"{hello}you are invited to join {org.name}.\n\n"
        f"Open this link to create your account, or to add {org.name} to the account "
        f"you already have:\n\n{link}\n\n"
        f"The link works once and expires in {days} day(s). If you did not expect this "
        "invitation, ignore this email.\n"
    )
    return {"to": invitation.email, "subject": f"Your invitation to {org.name}", "text": text}


def queue_email(invitation: Invitation, org: Organization, nonce: str, inline: bool) -> str:
    """One `email` outbox row for this invitation, in this transaction.
    Returns the link it carries."""
    link = link_for(invitation, nonce)
    payload = invitation_email(invitation, org, link)
    if inline:
        enqueue("email", payload, aggregate_id=str(invitation.id))
    else:
        # The batch worker adds rows without enqueue(): enqueue flushes once per
        # message to learn its id for inline sending, which a worker does not need,
        # and one flush per chunk is much cheaper than one per invitation.
        db.session.add(new_message("email", payload, aggregate_id=str(invitation.id)))
    invitation.sends += 1
    invitation.last_sent_at = utcnow()
    return link
