"""Organizations and memberships; delegated administration builds on these."""

from flask import Flask


def setup_delegation(app: Flask) -> None:
    from ciam.delegation import commands

    app.cli.add_command(commands.orgs_cli)
