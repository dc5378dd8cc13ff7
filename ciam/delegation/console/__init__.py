"""The org console at /org/<slug>/: an organization's admins and user managers (and
support engineers) manage its members, invitations, roles and licences and read its
audit trail. Server-rendered, mobile-first, no JavaScript needed."""

from flask import Flask


def setup_console(app: Flask) -> None:
    # Importing a page module adds its routes to the blueprint.
    from ciam.delegation.console import actions, invitations, members, roles, trail  # noqa: F401
    from ciam.delegation.console.views import bp

    app.register_blueprint(bp)
