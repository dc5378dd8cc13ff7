"""`ciam orgs ...`: create and list organizations."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from ciam.delegation import services
from ciam.errors import CiamError
from ciam.extensions import db

orgs_cli = AppGroup("orgs", help="Create and list organizations.")


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
def list_orgs():
    for org in services.list_orgs():
        click.echo(f"{org.slug:24} {org.status.value:15} {org.name}")
