"""Organizations and memberships; delegated administration builds on these."""

from flask import Flask


def setup_delegation(app: Flask) -> None:
    from ciam.delegation import commands, member_commands, memberships, staff_commands
    from ciam.delegation.console import setup_console
    from ciam.delegation.support import views as support_views
    from ciam.outbox import periodic

    app.register_blueprint(support_views.bp)

    app.cli.add_command(commands.orgs_cli)
    app.cli.add_command(member_commands.members_cli)
    # DESIGN §6 spells it `ciam orgs add-member`; the issue `ciam members add`.
    commands.orgs_cli.add_command(member_commands.add_member, "add-member")
    app.cli.add_command(member_commands.sweep)
    app.cli.add_command(staff_commands.staff_cli)
    periodic.register(app, "membership-sweep", 24 * 3600, memberships.sweep_and_commit)
    setup_console(app)
