"""Business-role catalogue, mapping to portals' app roles, licences and seats."""

from flask import Flask


def setup_roles(app: Flask) -> None:
    from ciam.oidc.commands import portals_cli
    from ciam.oidc.token_claims import register_provider
    from ciam.roles import claims, commands, licence_commands, portal_commands

    register_provider(app, claims.org_claims)  # `org` and `roles` in tokens

    app.cli.add_command(commands.roles_cli)
    app.cli.add_command(licence_commands.licences_cli)
    # `ciam portals app-roles` belongs to the portal register's group (DESIGN §6
    # spelling); the command lives here, beside the catalogue that uses it.
    portals_cli.add_command(portal_commands.app_roles)
    portals_cli.add_command(portal_commands.access)
