"""OpenID Connect provider: Authlib server, grants, keys, discovery, endpoints."""

from flask import Flask


def setup_oidc(app: Flask) -> None:
    from ciam.hotsql import setup_hotsql
    from ciam.oidc import authorize, commands, discovery, fastpath, keys, server, views

    setup_hotsql(app)
    server.setup_server(app)
    discovery.setup_discovery(app)
    fastpath.setup_fastpath(app)
    # Outside both fast paths, so the first JWKS and token requests find keys.
    app.wsgi_app = app.extensions["ciam.key_bootstrap"] = keys.KeyBootstrap(app.wsgi_app, app)  # type: ignore[method-assign]
    app.register_blueprint(views.bp)
    authorize.setup_authorize(app)
    app.cli.add_command(commands.portals_cli)
    app.cli.add_command(commands.keys_cli)
