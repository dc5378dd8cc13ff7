"""Recent authentication for sensitive changes (ASVS 3.7.1): password, MFA, email.

A view decorated with @recent_auth_required sends a person whose login is older than
CIAM_RECENT_AUTH_SECONDS back to the login page, and returns them afterwards.
@login_required sends a request without a live login session to the login page; the
views behind either decorator read their person with signed_in_user(), which cannot be
None there (a recent login is a live session too).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import TYPE_CHECKING, Any, Protocol, cast

from flask import current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue

from ciam.accounts.sessions.services import current_session, current_user
from ciam.db import utcnow

if TYPE_CHECKING:
    from ciam.accounts.models import LoginSession, User


class MarkedView(Protocol):
    """A view wrapped by an authentication decorator, which names its check in
    `ciam_auth` (read by tests/test_route_authentication.py: a route without it fails)."""

    ciam_auth: str

    def __call__(self, *args: Any, **kwargs: Any) -> ResponseReturnValue: ...


def mark_auth(wrapper: Callable[..., ResponseReturnValue], check: str) -> MarkedView:
    """`wrapper`, marked as authenticating its caller by `check`."""
    marked = cast(MarkedView, wrapper)
    marked.ciam_auth = check
    return marked


def is_recent(max_age_seconds: int | None = None) -> bool:
    session = current_session()
    if session is None:
        return False
    limit = max_age_seconds or current_app.config["CIAM_RECENT_AUTH_SECONDS"]
    return utcnow() - session.auth_time <= timedelta(seconds=limit)


def login_required(view: Callable[..., ResponseReturnValue]) -> MarkedView:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if current_session() is None:
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return mark_auth(wrapper, "session")


def signed_in_session() -> LoginSession:
    """The login session of a view behind @login_required or @recent_auth_required,
    which have turned away every request without one."""
    session = current_session()
    if session is None:
        raise RuntimeError("signed_in_session() called outside a view that requires a login")
    return session


def signed_in_user() -> User:
    """The person of a view behind @login_required or @recent_auth_required (see
    signed_in_session)."""
    user = current_user()
    if user is None:
        raise RuntimeError("signed_in_user() called outside a view that requires a login")
    return user


def recent_auth_required(view: Callable[..., ResponseReturnValue]) -> MarkedView:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not is_recent():
            target = request.full_path.rstrip("?") if request.method == "GET" else request.path
            return redirect(url_for("accounts.login", next=target, reauth=1))
        return view(*args, **kwargs)

    return mark_auth(wrapper, "recent-session")
