"""Server-side login sessions.

The browser holds a random session id in an HttpOnly cookie (`__Host-` prefixed and
Secure when the issuer is https); the database holds its SHA-256. Every login makes a
new id (ASVS 3.2.1, session fixation), and a session dies after an idle period and an
absolute lifetime (ASVS 3.3, NIST 800-63B §7.1). The session is loaded lazily, so
endpoints that never ask for it (discovery, JWKS, token) never query for it.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, current_app, g, request

from ciam.accounts.models import LoginSession, User
from ciam.audit.services import ActorContext, record
from ciam.crypto import hash_secret, random_token
from ciam.db import utcnow
from ciam.extensions import db

TOUCH_INTERVAL = timedelta(seconds=60)
_UNSET = object()


def cookie_name() -> str:
    if current_app.config["CIAM_SECURE_COOKIES"]:
        return "__Host-ciam_session"
    return "ciam_session"


def _is_expired(session: LoginSession, now) -> bool:
    cfg = current_app.config
    idle = timedelta(seconds=cfg["CIAM_SESSION_IDLE_TIMEOUT"])
    absolute = timedelta(seconds=cfg["CIAM_SESSION_ABSOLUTE_TIMEOUT"])
    return (
        session.ended_at is not None
        or now - session.last_seen_at > idle
        or now - session.created_at > absolute
    )


def current_session() -> LoginSession | None:
    """The live login session of this request, or None."""
    cached = g.get("_login_session", _UNSET)
    if cached is not _UNSET:
        return cached
    g._login_session = None
    raw = request.cookies.get(cookie_name())
    if raw and len(raw) < 200:
        session = db.session.get(LoginSession, hash_secret(raw))
        now = utcnow()
        if session is not None and not _is_expired(session, now):
            user = db.session.get(User, session.user_id)
            if user is not None and user.can_log_in:
                if now - session.last_seen_at > TOUCH_INTERVAL:
                    session.last_seen_at = now
                g._login_session = session
                g._current_user = user
    return g._login_session


def current_user() -> User | None:
    return g.get("_current_user") if current_session() else None


def start_session(user: User, amr: list[str], ctx: ActorContext) -> LoginSession:
    """End this browser's previous session and open a new one with a new id."""
    previous = current_session()
    if previous is not None:
        previous.ended_at = utcnow()
    raw = random_token(32)
    session = LoginSession(
        id=hash_secret(raw),
        user_id=user.id,
        amr=amr,
        ip=ctx.ip,
        user_agent=(ctx.user_agent or "")[:400] or None,
    )
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


def end_all_sessions(user_id) -> int:
    result = db.session.execute(
        db.update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    return result.rowcount


def _write_cookie(response: Response) -> Response:
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
