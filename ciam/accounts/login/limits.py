"""The sign-in's rate limits (NIST 800-63B §5.2.2, ASVS 2.2.1): what they are and
what they count. The login view applies them with flask-limiter's decorators."""

from __future__ import annotations

from flask import current_app, request

from ciam.accounts.services import normalize_email
from ciam.crypto import hash_secret


def login_limit() -> str:
    """Failed sign-ins per client IP (the limiter's default key)."""
    return current_app.config["CIAM_LOGIN_RATE_LIMIT"]


def login_attempts_limit() -> str:
    """Every sign-in attempt per client IP, right or wrong: a ceiling far above
    what an office behind one address needs."""
    return current_app.config["CIAM_LOGIN_ATTEMPTS_RATE_LIMIT"]


def login_failed(response) -> bool:
    """deduct_when for the failure limits: only a refused sign-in counts. A wrong
    password, an unknown or a locked account all answer 401 (one answer for all,
    so the limit reveals nothing about which)."""
    return response.status_code == 401


def login_account_limit() -> str:
    return current_app.config["CIAM_LOGIN_ACCOUNT_RATE_LIMIT"]


def login_account_key() -> str:
    """The submitted email, normalized and hashed (no addresses in Redis keys).

    Keyed by what was typed, not by whether an account exists, so a known and an
    unknown email are throttled alike and the limit reveals nothing.
    """

    email = normalize_email(request.form.get("email", "")[:320])
    return "login-account:" + hash_secret(email)
