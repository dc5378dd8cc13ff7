"""`ciam portals app-roles`: the app roles a portal understands (added to the
portal register's `portals` group by setup_roles)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ciam.clitools import command_transaction, echo_json
from ciam.roles.app_roles import change_app_roles, set_entitlement_required


@click.command("app-roles")
@click.argument("client_id")
@click.option("--add", "added", multiple=True, help="App role to declare (repeat).")
@click.option("--remove", "removed", multiple=True, help="App role to withdraw (repeat).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def app_roles(client_id, added, removed, as_json):
    """Declare (or withdraw) the app roles a portal understands; prints them all."""
    with command_transaction():
        held = change_app_roles(client_id, list(added), list(removed))
    if as_json:
        echo_json({"client_id": client_id, "app_roles": held})
    else:
        click.echo(f"{client_id}: {' '.join(held) or '(no app roles)'}")


@click.command("access")
@click.argument("client_id")
@click.option(
    "--entitlement-required/--open",
    "required",
    default=None,
    help="Only people of an entitled organization holding a seat (or everyone).",
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def access(client_id, required, as_json):
    """Who may sign in to a portal: everyone, or only entitled organizations' people."""
    with command_transaction():
        requires = set_entitlement_required(client_id, required)
    if as_json:
        echo_json({"client_id": client_id, "requires_entitlement": requires})
    else:
        rule = "entitled organizations only" if requires else "open to everyone"
        click.echo(f"{client_id}: {rule}")
