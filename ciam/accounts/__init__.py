"""People: users, passwords and lockout here; by sub-domain below.

- login/: the sign-in flow (password, then the steps a login needs), its pages,
  the acr/amr it asserts, recent authentication for sensitive changes;
- mfa/: second factors (TOTP, SMS codes, recovery codes) and their pages;
- profile/: the person's own details, email changes, password reset and change;
- sessions/: server-side login sessions, devices, the sessions and activity pages.
"""

from flask import Flask


def setup_accounts(app: Flask) -> None:
    from ciam.accounts import commands
    from ciam.accounts.login import views as login_views
    from ciam.accounts.mfa import views as mfa_views
    from ciam.accounts.profile import views as profile_views
    from ciam.accounts.sessions import cookies
    from ciam.accounts.sessions import views as sessions_views

    cookies.setup_cookies(app)
    app.register_blueprint(login_views.bp)
    app.register_blueprint(profile_views.bp)
    app.register_blueprint(mfa_views.bp)
    app.register_blueprint(sessions_views.bp)
    app.cli.add_command(commands.users_cli)
