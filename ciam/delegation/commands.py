"""`ciam orgs ...`: create, list and configure organizations."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from ciam.clitools import command_transaction, echo_json, echo_pairs
from ciam.delegation import services, settings
from ciam.errors import CiamError
from ciam.extensions import db

orgs_cli = AppGroup("orgs", help="Create, list and configure organizations.")


@orgs_cli.command("create")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--domain", "domains", multiple=True, help="Email domain (repeat).")
@click.option("--crm-account-id")
@click.option("--json", "as_json", is_flag=True)
def create_org(slug, name, domains, crm_account_id, as_json):
    try:
        org = services.create_org(
            slug, name, email_domains=list(domains), crm_account_id=crm_account_id
        )
    except CiamError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    result = {"id": str(org.id), "slug": org.slug, "name": org.name}
    click.echo(json.dumps(result) if as_json else f"created organization {org.slug}")


@orgs_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_orgs(as_json):
    rows = [
        {"slug": org.slug, "status": org.status.value, "name": org.name}
        for org in services.list_orgs()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['slug']:24} {row['status']:15} {row['name']}")


@orgs_cli.command("set")
@click.argument("slug")
@click.option("--mfa-required/--no-mfa-required", default=None)
@click.option("--session-idle-minutes", type=int)
@click.option("--allow-portal", "allowed", multiple=True, help="Client id (repeat); replaces.")
@click.option("--all-portals", is_flag=True, help="Lift the allowed-portal list.")
@click.option("--display-name")
@click.option("--logo-url")
@click.option("--primary-colour")
@click.option("--email-sender-name")
@click.option("--json", "as_json", is_flag=True)
def set_org(slug, allowed, all_portals, as_json, **options):
    """Change an organization's policy and branding (only the options given)."""
    changes = {name: value for name, value in options.items() if value is not None}
    if allowed and all_portals:
        raise click.UsageError("Give --allow-portal or --all-portals, not both.")
    if allowed or all_portals:
        changes["allowed_portals"] = list(allowed)
    with command_transaction():
        org = services.get_org(slug)
        if changes:
            settings.update_settings(org, **changes)
        summary = settings.settings_of(org)
    echo_json(summary) if as_json else echo_pairs(summary)
