"""`ciam users ...`: create people from the command line."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from ciam.accounts import services
from ciam.errors import CiamError
from ciam.extensions import db

users_cli = AppGroup("users", help="Create and inspect users.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, help="Use --password - to read from stdin.")
@click.option("--given-name")
@click.option("--family-name")
@click.option("--org", "org_slug", help="Add the user to this organization.")
@click.option("--json", "as_json", is_flag=True)
def create_user(email, password, given_name, family_name, org_slug, as_json):
    """Create an active user with a verified email."""
    from ciam.delegation import services as orgs

    if password == "-":  # noqa: S105 - the stdin marker, not a password
        # sys.stdin, not click.get_text_stream: deprecated in Click 8.5 (it warns, and
        # goes in 9.0). Under CliRunner sys.stdin is the runner's input.
        password = sys.stdin.readline().rstrip("\n")
    try:
        user = services.create_user(
            email, password, given_name=given_name, family_name=family_name, email_verified=True
        )
        if org_slug:
            orgs.add_member(orgs.get_org(org_slug), user)
    except CiamError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    result = {"id": str(user.id), "email": user.email, "status": user.status.value}
    if org_slug:
        result["org"] = org_slug
    click.echo(json.dumps(result) if as_json else f"created user {user.email} ({user.id})")


@users_cli.command("unlock")
@click.option("--email", required=True)
@click.option("--json", "as_json", is_flag=True)
def unlock_user(email, as_json):
    """Lift a lockout after failed logins (what support and org admins may do)."""
    from ciam.accounts import lockout
    from ciam.audit.services import SYSTEM

    user = services.find_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    was_locked = lockout.unlock(user, SYSTEM, reason="cli")
    db.session.commit()
    if as_json:
        click.echo(json.dumps({"id": str(user.id), "email": user.email, "was_locked": was_locked}))
    elif was_locked:
        click.echo(f"unlocked user {user.email}")
    else:
        click.echo(f"user {user.email} was not locked; failure count cleared")


@users_cli.command("deactivate")
@click.option("--email", required=True)
@click.option("--reason", default="operator", show_default=True)
def deactivate_user(email, reason):
    """Deactivate an account: no sign-in, sessions ended, tokens revoked at once."""
    from ciam.accounts import lifecycle
    from ciam.audit.services import SYSTEM

    user = services.find_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    try:
        sessions, tokens = lifecycle.deactivate(user, SYSTEM, reason)
    except CiamError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"{email} deactivated ({sessions} session(s) ended, {tokens} token(s) revoked)")


@users_cli.command("reactivate")
@click.option("--email", required=True)
def reactivate_user(email):
    """Give a deactivated account back (the person signs in again)."""
    from ciam.accounts import lifecycle
    from ciam.audit.services import SYSTEM

    user = services.find_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    changed = lifecycle.reactivate(user, SYSTEM)
    db.session.commit()
    click.echo(f"{email} reactivated" if changed else f"{email} was not deactivated")
