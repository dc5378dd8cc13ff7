"""Signed links: one itsdangerous serializer per purpose (DESIGN §5.4).

The salt is the purpose, so a token made for one purpose never passes for another.
The payload names the action's row; the row's state (a password hash fingerprint, a
status) is what makes a link single-use, not the signature.
"""

from __future__ import annotations

from enum import StrEnum

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ciam.errors import CiamError


class Purpose(StrEnum):
    password_reset = "password-reset"  # noqa: S105 - a purpose name
    email_verification = "email-verification"
    email_change = "email-change"
    invitation = "invitation"


class LinkExpired(CiamError):
    code = "link_expired"


class LinkInvalid(CiamError):
    code = "link_invalid"


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"ciam.{purpose}")


def make_token(purpose: Purpose, payload: dict) -> str:
    return _serializer(purpose).dumps(payload)


def read_token(purpose: Purpose, token: str, max_age: int) -> dict:
    """The payload, or LinkExpired / LinkInvalid with a message for people."""
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise LinkExpired("This link has expired. Ask for a new one.") from exc
    except BadSignature as exc:
        raise LinkInvalid("This link is not valid.") from exc
    if not isinstance(payload, dict):
        raise LinkInvalid("This link is not valid.")
    return payload
