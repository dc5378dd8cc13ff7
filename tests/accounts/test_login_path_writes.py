"""The password login's writes: the session, device, user, audit and outbox rows go
together (ciam.accounts.sessions.writes) in the request's one transaction, on PostgreSQL
in one pipelined round trip, elsewhere one by one; a failure writes none of them."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from ciam.accounts.models import KnownDevice, LoginSession, User
from ciam.accounts.sessions import devices, writes
from ciam.accounts.sessions import services as sessions
from ciam.audit.models import AuditEvent
from ciam.audit.services import INSERT_EVENT, SYSTEM, event_values, record, take_unwritten
from ciam.audit.tags import AuditTag
from ciam.db import utcnow
from ciam.extensions import db
from ciam.outbox.models import OutboxMessage
from ciam.outbox.sealing import open_payload
from ciam.outbox.services import INSERT_MESSAGE, message_values
from tests.accounts.security_support import FIREFOX_LINUX, SAFARI_IPHONE, login, tags
from tests.conftest import require_service


@pytest.fixture(params=["pipeline", "one_by_one"])
def write_mode(request, monkeypatch):
    """Each test runs both ways on PostgreSQL (the SQLite run has only the second)."""
    if request.param == "one_by_one":
        monkeypatch.setattr(writes, "_PIPELINE_SUPPORTED", False)
    return request.param


def _counts() -> dict[str, int]:
    db.session.rollback()  # a fresh look at what is committed
    return {
        model.__tablename__: db.session.scalar(db.select(db.func.count()).select_from(model))
        for model in (LoginSession, KnownDevice, AuditEvent, OutboxMessage)
    }


def test_login_from_a_new_device_writes_every_row(app, client, make, ctx, write_mode):
    """A second sign-in from a new browser writes, in one commit: the session, the
    device, last_login_at, the outbox email and the events password:verified,
    login:success and device:new in that order, with their columns as record() sets."""
    user = make.user()
    assert login(client, user.email, ua=FIREFOX_LINUX).status_code == 303
    phone = app.test_client()
    before = _counts()
    assert login(phone, user.email, ua=SAFARI_IPHONE, ip="198.51.100.7").status_code == 303
    after = _counts()
    assert {name: after[name] - before[name] for name in after} == {
        "login_sessions": 1,
        "known_devices": 1,
        "audit_events": 3,
        "outbox_messages": 1,
    }
    assert tags(user.id)[-3:] == [
        "account:password:verified",
        "account:login:success",
        "account:device:new",
    ]
    new_device = db.session.scalars(
        db.select(AuditEvent)
        .where(AuditEvent.tag == "account:device:new")
        .order_by(AuditEvent.created_at)
    ).all()[-1]
    assert new_device.ip == "198.51.100.7" and new_device.user_agent == SAFARI_IPHONE
    assert new_device.data == {"device": "Safari on iPhone", "first_login": False}
    success = db.session.scalars(
        db.select(AuditEvent)
        .where(AuditEvent.tag == "account:login:success")
        .order_by(AuditEvent.created_at)
    ).all()[-1]
    assert success.actor_id == user.id and success.data == {"amr": ["pwd"]}
    session = db.session.scalars(
        db.select(LoginSession).order_by(LoginSession.created_at.desc())
    ).first()
    assert session.amr == ["pwd"] and session.user_agent == SAFARI_IPHONE
    message = db.session.scalars(db.select(OutboxMessage)).one()
    assert message.kind == "email" and message.payload["to"] == user.email
    # Written by the login's one batch of writes (message_values), sealed all the same.
    assert "text" not in message.payload
    assert "Safari on iPhone" in open_payload("email", message.payload)["text"]
    # Sent by the inline dispatch after the commit: the request noted it as enqueued.
    assert message.status == "sent" and message.aggregate_id == str(user.id)
    assert db.session.get(User, user.id).last_login_at == session.auth_time


def test_a_failing_write_leaves_no_row_of_the_login(app, client, make, ctx, monkeypatch):
    """One transaction: when the last write of the batch fails (here two audit rows
    with one id), the session, device, user and outbox writes before it are gone too,
    and the browser is not signed in."""
    user = make.user()
    assert login(client, user.email, ua=FIREFOX_LINUX).status_code == 303
    db.session.rollback()
    last_login = db.session.get(User, user.id).last_login_at
    assert last_login is not None
    fixed_id = uuid.uuid4()

    def same_id(*args, **kwargs):
        return {**event_values(*args, **kwargs), "id": fixed_id}

    monkeypatch.setattr(sessions, "event_values", same_id)
    monkeypatch.setattr(devices, "event_values", same_id)
    monkeypatch.setattr(app, "testing", False)  # a 500 page, as in production
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    phone = app.test_client()
    before = _counts()
    response = login(phone, user.email, ua=SAFARI_IPHONE)
    assert response.status_code == 500
    assert _counts() == before
    assert db.session.get(User, user.id).last_login_at == last_login
    assert phone.get("/account").status_code == 302  # no session


def test_write_together_raises_as_sqlalchemy_and_rolls_back(ctx, make, write_mode):
    """A failed batch raises SQLAlchemy's IntegrityError (as an ORM flush would) and
    the transaction's rollback drops the rows the batch wrote before the failure."""
    before = _counts()
    row = event_values(AuditTag.ORG_CREATED, SYSTEM)
    message = message_values("email", {"to": "a@example.test"})
    with pytest.raises(IntegrityError):
        writes.write_together([(INSERT_MESSAGE, [message]), (INSERT_EVENT, [row, row])])
    db.session.rollback()
    assert _counts() == before


def test_write_together_runs_in_order_and_commits_with_the_request(ctx, write_mode):
    """Rows of several statements, several rows per statement, JSON columns included,
    read back as written once the transaction commits."""
    rows = [
        event_values(AuditTag.ORG_CREATED, SYSTEM, n=1),
        event_values(AuditTag.PORTAL_CREATED, SYSTEM, items=[1]),
    ]
    message = message_values("email", {"to": "b@example.test", "n": [1, 2]}, "agg")
    writes.write_together([(INSERT_EVENT, rows), (INSERT_MESSAGE, [message])])
    db.session.commit()
    written = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.created_at)).all()
    assert [(e.tag, e.data) for e in written] == [
        ("org:created", {"n": 1}),
        ("portal:created", {"items": [1]}),
    ]
    stored = db.session.get(OutboxMessage, message["id"])
    assert stored.payload == {"to": "b@example.test", "n": [1, 2]}
    assert stored.aggregate_id == "agg" and stored.next_attempt_at <= utcnow()


def test_postgresql_login_sends_its_writes_in_one_pipeline(app, client, make, ctx):
    """On PostgreSQL the POST /login runs one statement through SQLAlchemy (the person
    and the login's questions about them, in one SELECT); every write goes in the
    pipeline, and the commit has no ORM flush left to do."""
    require_service(db.engine.dialect.name == "postgresql", "pipelines need PostgreSQL")
    user = make.user()
    email = user.email  # loaded here, not by the test's session during the login
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement.split(None, 1)[0])

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        # The login helper GETs the form (no SQL), then POSTs it.
        assert login(client, email, ua=FIREFOX_LINUX).status_code == 303
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert statements == ["SELECT"]
    assert tags(user.id)[-3:] == [
        "account:password:verified",
        "account:login:success",
        "account:device:new",
    ]


def test_a_failed_login_sets_no_device_cookie(client, make):
    """The user lookup reads the device the browser presented without giving it one:
    as before, only a right password leads to a device cookie."""
    user = make.user()
    response = login(client, user.email, password="not the password at all")
    assert response.status_code == 401
    assert "ciam_device" not in response.headers.get("Set-Cookie", "")
    assert login(client, "nobody@example.test").status_code == 401
    assert client.get_cookie("ciam_device", domain="127.0.0.1") is None


def test_unwritten_events_move_into_the_batch_in_order(ctx, write_mode):
    """Events recorded earlier in the request (the password check's) leave the ORM
    session for the login's own INSERT, in their order, with the ORM's defaults for
    one built without record(); nothing is written twice at the commit."""
    record(AuditTag.ORG_CREATED, SYSTEM)
    db.session.add(AuditEvent(tag="portal:created", data=None))
    rows = take_unwritten()
    assert [row["tag"] for row in rows] == ["org:created", "portal:created"]
    assert all(row["id"] and row["created_at"] for row in rows)
    assert not db.session.new
    writes.write_together([(INSERT_EVENT, rows)])
    db.session.commit()
    assert tags() == ["org:created", "portal:created"]
