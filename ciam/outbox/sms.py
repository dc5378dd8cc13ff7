"""Text messages: the outbox handler for kind "sms" and the providers behind it.

CIAM_SMS_PROVIDER picks the provider: `console` (default; prints, for demos and
laptops) or `twilio` (Twilio's Messages API through the `twilio` package). Services
never send directly: they call `enqueue_sms`, which writes an outbox row in the
request's transaction (DESIGN §5.3), so a rolled-back request texts nobody.

The message text holds a one-time code: the outbox seals it at rest (sealing.py).
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from flask import Flask, current_app

from ciam.config import is_loopback_host
from ciam.errors import ConfigError
from ciam.outbox.handlers import handler

PROVIDERS = ("console", "twilio")
TWILIO_SETTINGS = ("CIAM_TWILIO_ACCOUNT_SID", "CIAM_TWILIO_AUTH_TOKEN", "CIAM_TWILIO_FROM")


class SmsProvider(Protocol):
    def send(self, to: str, text: str) -> None:
        """Send `text` to the E.164 number `to`; raise on failure (the outbox retries)."""


class ConsoleSms:
    """Prints the message, so a demo or a developer can read the code."""

    def send(self, to: str, text: str) -> None:
        print(f"--- sms to {to}\n{text}\n---", flush=True)


class TwilioSms:
    """Twilio Programmable Messaging: POST /2010-04-01/Accounts/{sid}/Messages.json."""

    def __init__(self, account_sid: str, auth_token: str, sender: str, base_url: str | None):
        from twilio.rest import Client  # imported only where Twilio is configured

        self.client = Client(account_sid, auth_token)
        if base_url:
            # Another endpoint speaking Twilio's API (a regional proxy, a test double).
            self.client.api.base_url = base_url.rstrip("/")
        self.sender = sender

    def send(self, to: str, text: str) -> None:
        self.client.messages.create(to=to, from_=self.sender, body=text)


def provider() -> SmsProvider:
    cfg = current_app.config
    if cfg["CIAM_SMS_PROVIDER"] == "twilio":
        return TwilioSms(
            cfg["CIAM_TWILIO_ACCOUNT_SID"],
            cfg["CIAM_TWILIO_AUTH_TOKEN"],
            cfg["CIAM_TWILIO_FROM"],
            cfg["CIAM_TWILIO_BASE_URL"],
        )
    return ConsoleSms()


def enqueue_sms(to: str, text: str, aggregate_id: str | None = None):
    from ciam.outbox.services import enqueue

    return enqueue("sms", {"to": to, "text": text}, aggregate_id=aggregate_id)


@handler("sms")
def send_sms(payload: dict) -> None:
    provider().send(payload["to"], payload["text"])


def check_config(app: Flask) -> None:
    """Refuse to start with an SMS setup that cannot work or would leak the token."""
    cfg = app.config
    name = cfg["CIAM_SMS_PROVIDER"]
    if name not in PROVIDERS:
        raise ConfigError(f"CIAM_SMS_PROVIDER must be one of {', '.join(PROVIDERS)}: {name!r}")
    if name != "twilio":
        return
    missing = [key for key in TWILIO_SETTINGS if not cfg.get(key)]
    if missing:
        raise ConfigError(f"CIAM_SMS_PROVIDER=twilio needs {', '.join(missing)}")
    base_url = cfg.get("CIAM_TWILIO_BASE_URL")
    if base_url:
        parts = urlsplit(base_url)
        # The auth token travels in every request's Authorization header.
        if parts.scheme != "https" and not (
            parts.scheme == "http" and is_loopback_host(parts.hostname)
        ):
            raise ConfigError("CIAM_TWILIO_BASE_URL must use https (http only on loopback)")
