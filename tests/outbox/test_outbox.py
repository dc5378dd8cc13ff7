"""The outbox: nothing leaves before commit, nothing is lost while a peer is down,
and several workers never send one message twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import InvalidToken

from ciam.accounts.profile.services import request_password_reset
from ciam.audit.services import SYSTEM
from ciam.db import utcnow
from ciam.extensions import db
from ciam.outbox import handlers
from ciam.outbox.dispatch import dispatch_due
from ciam.outbox.models import OutboxMessage, OutboxStatus
from ciam.outbox.sealing import open_payload
from ciam.outbox.services import enqueue
from tests.conftest import require_service
from tests.smtp import SMTPServer

EMAIL = {"to": "pat@example.test", "subject": "Hello", "text": "A link: http://x/y"}


@pytest.fixture
def smtp(app, monkeypatch):
    server = SMTPServer().start()
    monkeypatch.setitem(app.config, "CIAM_SMTP_URL", server.url)
    yield server
    server.stop()


def _statuses() -> list[str]:
    return [m.status.value for m in db.session.scalars(db.select(OutboxMessage))]


def test_rolled_back_change_sends_nothing(ctx, smtp):
    """A message enqueued in a transaction that rolls back is gone with it."""
    enqueue("email", EMAIL)
    db.session.rollback()
    assert dispatch_due() == 0
    assert smtp.messages == []


def test_committed_email_is_delivered_over_smtp(ctx, smtp):
    """After commit the worker sends the email through a real SMTP server."""
    enqueue("email", EMAIL)
    db.session.commit()
    assert dispatch_due() == 1
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["To"] == "pat@example.test"
    assert smtp.messages[0]["Subject"] == "Hello"
    assert _statuses() == ["sent"]


def test_smtp_down_keeps_message_and_retries_later(ctx, app, monkeypatch):
    """With the SMTP server down the message stays pending with a later retry time,
    and is delivered once the server is back."""
    server = SMTPServer()  # port reserved, nothing listening yet
    monkeypatch.setitem(app.config, "CIAM_SMTP_URL", server.url)
    enqueue("email", EMAIL)
    db.session.commit()
    dispatch_due()
    message = db.session.scalar(db.select(OutboxMessage))
    assert message.status == OutboxStatus.pending
    assert message.attempts == 1 and "Error" in message.last_error
    assert message.next_attempt_at > utcnow()
    assert dispatch_due() == 0  # not due yet
    server.start()
    try:
        message.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert dispatch_due() == 1
        assert len(server.messages) == 1
        assert _statuses() == ["sent"]
    finally:
        server.stop()


def _stored_payloads() -> str:
    """Every outbox payload as the database holds it (what a dump would show)."""
    rows = db.session.execute(sa.text("SELECT payload FROM outbox_messages")).scalars()
    return " ".join(str(row) for row in rows)


def test_email_text_is_sealed_at_rest_and_sent_in_clear(ctx, smtp, make):
    """DESIGN §5.5: a password reset link is a credential, and outbox rows outlive
    it. The table holds the email's text only sealed; the person gets it in clear."""
    user = make.user()
    request_password_reset(user.email, SYSTEM)
    db.session.commit()

    stored = _stored_payloads()
    assert user.email in stored  # the row is there, addressed
    assert "/reset" not in stored and "http" not in stored
    [message] = db.session.scalars(db.select(OutboxMessage))
    link_text = open_payload("email", message.payload)["text"]
    assert "/reset" in link_text

    assert dispatch_due() == 1
    [sent] = smtp.messages
    assert sent["To"] == user.email
    assert sent.get_payload(decode=True).decode().replace("\r\n", "\n") == link_text
    assert "/reset" not in _stored_payloads()


def test_sealed_text_needs_this_deployments_secret_key(ctx, app, monkeypatch):
    """The seal is keyed by CIAM_SECRET_KEY: a copy of the table opened with another
    key yields nothing."""
    enqueue("email", EMAIL)
    db.session.commit()
    [message] = db.session.scalars(db.select(OutboxMessage))
    assert "http://x/y" not in str(message.payload)
    monkeypatch.setitem(app.config, "SECRET_KEY", "another deployment")
    with pytest.raises(InvalidToken):
        open_payload("email", message.payload)


def test_text_sealed_under_another_key_is_dead_at_once(ctx, app, smtp, monkeypatch):
    """After CIAM_SECRET_KEY changed, a pending sealed text cannot be opened by any
    retry: the row is marked dead with the reason, not retried for hours."""
    enqueue("email", EMAIL)
    db.session.commit()
    monkeypatch.setitem(app.config, "SECRET_KEY", "another deployment")
    assert dispatch_due() == 1
    [message] = db.session.scalars(db.select(OutboxMessage))
    assert message.status == OutboxStatus.dead
    assert "CIAM_SECRET_KEY" in message.last_error
    assert message.attempts == 1
    assert smtp.messages == []


def test_row_written_before_sealing_is_still_sent(ctx, smtp):
    """An email row with a plain `text` (written by a version without sealing,
    pending at the upgrade) is delivered as it is."""
    db.session.add(OutboxMessage(kind="email", payload=EMAIL))
    db.session.commit()
    assert dispatch_due() == 1
    assert "http://x/y" in smtp.messages[0].get_payload(decode=True).decode()


def test_message_is_marked_dead_after_max_attempts(ctx, app, monkeypatch):
    """A message that keeps failing is kept as dead for operators, not dropped."""
    monkeypatch.setitem(app.config, "CIAM_OUTBOX_MAX_ATTEMPTS", 2)
    monkeypatch.setitem(app.config, "CIAM_SMTP_URL", SMTPServer().url)
    enqueue("email", EMAIL)
    db.session.commit()
    for _ in range(2):
        db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
        dispatch_due()
    assert _statuses() == ["dead"]


def test_two_workers_send_each_message_exactly_once(app, database_url, monkeypatch):
    """DESIGN §7: workers claim rows with FOR UPDATE SKIP LOCKED; two draining one
    outbox concurrently deliver every message once."""
    require_service(
        database_url.startswith("postgresql"),
        "row locking needs PostgreSQL (set CIAM_TEST_DATABASE_URL)",
    )
    delivered: list[str] = []
    lock = threading.Lock()

    def record(payload: dict) -> None:
        with lock:
            delivered.append(payload["n"])

    monkeypatch.setitem(handlers.HANDLERS, "test.record", record)
    with app.app_context():
        for n in range(200):
            enqueue("test.record", {"n": str(n)})
        db.session.commit()

    def drain() -> None:
        with app.app_context():
            while dispatch_due(limit=7):
                pass
            db.session.remove()

    workers = [threading.Thread(target=drain) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(delivered, key=int) == [str(n) for n in range(200)]
