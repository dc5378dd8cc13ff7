"""Message texts sealed at rest in the outbox (DESIGN §5.5).

An email's text may hold a link that acts as a credential (an invitation, a password
reset, an email verification) and an SMS a one-time code; outbox rows outlive both,
and anyone who reads the table (a backup, a read replica, a support query) would
otherwise read them. So the text of every `email` and `sms` row is stored as
`sealed_text`, a Fernet token under a key derived from CIAM_SECRET_KEY for that kind
(purpose "ciam.outbox.<kind>"), and opened only by the dispatcher, just before the
handler sends it. Everything is sealed, not only the messages known to carry a
secret, so a new message cannot forget to be.

Rows written before sealing existed (a plain `text`) are still sent as they are.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet
from flask import current_app

from ciam.crypto import fernet_for

SEALED_KINDS = frozenset({"email", "sms"})


@lru_cache(maxsize=8)
def _fernet(secret_key: str, kind: str) -> Fernet:
    # HKDF per call cost more than the encryption itself; the key never changes
    # for the life of an app.
    return fernet_for(secret_key, f"ciam.outbox.{kind}")


def _fernet_here(kind: str) -> Fernet:
    return _fernet(current_app.config["SECRET_KEY"], kind)


def seal_payload(kind: str, payload: dict) -> dict:
    """The payload as stored: `text` replaced by `sealed_text` for sealed kinds."""
    if kind not in SEALED_KINDS or "text" not in payload:
        return payload
    sealed = {name: value for name, value in payload.items() if name != "text"}
    sealed["sealed_text"] = _fernet_here(kind).encrypt(payload["text"].encode()).decode()
    return sealed


def open_payload(kind: str, payload: dict) -> dict:
    """The payload as the handler reads it: `sealed_text` opened into `text`.
    Raises cryptography.fernet.InvalidToken when CIAM_SECRET_KEY changed since."""
    if kind not in SEALED_KINDS or "sealed_text" not in payload:
        return payload
    opened = {name: value for name, value in payload.items() if name != "sealed_text"}
    opened["text"] = _fernet_here(kind).decrypt(payload["sealed_text"].encode()).decode()
    return opened
