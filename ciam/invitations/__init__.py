"""Invitations: the CRM's REST API (ciam.api.invitations), batches processed by the
outbox worker, the emails, and the page where people accept."""

from flask import Flask


def setup_invitations(app: Flask) -> None:
    from ciam.invitations import commands, models, views  # noqa: F401  (tables known)

    app.register_blueprint(views.bp)
    app.cli.add_command(commands.invitations_cli)
