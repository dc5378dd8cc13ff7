"""Business-role catalogue, mapping to portals' app roles, licences and seats."""

from flask import Flask


def setup_roles(app: Flask) -> None:
    from ciam.oidc.commands import portals_cli
    from ciam.roles import commands, licence_commands, portal_commands

    app.cli.add_command(commands.roles_cli)
    app.cli.add_command(licence_commands.licences_cli)
    # `ciam portals app-roles` belongs to the portal register's group (DESIGN §6
    # spelling); the command lives here, beside the catalogue that uses it.
    portals_cli.add_command(portal_commands.app_roles)
