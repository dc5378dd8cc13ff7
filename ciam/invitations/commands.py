"""`ciam invitations ...`: invite from the command line (operators, demos), expire."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from ciam.errors import CiamError
from ciam.extensions import db
from ciam.invitations import services

invitations_cli = AppGroup("invitations", help="Invite people and expire old invitations.")


@invitations_cli.command("create")
@click.option("--email", required=True)
@click.option("--org", "org_slug", required=True, help="Slug of the organization to join.")
@click.option("--role", "roles", multiple=True, help="Business role (repeat).")
@click.option("--given-name")
@click.option("--family-name")
@click.option("--json", "as_json", is_flag=True)
def create_invitation(email, org_slug, roles, given_name, family_name, as_json):
    """Invite one person and print the link (it is emailed too, through the outbox)."""
    item = {
        "email": email,
        "org": org_slug,
        "business_roles": list(roles),
        "given_name": given_name,
        "family_name": family_name,
    }
    try:
        outcome = services.create_invitation(item, services.OPERATOR)
    except CiamError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    invitation, link = outcome.settled_invitation(), outcome.link
    result = {
        "id": str(invitation.id),
        "email": invitation.email,
        "org": org_slug,
        "status": invitation.effective_status.value,
        "created": outcome.created,
        "link": link,
    }
    if as_json:
        click.echo(json.dumps(result))
    elif link:
        click.echo(f"invited {invitation.email} to {org_slug}: {link}")
    else:
        click.echo(
            f"{invitation.email} already has a pending invitation to {org_slug} "
            f"({invitation.id}); no new link was made"
        )


@invitations_cli.command("expire")
def expire_invitations():
    """Mark pending invitations past their expiry as expired (safe to run from cron)."""
    total = 0
    while True:
        count = services.expire_due()
        db.session.commit()
        total += count
        if count < 1000:
            break
    click.echo(f"{total} invitation(s) expired")
