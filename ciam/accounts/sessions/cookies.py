"""The two cookies of a browser: its login session id and its device id.

The session id cookie is `__Host-` prefixed and Secure when the issuer is https,
HttpOnly, SameSite=Lax, and lives as long as a session may. The device cookie is a
long-lived random id (one year, written again at every login) whose SHA-256 names the
browser in `known_devices` (ciam.accounts.sessions.devices).
"""

from __future__ import annotations

import re

from flask import Flask, Response, current_app, g, request

from ciam.crypto import hash_secret, random_token

DEVICE_COOKIE_MAX_AGE = 365 * 86400
_DEVICE_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,100}$")


def cookie_name() -> str:
    if current_app.config["CIAM_SECURE_COOKIES"]:
        return "__Host-ciam_session"
    return "ciam_session"


def device_cookie_name() -> str:
    if current_app.config["CIAM_SECURE_COOKIES"]:
        return "__Host-ciam_device"
    return "ciam_device"


def presented_device_id() -> str | None:
    """The device id (hashed) of the device cookie this browser sent, if it sent a
    well-formed one. Sets no cookie (see browser_device_id)."""
    raw = request.cookies.get(device_cookie_name(), "")
    return hash_secret(raw) if _DEVICE_COOKIE_VALUE.match(raw) else None


def browser_device_id() -> str:
    """This browser's device id (hashed), giving it a device cookie if it has none.
    The cookie is written again at every login, so it lives a year after the last.
    The same for the whole request."""
    cached = g.get("_device_id")
    if cached is not None:
        return cached
    raw = request.cookies.get(device_cookie_name(), "")
    if not _DEVICE_COOKIE_VALUE.match(raw):
        raw = random_token(32)
    g._set_device_cookie = raw
    g._device_id = hash_secret(raw)
    return g._device_id


def _write_device_cookie(response: Response) -> None:
    raw = g.get("_set_device_cookie")
    if not raw:
        return
    response.set_cookie(
        device_cookie_name(),
        raw,
        max_age=DEVICE_COOKIE_MAX_AGE,
        path="/",
        secure=current_app.config["CIAM_SECURE_COOKIES"],
        httponly=True,
        samesite="Lax",
    )


def _write_cookie(response: Response) -> Response:
    _write_device_cookie(response)
    raw = g.get("_set_session_cookie")
    if raw is None:
        return response
    secure = current_app.config["CIAM_SECURE_COOKIES"]
    if raw == "":
        response.delete_cookie(cookie_name(), path="/", secure=secure, httponly=True)
        return response
    response.set_cookie(
        cookie_name(),
        raw,
        max_age=current_app.config["CIAM_SESSION_ABSOLUTE_TIMEOUT"],
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )
    return response


def setup_cookies(app: Flask) -> None:
    app.after_request(_write_cookie)
