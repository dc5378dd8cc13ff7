"""Helpers for the support console tests: a support engineer, an organization with
an admin and a member, a locked account, sign-in through the real login page."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app

from ciam.accounts import lockout
from ciam.accounts.models import User
from ciam.audit.models import AuditEvent
from ciam.audit.services import SYSTEM
from ciam.delegation import services as orgs
from ciam.delegation import staff
from ciam.delegation.models import AdminRight, Organization, StaffRole
from ciam.extensions import db
from tests import factories
from tests.accounts.security_support import csrf, login

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Cast:
    engineer: User
    org: Organization
    admin: User
    member: User


def support_engineer(email: str = "engineer@support.test") -> User:
    engineer = factories.user(email, given_name="Sam", family_name="Support")
    staff.grant(engineer, StaffRole.support)
    db.session.commit()
    return engineer


def cast() -> Cast:
    """An engineer; org `acme` with an org admin and a plain member (Ada Lovelace)."""
    engineer = support_engineer()
    org = factories.org("acme", "Acme Insurance")
    admin = factories.user("boss@acme.test")
    member = factories.user("ada@acme.test", given_name="Ada", family_name="Lovelace")
    orgs.add_member(org, admin, AdminRight.org_admin)
    orgs.add_member(org, member)
    db.session.commit()
    return Cast(engineer, org, admin, member)


def lock(user: User) -> None:
    """Lock the account the way a guesser does: the threshold of wrong passwords."""
    for _ in range(current_app.config["CIAM_LOCKOUT_THRESHOLD"]):
        lockout.register_failure(user, SYSTEM)
    db.session.commit()
    assert user.is_locked


def sign_in(client, email: str) -> None:
    response = login(client, email)
    assert response.status_code in (302, 303), response.status_code
    assert "/login" not in response.headers["Location"]


def token(client, path: str) -> str:
    """The CSRF token of this browser's session, read from a page it may open."""
    return csrf(client, path)


def events(tag: str, target: str | None = None) -> list[AuditEvent]:
    query = db.select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.created_at)
    if target is not None:
        query = query.where(AuditEvent.target == target)
    db.session.expire_all()
    return list(db.session.scalars(query))
