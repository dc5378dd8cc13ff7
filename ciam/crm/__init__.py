"""The CRM connection: one adapter protocol (protocol.py), the embedded CRM
(`local`, the default), the local mirror of accounts, contracts and entitlements
(mirror.py), and the contract lifecycle that follows it."""

from flask import Flask


def setup_crm(app: Flask) -> None:
    from ciam.crm import commands, mirror
    from ciam.outbox import periodic

    app.cli.add_command(commands.crm_cli)
    periodic.register(app, "crm-sync", app.config["CIAM_CRM_POLL_SECONDS"], mirror.sync_and_commit)
    # No CRM event fires when an end date passes: every contract is looked at daily.
    periodic.register(app, "crm-contract-sweep", 24 * 3600, mirror.sweep_and_commit)
