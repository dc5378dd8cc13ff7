"""Server-side login sessions.

The browser holds a random session id in an HttpOnly cookie (`__Host-` prefixed and
Secure when the issuer is https); the database holds its SHA-256. Every login makes a
new id (ASVS 3.2.1, session fixation), and a session dies after an idle period and an
absolute lifetime (ASVS 3.3, NIST 800-63B §7.1). The session is loaded lazily, so
endpoints that never ask for it (discovery, JWKS, token) never query for it.

Every login path (password, second factor) goes through start_session, so every one
remembers the device (ciam.accounts.sessions.devices).

A person sees their live sessions on /account/sessions and may end any of them
(ASVS 3.3.4); ending a session also revokes the tokens portals got through it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import cast

from flask import current_app, g, request
from sqlalchemy import CursorResult, Table
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ciam.accounts.models import LoginSession, User
from ciam.accounts.sessions.cookies import browser_device_id, cookie_name
from ciam.accounts.sessions.devices import DeviceFacts, device_facts, device_writes
from ciam.accounts.sessions.writes import Write, write_together
from ciam.audit.services import (
    INSERT_EVENT,
    ActorContext,
    event_values,
    record,
    take_unwritten,
)
from ciam.audit.tags import AuditTag
from ciam.crypto import hash_secret, random_token
from ciam.db import utcnow
from ciam.extensions import db
from ciam.oidc.models import Token
from ciam.oidc.token_store import revoke_where
from ciam.outbox.services import INSERT_MESSAGE, note_enqueued

TOUCH_INTERVAL = timedelta(seconds=60)
_UNSET = object()


def _is_expired(session: LoginSession, now) -> bool:
    cfg = current_app.config
    idle = timedelta(seconds=cfg["CIAM_SESSION_IDLE_TIMEOUT"])
    absolute = timedelta(seconds=cfg["CIAM_SESSION_ABSOLUTE_TIMEOUT"])
    return (
        session.ended_at is not None
        or now - session.last_seen_at > idle
        or now - session.created_at > absolute
    )


# Built once: composing a statement costs about as much CPU as running it.
_SESSION_AND_USER = (
    db.select(LoginSession, User)
    .join(User, User.id == LoginSession.user_id)
    .where(LoginSession.id == db.bindparam("session_id"))
)


def current_session() -> LoginSession | None:
    """The live login session of this request, or None."""
    cached = g.get("_login_session", _UNSET)
    if cached is not _UNSET:
        return cached
    g._login_session = None
    raw = request.cookies.get(cookie_name())
    if raw and len(raw) < 200:
        # The session and its person in one round trip (the user is needed whenever
        # the session is, to check it may still be used).
        row = db.session.execute(_SESSION_AND_USER, {"session_id": hash_secret(raw)}).first()
        now = utcnow()
        if row is not None:
            session, user = row
            if not _is_expired(session, now) and user.can_log_in:
                if now - session.last_seen_at > TOUCH_INTERVAL:
                    session.last_seen_at = now
                g._login_session = session
                g._current_user = user
    return g._login_session


def current_user() -> User | None:
    return g.get("_current_user") if current_session() else None


def start_session(
    user: User, amr: list[str], ctx: ActorContext, device: DeviceFacts | None = None
) -> LoginSession:
    """End this browser's previous session and open a new one with a new id.
    `device`: this browser's DeviceFacts (device_facts), when the caller already
    read them along with other things."""
    now = utcnow()
    previous = current_session()
    if previous is not None:
        previous.ended_at = now
    device_id = browser_device_id()
    if device is None:
        # Asked before this login's session row exists: "signed in before" must not
        # count this very login.
        device = device_facts(user.id, device_id)
    raw = random_token(32)
    values = _session_row(hash_secret(raw), user, amr, ctx, device_id, now)
    _write_login(user, values, ctx, device, now)
    for name in ("last_login_at", "updated_at"):
        set_committed_value(user, name, now)
    # The row as a persistent object, as if just loaded: a change to it later in
    # this request (ending it, say) is written like any other.
    session = LoginSession(**values)
    make_transient_to_detached(session)
    db.session.add(session)
    g._login_session = session
    g._current_user = user
    g._set_session_cookie = raw
    return session


def _session_row(session_id: str, user: User, amr, ctx: ActorContext, device_id, now) -> dict:
    return {
        "id": session_id,
        "user_id": user.id,
        "auth_time": now,
        "amr": amr,
        "last_seen_at": now,
        "ip": ctx.ip,
        "user_agent": (ctx.user_agent or "")[:400] or None,
        "ended_at": None,
        "device_id": device_id,
        "created_at": now,
    }


def _write_login(user: User, values: dict, ctx: ActorContext, device: DeviceFacts, now) -> None:
    """The login's own rows, written together with prebuilt Core statements in the
    request's transaction (write_together): the ORM's unit of work cost more CPU
    than the statements on this path (a login per browser, DESIGN §7), and on
    PostgreSQL they all go in one round trip. Events recorded earlier in this
    request (the password check's) join this login's own in one INSERT, rather
    than costing the commit an ORM flush."""
    events = [
        *take_unwritten(),
        event_values(AuditTag.ACCOUNT_LOGIN_SUCCESS, ctx, actor_id=user.id, amr=values["amr"]),
    ]
    messages: list[dict] = []
    writes: list[Write] = [
        (_TOUCH_USER, [{"user_row": user.id, "now": now}]),
        (_INSERT_SESSION, [values]),
        *device_writes(user, values["device_id"], ctx, device, now, events, messages),
    ]
    if messages:
        writes.append((INSERT_MESSAGE, messages))
    writes.append((INSERT_EVENT, events))
    write_together(writes)
    for message in messages:
        note_enqueued(message["id"])


def end_session(ctx: ActorContext) -> LoginSession | None:
    session = current_session()
    if session is not None:
        session.ended_at = utcnow()
        record(AuditTag.ACCOUNT_LOGOUT, ctx, actor_id=session.user_id)
    g._login_session = None
    g._current_user = None
    g._set_session_cookie = ""
    return session


# Prebuilt statements for the login path (building one costs about as much CPU as
# running it). Bind names differ from column names, which SET clauses reserve.
_users = User.__table__
_TOUCH_USER = (
    db.update(_users)
    .where(_users.c.id == db.bindparam("user_row"))
    .values(
        last_login_at=db.bindparam("now", type_=_users.c.last_login_at.type),
        updated_at=db.bindparam("now", type_=_users.c.updated_at.type),
    )
)
# (A mapped class's __table__ is typed as any FromClause; a declarative model's is a Table.)
_INSERT_SESSION = cast(Table, LoginSession.__table__).insert()


def session_handle(session: LoginSession) -> str:
    """The name a page uses for a session: derived from, but not equal to, its key."""
    return hash_secret("session-handle:" + session.id)


def live_sessions(user_id: uuid.UUID) -> list[LoginSession]:
    """The person's sessions that still work, most recently used first."""
    cfg = current_app.config
    now = utcnow()
    return list(
        db.session.scalars(
            db.select(LoginSession)
            .where(
                LoginSession.user_id == user_id,
                LoginSession.ended_at.is_(None),
                LoginSession.last_seen_at
                >= now - timedelta(seconds=cfg["CIAM_SESSION_IDLE_TIMEOUT"]),
                LoginSession.created_at
                >= now - timedelta(seconds=cfg["CIAM_SESSION_ABSOLUTE_TIMEOUT"]),
            )
            .order_by(LoginSession.last_seen_at.desc(), LoginSession.created_at.desc())
        )
    )


def end_sessions(
    user_id: uuid.UUID, session_ids: Iterable[str], ctx: ActorContext, reason: str
) -> int:
    """End these sessions of this person and revoke the tokens issued through them,
    so a session the person ended does not live on in a portal (ASVS 3.3.4).
    Returns how many sessions ended. Ending this browser's own session signs it out."""
    ids = list(session_ids)
    if not ids:
        return 0
    statement = (
        db.update(LoginSession)
        .where(
            LoginSession.user_id == user_id,
            LoginSession.id.in_(ids),
            LoginSession.ended_at.is_(None),
        )
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    ended = cast(CursorResult, db.session.execute(statement)).rowcount
    revoked = revoke_where(Token.user_id == user_id, Token.session_id.in_(ids))
    current = g.get("_login_session")
    if current is not None and current.id in ids:
        db.session.expire(current)
        g._login_session = None
        g._current_user = None
        g._set_session_cookie = ""
    record(
        AuditTag.ACCOUNT_SESSION_ENDED,
        ctx,
        actor_id=user_id,
        reason=reason,
        sessions=ended,
        tokens_revoked=revoked,
    )
    return ended


def end_by_handle(user_id: uuid.UUID, handle: str, ctx: ActorContext) -> bool:
    """The person ends one of their live sessions, named by its handle."""
    for session in live_sessions(user_id):
        if session_handle(session) == handle:
            return end_sessions(user_id, [session.id], ctx, reason="ended_by_person") == 1
    return False


def end_other_sessions(user_id: uuid.UUID, keep: LoginSession, ctx: ActorContext) -> int:
    """The person ends every live session but the one they are using."""
    others = [session.id for session in live_sessions(user_id) if session.id != keep.id]
    return end_sessions(user_id, others, ctx, reason="ended_others_by_person")


def end_all_sessions(user_id, except_id: str | None = None) -> int:
    """End the person's live sessions, all of them or all but `except_id`."""
    criteria = [LoginSession.user_id == user_id, LoginSession.ended_at.is_(None)]
    if except_id is not None:
        criteria.append(LoginSession.id != except_id)
    statement = db.update(LoginSession).where(*criteria).values(ended_at=utcnow())
    return cast(CursorResult, db.session.execute(statement)).rowcount
