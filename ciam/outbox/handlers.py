"""Senders per message kind. Each takes the payload and raises on failure."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from flask import current_app

log = logging.getLogger(__name__)
HANDLERS: dict[str, Callable[[dict], None]] = {}


def handler(kind: str):
    def register(func):
        HANDLERS[kind] = func
        return func

    return register


def build_email(payload: dict) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["CIAM_MAIL_FROM"]
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message.set_content(payload["text"])
    return message


def _smtp(url: str) -> smtplib.SMTP:
    """smtp://user:pass@host:port (STARTTLS when ?starttls=1) or smtps://... (TLS)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port
    client: smtplib.SMTP
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(
            host, port or 465, context=ssl.create_default_context(), timeout=10
        )
    else:
        client = smtplib.SMTP(host, port or 25, timeout=10)
        if "starttls=1" in parts.query:
            client.starttls(context=ssl.create_default_context())
    if parts.username:
        client.login(unquote(parts.username), unquote(parts.password or ""))
    return client


@handler("email")
def send_email(payload: dict) -> None:
    message = build_email(payload)
    url = current_app.config["CIAM_SMTP_URL"]
    if not url:
        # No SMTP configured (demo, laptop): print the message so links can be followed.
        print(
            f"--- email to {payload['to']}: {payload['subject']}\n{payload['text']}\n---",
            flush=True,
        )
        return
    with _smtp(url) as client:
        client.send_message(message)


@handler("invitation.batch")
def create_invitation_batch_chunk(payload: dict) -> None:
    # Imported here: the invitations package imports the outbox, not the other way.
    from ciam.invitations.batch import process_chunk

    process_chunk(payload)
