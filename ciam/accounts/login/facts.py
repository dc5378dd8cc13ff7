"""What the sign-in needs to know about a person once their password is right, read
in one query: a second factor? an organization that requires one? this browser
known to them? the account used before?

The login page reads it together with the person (LoginLookup, one round trip
fewer on every sign-in); the other steps read it when they need it (read_facts).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache

from ciam.accounts.mfa.factors import has_factor_clause, org_requires_mfa_clause
from ciam.accounts.models import User
from ciam.accounts.services import normalize_email
from ciam.accounts.sessions.cookies import browser_device_id, presented_device_id
from ciam.accounts.sessions.devices import DeviceFacts, device_columns
from ciam.extensions import db


@dataclass(frozen=True)
class LoginFacts:
    has_factor: bool
    org_requires_mfa: bool
    device: DeviceFacts


def _columns(user_id, device_id) -> tuple:
    return (
        has_factor_clause(user_id),
        org_requires_mfa_clause(user_id),
        *device_columns(user_id, device_id),
    )


def _facts(row) -> LoginFacts:
    has_factor, org_requires, known_id, seen_before = row
    return LoginFacts(bool(has_factor), bool(org_requires), DeviceFacts(known_id, seen_before))


# Built once: composing these statements costs more CPU than running them.
@cache
def _facts_query():
    return db.select(*_columns(db.bindparam("user_id"), db.bindparam("device_id")))


@cache
def _user_and_facts_query():
    return db.select(User, *_columns(User.id, db.bindparam("device_id"))).where(
        User.email_normalized == db.bindparam("email")
    )


def read_facts(user_id: uuid.UUID) -> LoginFacts:
    # Without autoflush: none of it depends on the rows this request has written,
    # which the commit then writes in one go.
    with db.session.no_autoflush:
        params = {"user_id": user_id, "device_id": browser_device_id()}
        return _facts(db.session.execute(_facts_query(), params).one())


class LoginLookup:
    """services.authenticate's lookup for the login page: the person with this email
    and, in the same query, their LoginFacts, kept for after_password. Only reads:
    the password decides next. The device is the one this browser presented (none: a
    new device), so no outcome of the lookup changes what the browser is sent."""

    def __init__(self) -> None:
        self._found: tuple[uuid.UUID, LoginFacts] | None = None

    def __call__(self, email: str) -> User | None:
        params = {"email": normalize_email(email), "device_id": presented_device_id()}
        row = db.session.execute(_user_and_facts_query(), params).first()
        if row is None:
            return None
        user, *facts = row
        self._found = (user.id, _facts(facts))
        return user

    def facts_for(self, user: User) -> LoginFacts | None:
        """The facts read with `user`, if this lookup found them (else None)."""
        if self._found is None or self._found[0] != user.id:
            return None
        return self._found[1]
