"""OpenID Connect provider: Authlib server, grants, keys, discovery, endpoints."""

from flask import Flask


def setup_oidc(app: Flask) -> None:
    from ciam.hotsql import setup_hotsql
    from ciam.oidc import commands, discovery, fastpath, server, views

    setup_hotsql(app)
    server.setup_server(app)
    discovery.setup_discovery(app)
    fastpath.setup_fastpath(app)
    app.register_blueprint(views.bp)
    app.cli.add_command(commands.portals_cli)
    app.cli.add_command(commands.keys_cli)
