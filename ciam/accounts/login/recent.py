"""Recent authentication for sensitive changes (ASVS 3.7.1): password, MFA, email.

A view decorated with @recent_auth_required sends a person whose login is older than
CIAM_RECENT_AUTH_SECONDS back to the login page, and returns them afterwards.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import current_app, redirect, request, url_for

from ciam.accounts.sessions.services import current_session
from ciam.db import utcnow


def is_recent(max_age_seconds: int | None = None) -> bool:
    session = current_session()
    if session is None:
        return False
    limit = max_age_seconds or current_app.config["CIAM_RECENT_AUTH_SECONDS"]
    return utcnow() - session.auth_time <= timedelta(seconds=limit)


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_session() is None:
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    wrapper.ciam_auth = "session"  # read by the route-authentication test
    return wrapper


def recent_auth_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not is_recent():
            target = request.full_path.rstrip("?") if request.method == "GET" else request.path
            return redirect(url_for("accounts.login", next=target, reauth=1))
        return view(*args, **kwargs)

    wrapper.ciam_auth = "recent-session"
    return wrapper
