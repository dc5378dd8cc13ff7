"""Helpers for the MFA tests: sign in through the real pages, set up factors through
the services (as a person would have done earlier), read codes."""

from __future__ import annotations

import re
import time

import pyotp

from ciam.accounts.mfa import services as mfa_services
from ciam.accounts.mfa import totp as mfa_totp
from ciam.accounts.mfa.models import MfaFactor
from ciam.audit.models import AuditEvent
from ciam.audit.services import SYSTEM
from ciam.extensions import db
from tests.factories import PASSWORD

MANUAL_KEY = re.compile(r'<code class="secret" id="manual-key">([A-Z2-7 ]+)</code>')
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SMS_CODE = re.compile(r"(\d{6}) is your ")
RECOVERY = re.compile(r"<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>")


def csrf(client, path: str) -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def login(client, email: str, password: str = PASSWORD, next_url: str = ""):
    """The password step, through the login page."""
    return client.post(
        "/login",
        data={
            "csrf_token": csrf(client, "/login"),
            "email": email,
            "password": password,
            "next": next_url,
        },
    )


def submit_code(client, code: str, method: str = "totp"):
    """The second step, through /login/mfa (needs a pending login)."""
    return client.post(
        "/login/mfa",
        data={"csrf_token": csrf(client, "/login/mfa"), "method": method, "code": code},
    )


def enrol_totp(user) -> str:
    """A confirmed authenticator for `user`; returns its base32 secret. The step used
    to confirm is forgotten, so a test may log in with the current code at once."""
    factor = mfa_totp.start_totp_enrolment(user)
    secret = mfa_totp.totp_secret(factor)
    assert mfa_totp.confirm_totp(user, pyotp.TOTP(secret).now(), SYSTEM) is not None
    factor.last_used_step = None
    db.session.commit()
    return secret


def enrol_sms(user, phone: str = "+41791234567") -> MfaFactor:
    """A confirmed SMS factor, without sending anything."""
    factor = MfaFactor(user_id=user.id, kind="sms", phone_number=phone)
    db.session.add(factor)
    db.session.flush()
    mfa_services.confirm_factor(factor, user, SYSTEM)
    db.session.commit()
    return factor


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def wrong_code(secret: str | None = None) -> str:
    """Six digits that are surely not a valid code now (none of the drift window)."""
    valid = set()
    if secret:
        totp, now = pyotp.TOTP(secret), time.time()
        valid = {totp.at(now + 30 * steps) for steps in (-2, -1, 0, 1, 2)}
    return next(
        c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c not in valid
    )


def tags(user_id) -> list[str]:
    db.session.expire_all()
    query = db.select(AuditEvent.tag).where(AuditEvent.actor_id == user_id)
    return list(db.session.scalars(query.order_by(AuditEvent.created_at)))


def events(user_id, tag: str) -> list[AuditEvent]:
    db.session.expire_all()
    query = db.select(AuditEvent).where(AuditEvent.actor_id == user_id, AuditEvent.tag == tag)
    return list(db.session.scalars(query.order_by(AuditEvent.created_at)))


def sms_code(text: str) -> str:
    """The last code in printed console SMS output."""
    codes = SMS_CODE.findall(text)
    assert codes, f"no SMS code in {text!r}"
    return codes[-1]
