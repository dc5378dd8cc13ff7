"""`ciam portals ...` and `ciam keys ...`: the operator's portal register and keys."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from ciam.errors import CiamError
from ciam.extensions import db
from ciam.oidc import keys, portals
from ciam.oidc.models import PortalStatus

portals_cli = AppGroup("portals", help="Register and manage portals (OIDC clients).")
keys_cli = AppGroup("keys", help="Signing keys: list and rotate.")


def _fail(error: CiamError):
    db.session.rollback()
    raise click.ClickException(error.message)


def _print_portal(summary: dict, as_json: bool, secret: str | None = None) -> None:
    if secret:
        summary = {**summary, "client_secret": secret}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    for key, value in summary.items():
        if isinstance(value, list):
            value = " ".join(value) or "-"
        click.echo(f"{key:28} {value}")


@portals_cli.command("create")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "logout_uris", multiple=True)
@click.option("--public", is_flag=True, help="No secret; PKCE S256 required (SPA, mobile).")
@click.option("--first-party", is_flag=True, help="Trusted portal: no consent screen.")
@click.option("--require-pkce", is_flag=True, help="Require PKCE for a confidential portal.")
@click.option("--grant", "grants", multiple=True, type=click.Choice(portals.GRANT_TYPES))
@click.option("--scope", "scopes", multiple=True, help="Allowed scope (repeat).")
@click.option("--owner")
@click.option("--client-id", help="Choose the client id (default: random).")
@click.option(
    "--id-token-alg",
    type=click.Choice(keys.SUPPORTED_ALGS),
    default="RS256",
    show_default=True,
    help="Signing algorithm of this portal's ID tokens.",
)
@click.option("--status", type=click.Choice([s.value for s in PortalStatus]), default="live")
@click.option("--json", "as_json", is_flag=True)
def create_portal(
    name,
    redirect_uris,
    logout_uris,
    public,
    first_party,
    require_pkce,
    grants,
    scopes,
    owner,
    client_id,
    id_token_alg,
    status,
    as_json,
):
    """Register a portal and print its client id and secret (shown once)."""
    try:
        portal, secret = portals.create_portal(
            name,
            list(redirect_uris),
            public=public,
            first_party=first_party,
            require_pkce=require_pkce,
            grant_types=list(grants) or None,
            scopes=list(scopes) or None,
            post_logout_redirect_uris=list(logout_uris),
            owner=owner,
            client_id=client_id,
            id_token_alg=id_token_alg,
            status=PortalStatus(status),
        )
    except CiamError as error:
        _fail(error)
    db.session.commit()
    _print_portal(portals.portal_summary(portal), as_json, secret)


@portals_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_portals(as_json):
    rows = [portals.portal_summary(p) for p in portals.list_portals()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        kind = "public" if row["public"] else "confidential"
        click.echo(f"{row['client_id']:24} {row['status']:10} {kind:12} {row['name']}")


@portals_cli.command("show")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
def show_portal(client_id, as_json):
    try:
        _print_portal(portals.portal_summary(portals.get_portal(client_id)), as_json)
    except CiamError as error:
        _fail(error)


@portals_cli.command("disable")
@click.argument("client_id")
def disable_portal(client_id):
    """Retire a portal: it can no longer obtain tokens; its tokens are revoked."""
    try:
        revoked = portals.retire_portal(client_id)
    except CiamError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Portal {client_id} retired; {revoked} token(s) revoked.")


@keys_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_keys(as_json):
    rows = [
        {
            "kid": row.kid,
            "alg": row.alg,
            "state": state,
            "not_before": row.not_before.isoformat(),
            "publish_until": row.publish_until.isoformat() if row.publish_until else None,
        }
        for row, state in keys.list_keys()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['kid']}  {row['alg']}  {row['state']:8} from {row['not_before']}")


@keys_cli.command("rotate")
@click.option(
    "--delay",
    type=int,
    default=None,
    help="Seconds the new key is published before it signs (default CIAM_KEY_PUBLISH_DELAY).",
)
def rotate_keys(delay):
    """Add the next signing key per algorithm; the old one stays published."""
    created = keys.rotate(delay)
    db.session.commit()
    for row in created:
        click.echo(f"new {row.alg} key {row.kid} signs from {row.not_before.isoformat()}")
