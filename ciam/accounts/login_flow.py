"""What happens after a right password: the second factor when one is due, then the
login session. Views call these; the MFA step plugs in here."""

from __future__ import annotations

from flask import redirect, session
from werkzeug.wrappers import Response

from ciam.accounts.models import User
from ciam.accounts.sessions import start_session
from ciam.web import actor_context, safe_next


def _fresh_flow_cookie() -> None:
    # A fresh flow cookie at login (new CSRF secret), keeping only the marker that
    # lets a `prompt=login` authorization request see this login.
    login_for = session.get("login_for")
    session.clear()
    if login_for:
        session["login_done_for"] = login_for


def complete_login(user: User, amr: list[str], next_url: str | None) -> Response:
    """Open the login session (new id) and continue where the person was going."""
    _fresh_flow_cookie()
    start_session(user, amr, actor_context(user.id))
    return redirect(safe_next(next_url), 303)


def after_password(user: User, next_url: str | None) -> Response:
    """The password was right. Without a second factor due, the login is complete."""
    return complete_login(user, ["pwd"], next_url)
