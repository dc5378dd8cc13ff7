"""Sending due outbox messages: by `ciam worker`, or inline after a request commits.

Workers claim rows with SELECT ... FOR UPDATE SKIP LOCKED (DESIGN §7), so several
workers on several machines never send the same message twice: a row being sent is
locked, and other workers skip it. (SQLite has no row locks; run one worker there.)
"""

from __future__ import annotations

import logging
from datetime import timedelta

from cryptography.fernet import InvalidToken
from flask import Flask, current_app, g

from ciam.db import utcnow
from ciam.extensions import db
from ciam.outbox.handlers import HANDLERS
from ciam.outbox.models import OutboxMessage, OutboxStatus
from ciam.outbox.sealing import open_payload

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=6)


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** (attempts - 1)), MAX_BACKOFF)


def _deliver(message: OutboxMessage) -> None:
    message.attempts += 1
    try:
        payload = open_payload(message.kind, message.payload)
    except InvalidToken:
        # Sealed under another CIAM_SECRET_KEY: no retry can open it.
        _give_up(message, "the text was sealed under another CIAM_SECRET_KEY")
        return
    try:
        HANDLERS[message.kind](payload)
    except Exception as exc:  # any failure is retried later, never lost
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if message.attempts >= current_app.config["CIAM_OUTBOX_MAX_ATTEMPTS"]:
            _give_up(message, error)
        else:
            message.last_error = error
            message.next_attempt_at = utcnow() + _backoff(message.attempts)
        return
    message.status = OutboxStatus.sent
    message.sent_at = utcnow()
    message.last_error = None


def _give_up(message: OutboxMessage, error: str) -> None:
    message.status = OutboxStatus.dead
    message.last_error = error
    log.error("outbox message %s is dead: %s", message.id, error)


def dispatch_due(limit: int = 50) -> int:
    """Send up to `limit` due messages in one transaction. Returns how many were tried."""
    query = (
        db.select(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.pending, OutboxMessage.next_attempt_at <= utcnow()
        )
        .order_by(OutboxMessage.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    messages = list(db.session.scalars(query))
    for message in messages:
        _deliver(message)
    db.session.commit()
    return len(messages)


def _dispatch_after_request(error: BaseException | None) -> None:
    # Inline mode (demo, small installs): once the request committed, send what it
    # wrote. A failure leaves the row pending for the next request or a worker.
    if error is not None or not g.pop("ciam_outbox_ids", None):
        return
    try:
        dispatch_due()
    except Exception:
        db.session.rollback()
        log.exception("inline outbox dispatch failed; messages stay pending")


def setup_inline_dispatch(app: Flask) -> None:
    if app.config["CIAM_OUTBOX_INLINE"]:
        app.teardown_request(_dispatch_after_request)
