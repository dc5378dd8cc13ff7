"""`ciam licences ...`: organizations' seats on portals."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ciam.clitools import command_transaction, echo_json
from ciam.delegation import services as orgs
from ciam.roles import licences

licences_cli = AppGroup("licences", help="Organizations' seats on portals.")


class Seats(click.ParamType):
    """A number of seats, or `unlimited` (None)."""

    name = "N|unlimited"

    def convert(self, value, param, ctx):
        if value is None or (isinstance(value, str) and value.lower() == "unlimited"):
            return None
        try:
            seats = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seats or 'unlimited'.", param, ctx)
        if seats < 0:
            self.fail("Seats are 0 or more.", param, ctx)
        return seats


@licences_cli.command("set")
@click.option("--org", "org_slug", required=True)
@click.option("--portal", "client_id", required=True)
@click.option("--seats", type=Seats(), required=True)
@click.option("--json", "as_json", is_flag=True)
def set_licence(org_slug, client_id, seats, as_json):
    """Entitle an organization to a portal with N seats, or unlimited."""
    with command_transaction():
        org = orgs.get_org(org_slug)
        summary = licences.licence_summary(org, licences.set_licence(org, client_id, seats))
    if as_json:
        echo_json(summary)
        return
    click.echo(f"{org_slug} on {client_id}: {summary['seats']} seat(s), {summary['in_use']} in use")
    if summary["over_allocated"]:
        click.echo(
            f"warning: {summary['over_allocated']} more people need a seat than the licence "
            "has; the most recently given lose the portal until fixed."
        )


@licences_cli.command("list")
@click.option("--org", "org_slug", required=True)
@click.option("--json", "as_json", is_flag=True)
def list_licences(org_slug, as_json):
    with command_transaction():
        org = orgs.get_org(org_slug)
        rows = [licences.licence_summary(org, lic) for lic in licences.licences_of(org)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        over = f"  OVER BY {row['over_allocated']}" if row["over_allocated"] else ""
        click.echo(f"{row['portal']:28} {row['in_use']}/{row['seats']}{over}")
    if not rows:
        click.echo(f"{org_slug} holds no licence.")
