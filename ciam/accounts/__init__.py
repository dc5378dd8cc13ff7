"""People: users, passwords, login sessions, the login and account pages."""

from flask import Flask


def setup_accounts(app: Flask) -> None:
    from ciam.accounts import commands, mfa_views, profile_views, security_views, sessions, views

    sessions.setup_sessions(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(profile_views.bp)
    app.register_blueprint(mfa_views.bp)
    app.register_blueprint(security_views.bp)
    app.cli.add_command(commands.users_cli)
