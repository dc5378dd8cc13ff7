"""What a login knows about the browser it comes from, and how it remembers it.

Every browser gets a device cookie (ciam.accounts.sessions.cookies). Its SHA-256 is
kept on the login session and, per person, in `known_devices`. A sign-in from a
device the person never used is audited (`account:device:new`) and, except for the
account's very first sign-in, announced by email so a stranger's sign-in does not go
unnoticed (OWASP ASVS 5.0 V6.3: tell people about sign-ins from an unusual client).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import cast

from flask import current_app
from sqlalchemy import Table

from ciam.accounts.models import KnownDevice, LoginSession, User
from ciam.accounts.sessions.user_agents import describe
from ciam.accounts.sessions.writes import Write
from ciam.audit.services import ActorContext, event_values
from ciam.audit.tags import AuditTag
from ciam.extensions import db
from ciam.outbox.services import message_values


@dataclass(frozen=True)
class DeviceFacts:
    """What the login needs to know about this browser: the id of its known_devices
    row for this person (None: a new device), and whether the account signed in
    before (its very first sign-in is from a new device by definition)."""

    known_id: uuid.UUID | None
    seen_before: bool


def device_columns(user_id: uuid.UUID, device_id: str) -> tuple:
    """The two SQL expressions behind DeviceFacts, for a query that asks them along
    with other questions (ciam.accounts.login.facts): one round trip for all."""
    return (
        db.select(KnownDevice.id)
        .where(KnownDevice.user_id == user_id, KnownDevice.device_id == device_id)
        .scalar_subquery(),
        db.exists().where(LoginSession.user_id == user_id)
        | db.exists().where(KnownDevice.user_id == user_id),
    )


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


def device_writes(
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
            AuditTag.ACCOUNT_DEVICE_NEW,
            ctx,
            actor_id=user.id,
            device=described,
            first_login=first_login,
        )
    )
    if not first_login and user.email_verified:
        email = _new_device_email(user, described, ctx, now)
        messages.append(message_values("email", email, aggregate_id=str(user.id)))
    return [(_INSERT_DEVICE, [row])]


# Prebuilt statements for the login path (building one costs about as much CPU as
# running it). Bind names differ from column names, which SET clauses reserve.
# (A mapped class's __table__ is typed as any FromClause; a declarative model's is a Table.)
_devices = cast(Table, KnownDevice.__table__)
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
