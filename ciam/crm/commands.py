"""`ciam crm ...`: load the embedded CRM, mirror it now, and see how the mirror is."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ciam.clitools import command_transaction, echo_json
from ciam.crm import importer, mirror
from ciam.crm.models import CrmSyncState
from ciam.crm.protocol import CrmError
from ciam.errors import ConfigError
from ciam.extensions import db

crm_cli = AppGroup("crm", help="The CRM connection: import (embedded CRM), sync, status.")
FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@crm_cli.command("import")
@click.option("--accounts", type=FILE)
@click.option("--contracts", type=FILE)
@click.option("--entitlements", type=FILE)
@click.option("--json", "as_json", is_flag=True)
def import_command(accounts, contracts, entitlements, as_json):
    """Load CSV files (Salesforce column names) into the embedded CRM."""
    if not (accounts or contracts or entitlements):
        raise click.UsageError("Give at least one of --accounts, --contracts, --entitlements.")
    with command_transaction():
        result = importer.import_files(accounts, contracts, entitlements)
    if as_json:
        echo_json(asdict(result))
    else:
        click.echo(
            f"imported {result.accounts} account(s), {result.contracts} contract(s), "
            f"{result.entitlements} entitlement(s); run `ciam crm sync` to mirror them"
        )


def _echo_result(result: mirror.SyncResult, as_json: bool) -> None:
    if as_json:
        echo_json(asdict(result))
        return
    click.echo(
        f"{result.accounts} account(s) mirrored, {result.organizations_created} organization(s) "
        f"created, {result.licences_changed} licence(s) changed"
    )
    for slug in result.ended:
        click.echo(f"  {slug}: no active contract, access paused")
    for slug in result.restored:
        click.echo(f"  {slug}: contract active again, access restored")
    for error in result.errors:
        click.echo(f"  error: {error}", err=True)


@crm_cli.command("sync")
@click.option("--sweep", "full", is_flag=True, help="Re-apply every CRM organization's contracts.")
@click.option("--json", "as_json", is_flag=True)
def sync_command(full, as_json):
    """Mirror the CRM now (what `ciam worker` does every CIAM_CRM_POLL_SECONDS)."""
    try:
        with command_transaction():
            result = mirror.sweep() if full else mirror.sync()
    except CrmError as error:
        db.session.commit()
        raise click.ClickException(f"The CRM could not be read: {error}") from error
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    _echo_result(result, as_json)


@crm_cli.command("status")
@click.option("--json", "as_json", is_flag=True)
def status_command(as_json):
    """The connection, the cursor and the last run."""
    name = current_app.config["CIAM_CRM"]
    state = db.session.get(CrmSyncState, name)
    info = {
        "crm": name,
        "cursor": state.cursor if state else None,
        "last_run_at": state.last_run_at.isoformat() if state and state.last_run_at else None,
        "last_success_at": (
            state.last_success_at.isoformat() if state and state.last_success_at else None
        ),
        "last_error": state.last_error if state else None,
    }
    if as_json:
        echo_json(info)
        return
    for key, value in info.items():
        click.echo(f"{key:16} {value if value is not None else '-'}")
