"""`ciam staff ...`: grant and revoke the support tier (operator only)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ciam.accounts.services import find_by_email
from ciam.clitools import command_transaction, echo_json
from ciam.delegation import staff
from ciam.delegation.models import StaffRole
from ciam.errors import NotFound

staff_cli = AppGroup("staff", help="Support engineers (the support console, /ops/).")


def _user(email: str):
    user = find_by_email(email)
    if user is None:
        raise NotFound(f"No account {email}.")
    return user


@staff_cli.command("grant")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice([r.value for r in StaffRole]), default="support")
def grant_command(email, role):
    """Make an account a support engineer."""
    with command_transaction():
        staff.grant(_user(email), StaffRole(role))
    click.echo(f"{email} is {role} staff")


@staff_cli.command("revoke")
@click.option("--email", required=True)
def revoke_command(email):
    with command_transaction():
        removed = staff.revoke(_user(email))
    click.echo(f"{email} is no longer staff" if removed else f"{email} was not staff")


@staff_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_command(as_json):
    rows = staff.list_staff()
    if as_json:
        echo_json([{"email": user.email, "role": s.role.value} for user, s in rows])
        return
    for user, s in rows:
        click.echo(f"{user.email:40} {s.role.value}")
