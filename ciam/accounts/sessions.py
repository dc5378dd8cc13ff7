"""Server-side login sessions.

The browser holds a random session id in an HttpOnly cookie (`__Host-` prefixed and
Secure when the issuer is https); the database holds its SHA-256. Every login makes a
new id (ASVS 3.2.1, session fixation), and a session dies after an idle period and an
absolute lifetime (ASVS 3.3, NIST 800-63B §7.1). The session is loaded lazily, so
endpoints that never ask for it (discovery, JWKS, token) never query for it.

Devices: every browser gets a long-lived random device cookie (HttpOnly, SameSite=Lax,
`__Host-` + Secure on https, one year). Its SHA-256 is kept on the login session and,
per person, in `known_devices`. A sign-in from a device the person never used is
audited (`account:device:new`) and, except for the account's very first sign-in,
announced by email so a stranger's sign-in does not go unnoticed (OWASP ASVS 5.0
V6.3: tell people about sign-ins from an unusual client).
Every login path (password, second factor) goes through start_session, so all get it.

A person sees their live sessions on /account/sessions and may end any of them
(ASVS 3.3.4); ending a session also revokes the tokens portals got through it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

import psycopg
from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Executable

from ciam import hotsql
from ciam.accounts.devices import describe
from ciam.accounts.models import KnownDevice, LoginSession, User
from ciam.audit.services import (
    INSERT_EVENT,
    ActorContext,
    event_values,
    record,
    take_unwritten,
)
from ciam.crypto import hash_secret, random_token
from ciam.db import utcnow
from ciam.extensions import db
from ciam.oidc.models import Token
from ciam.oidc.token_store import revoke_where
from ciam.outbox.services import INSERT_MESSAGE, message_values, note_enqueued

TOUCH_INTERVAL = timedelta(seconds=60)
DEVICE_COOKIE_MAX_AGE = 365 * 86400
_DEVICE_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,100}$")
_UNSET = object()


def cookie_name() -> str:
    if current_app.config["CIAM_SECURE_COOKIES"]:
        return "__Host-ciam_session"
    return "ciam_session"


def device_cookie_name() -> str:
    if current_app.config["CIAM_SECURE_COOKIES"]:
        return "__Host-ciam_device"
    return "ciam_device"


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
        session, user = row if row is not None else (None, None)
        now = utcnow()
        if session is not None and not _is_expired(session, now) and user.can_log_in:
            if now - session.last_seen_at > TOUCH_INTERVAL:
                session.last_seen_at = now
            g._login_session = session
            g._current_user = user
    return g._login_session


def current_user() -> User | None:
    return g.get("_current_user") if current_session() else None


@dataclass(frozen=True)
class DeviceFacts:
    """What the login needs to know about this browser: the id of its known_devices
    row for this person (None: a new device), and whether the account signed in
    before (its very first sign-in is from a new device by definition)."""

    known_id: uuid.UUID | None
    seen_before: bool


def device_columns(user_id: uuid.UUID, device_id: str) -> tuple:
    """The two SQL expressions behind DeviceFacts, for a query that asks them along
    with other questions (see login_flow): one round trip for all."""
    return (
        db.select(KnownDevice.id)
        .where(KnownDevice.user_id == user_id, KnownDevice.device_id == device_id)
        .scalar_subquery(),
        db.exists().where(LoginSession.user_id == user_id)
        | db.exists().where(KnownDevice.user_id == user_id),
    )


# A write: a prebuilt Core statement and the rows (parameter sets) it runs for.
Write = tuple[Executable, Sequence[dict]]


def write_together(writes: Sequence[Write]) -> None:
    """Run these writes, in order, in the request's transaction (committed, or rolled
    back, with everything else the request did: DESIGN §5.2-5.3).

    On PostgreSQL (psycopg) they are sent in one pipeline: one round trip for all,
    and no SQLAlchemy execution overhead per statement. Each statement's SQL is
    compiled once per process. Every row must give every parameter of its statement
    (no column defaults are applied here): event_values, message_values and the
    login's own rows do. Anywhere else (SQLite) they run one by one through
    SQLAlchemy with the same rows.
    """
    connection = db.session.connection()
    driver = connection.connection.driver_connection
    if not isinstance(driver, psycopg.Connection) or not _PIPELINE_SUPPORTED:
        for statement, rows in writes:
            connection.execute(statement, list(rows))
        return
    try:
        with driver.cursor() as cursor, driver.pipeline():
            for statement, rows in writes:
                compiled = hotsql.compiled_for_psycopg(statement, connection.dialect)
                params = [hotsql.psycopg_params(compiled, row) for row in rows]
                if len(params) == 1:
                    cursor.execute(compiled.sql, params[0])
                else:
                    cursor.executemany(compiled.sql, params)
    except psycopg.Error as error:
        # As SQLAlchemy would raise it (IntegrityError, OperationalError...); the
        # transaction is failed and the request rolls it back.
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error


_PIPELINE_SUPPORTED = psycopg.Pipeline.is_supported()  # libpq 14 or later


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
    values = {
        "id": hash_secret(raw),
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
    # The login's own rows are written together with prebuilt Core statements in the
    # request's transaction (write_together): the ORM's unit of work cost more CPU
    # than the statements on this path (a login per browser, DESIGN §7), and on
    # PostgreSQL they all go in one round trip.
    # Events recorded earlier in this request (the password check's) join this
    # login's own in one INSERT, rather than costing the commit an ORM flush.
    events = [
        *take_unwritten(),
        event_values("account:login:success", ctx, actor_id=user.id, amr=amr),
    ]
    messages: list[dict] = []
    writes: list[Write] = [
        (_TOUCH_USER, [{"user_row": user.id, "now": now}]),
        (_INSERT_SESSION, [values]),
        *_device_writes(user, device_id, ctx, device, now, events, messages),
    ]
    if messages:
        writes.append((INSERT_MESSAGE, messages))
    writes.append((INSERT_EVENT, events))
    write_together(writes)
    for message in messages:
        note_enqueued(message["id"])
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


def end_session(ctx: ActorContext) -> LoginSession | None:
    session = current_session()
    if session is not None:
        session.ended_at = utcnow()
        record("account:logout", ctx, actor_id=session.user_id)
    g._login_session = None
    g._current_user = None
    g._set_session_cookie = ""
    return session


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


def device_facts(user_id: uuid.UUID, device_id: str) -> DeviceFacts:
    """Is this device known, and has the account ever signed in before? (The very
    first sign-in of an account is from a new device by definition: recorded, but
    not worth an email.)"""
    # Without autoflush: nothing pending in this request changes the answer, and the
    # commit writes it all in one go.
    with db.session.no_autoflush:
        row = db.session.execute(_device_facts(), {"user_id": user_id, "device_id": device_id})
        return DeviceFacts(*row.one())


@cache
def _device_facts():
    return db.select(*device_columns(db.bindparam("user_id"), db.bindparam("device_id")))


def _device_writes(
    user: User,
    device_id: str,
    ctx: ActorContext,
    device: DeviceFacts,
    now,
    events: list[dict],
    messages: list[dict],
) -> list[Write]:
    """The writes that remember this browser for this person. A new device also gets
    its audit event (added to `events`) and, unless this is the account's very first
    sign-in, the email that tells the person (added to `messages`, for the outbox)."""
    user_agent = (ctx.user_agent or "")[:400] or None
    if device.known_id is not None:
        touch = {"device_row": device.known_id, "seen": now, "agent": user_agent}
        return [(_TOUCH_DEVICE, [touch])]
    first_login = not device.seen_before
    row = {
        "id": uuid.uuid4(),
        "user_id": user.id,
        "device_id": device_id,
        "last_seen_at": now,
        "user_agent": user_agent,
        "created_at": now,
    }
    described = describe(user_agent)
    events.append(
        event_values(
            "account:device:new", ctx, actor_id=user.id, device=described, first_login=first_login
        )
    )
    if not first_login and user.email_verified:
        email = _new_device_email(user, described, ctx, now)
        messages.append(message_values("email", email, aggregate_id=str(user.id)))
    return [(_INSERT_DEVICE, [row])]


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
_INSERT_SESSION = LoginSession.__table__.insert()
_devices = KnownDevice.__table__
_INSERT_DEVICE = _devices.insert()
_TOUCH_DEVICE = (
    db.update(_devices)
    .where(_devices.c.id == db.bindparam("device_row"))
    .values(
        last_seen_at=db.bindparam("seen", type_=_devices.c.last_seen_at.type),
        user_agent=db.bindparam("agent", type_=_devices.c.user_agent.type),
    )
)


def _new_device_email(user: User, device: str, ctx: ActorContext, when) -> dict:
    sessions_url = current_app.config["CIAM_ISSUER"] + "/account/sessions"
    text = (
        f"Hello {user.name or user.email},\n\n"
        "Your account was just used to sign in from a device it was not used on before:\n\n"
        f"  Device: {device}\n"
        f"  IP address: {ctx.ip or 'unknown'}\n"
        f"  Time: {when.strftime('%Y-%m-%d %H:%M UTC')}\n\n"
        "If this was you, there is nothing to do.\n\n"
        "If it was not you, change your password now, and end the sessions you do not\n"
        f"recognise here:\n{sessions_url}\n"
    )
    return {"to": user.email, "subject": "New sign-in to your account", "text": text}


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
    ended = db.session.execute(
        db.update(LoginSession)
        .where(
            LoginSession.user_id == user_id,
            LoginSession.id.in_(ids),
            LoginSession.ended_at.is_(None),
        )
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    revoked = revoke_where(Token.user_id == user_id, Token.session_id.in_(ids))
    current = g.get("_login_session")
    if current is not None and current.id in ids:
        db.session.expire(current)
        g._login_session = None
        g._current_user = None
        g._set_session_cookie = ""
    record(
        "account:session:ended",
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
    result = db.session.execute(db.update(LoginSession).where(*criteria).values(ended_at=utcnow()))
    return result.rowcount


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


def setup_sessions(app: Flask) -> None:
    app.after_request(_write_cookie)
