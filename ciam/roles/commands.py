"""`ciam roles ...`: the business-role catalogue, its mappings, and previews."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ciam.accounts import services as accounts
from ciam.clitools import command_transaction, echo_json, echo_pairs
from ciam.delegation import services as orgs
from ciam.errors import NotFound
from ciam.roles import catalogue
from ciam.roles.preview import preview, preview_role

roles_cli = AppGroup("roles", help="Business roles: create, map to app roles, list, preview.")


def _org_or_none(slug: str | None):
    return orgs.get_org(slug) if slug else None


@roles_cli.command("create")
@click.option("--key", required=True)
@click.option("--name", required=True)
@click.option("--org", "org_slug", help="An organization's own role (default: global).")
@click.option("--json", "as_json", is_flag=True)
def create_role(key, name, org_slug, as_json):
    """Add a business role to the global catalogue, or to one organization's."""
    with command_transaction():
        role = catalogue.create_role(key, name, _org_or_none(org_slug))
        summary = catalogue.role_summary(role)
    echo_json(summary) if as_json else click.echo(f"created business role {role.key}")


@roles_cli.command("map")
@click.option("--role", "key", required=True)
@click.option("--org", "org_slug", help="Where the role is an organization's own.")
@click.option("--portal", "client_id", required=True)
@click.option(
    "--app-role", "app_roles", multiple=True, help="App role given (repeat); none: unmap."
)
@click.option("--json", "as_json", is_flag=True)
def map_role(key, org_slug, client_id, app_roles, as_json):
    """Set the app roles a business role gives on one portal."""
    with command_transaction():
        role = catalogue.find_role(key, _org_or_none(org_slug))
        given = catalogue.map_role(role, client_id, list(app_roles))
    if as_json:
        echo_json({"role": role.key, "portal": client_id, "app_roles": given})
    else:
        click.echo(f"{role.key} on {client_id}: {' '.join(given) or '(nothing)'}")


@roles_cli.command("list")
@click.option("--org", "org_slug", help="Also the organization's own roles.")
@click.option("--json", "as_json", is_flag=True)
def list_roles(org_slug, as_json):
    with command_transaction():
        rows = [catalogue.role_summary(r) for r in catalogue.list_roles(_org_or_none(org_slug))]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['key']:28} {row['org'] or '(global)':20} {row['name']}")


@roles_cli.command("show")
@click.argument("key")
@click.option("--org", "org_slug")
@click.option("--json", "as_json", is_flag=True)
def show_role(key, org_slug, as_json):
    with command_transaction():
        summary = catalogue.role_summary(catalogue.find_role(key, _org_or_none(org_slug)))
    echo_json(summary) if as_json else echo_pairs(summary)


@roles_cli.command("preview")
@click.option("--org", "org_slug", required=True)
@click.option("--email", help="What this person gets in the organization.")
@click.option("--role", "key", help="What this role gives in the organization.")
@click.option("--json", "as_json", is_flag=True)
def preview_command(org_slug, email, key, as_json):
    """The app roles per portal a person (or a role) gets in an organization."""
    if bool(email) == bool(key):
        raise click.UsageError("Give --email or --role (one of them).")
    with command_transaction():
        org = orgs.get_org(org_slug)
        if email:
            user = accounts.find_by_email(email)
            if user is None:
                raise NotFound(f"No account with email {email}.")
            result = preview(user, org)
        else:
            result = preview_role(catalogue.find_role(key, org), org)
    if as_json:
        echo_json(result)
        return
    for client_id, app_roles in result.items():
        click.echo(f"{client_id:28} {' '.join(app_roles)}")
    if not result:
        click.echo("(no app roles on any portal)")
