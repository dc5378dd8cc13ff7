"""TOTP (RFC 6238): enrolment with a QR code and a manual key, confirmation by a code,
one step of drift, each code once, the seed encrypted at rest."""

from __future__ import annotations

import base64
import re
import time
from datetime import timedelta
from html import unescape
from urllib.parse import unquote

import pyotp
import pytest
from cryptography.fernet import InvalidToken

from ciam.accounts.mfa import factors
from ciam.accounts.mfa import totp as mfa_totp
from ciam.accounts.mfa.models import FactorKind, MfaFactor
from ciam.accounts.models import LoginSession
from ciam.crypto import fernet_for
from ciam.db import utcnow
from ciam.errors import Conflict
from ciam.extensions import db
from tests.accounts.mfa_support import (
    csrf,
    enrol_totp,
    login,
    submit_code,
    tags,
    totp_now,
    wrong_code,
)

MANUAL_KEY = re.compile(r'<code class="secret" id="manual-key">([A-Z2-7 ]+)</code>')
QR = re.compile(r'<img class="qr" src="(data:image/svg\+xml;charset=utf-8,[^"]+)"')


def _pending_factor(user_id) -> MfaFactor:
    db.session.expire_all()
    return db.session.scalar(db.select(MfaFactor).where(MfaFactor.user_id == user_id))


def test_enrolment_page_shows_qr_code_and_manual_key(client, make, ctx):
    """The set-up page shows a QR code (an SVG data: URI, allowed by our CSP) encoding
    the otpauth:// URI, and the same secret as a key to type by hand."""
    user = make.user()
    login(client, user.email)

    page = client.get("/account/mfa/totp")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    key = MANUAL_KEY.search(html).group(1).replace(" ", "")
    assert len(base64.b32decode(key)) == 20  # 160-bit seed (RFC 4226 §4 R6)
    factor = _pending_factor(user.id)
    assert mfa_totp.totp_secret(factor) == key
    uri = unescape(QR.search(html).group(1))
    svg = unquote(uri.removeprefix("data:image/svg+xml;charset=utf-8,"))
    assert svg.startswith("<svg xmlns='http://www.w3.org/2000/svg'") and "<path" in svg
    otpauth = mfa_totp.provisioning_uri(user, factor)
    assert otpauth.startswith("otpauth://totp/") and f"secret={key}" in otpauth
    assert uri == mfa_totp.qr_data_uri(otpauth)
    assert "img-src 'self' data:" in page.headers["Content-Security-Policy"]


def test_enrolment_needs_a_right_code_before_the_factor_counts(client, make, ctx):
    """Until a code from the app is entered the factor is pending: it does not count
    at login. A wrong code is refused and audited; the right one confirms it, audits
    account:mfa:enrolled and shows ten recovery codes."""
    user = make.user()
    login(client, user.email)
    client.get("/account/mfa/totp")
    secret = mfa_totp.totp_secret(_pending_factor(user.id))
    assert not factors.has_factor(user.id)

    wrong = client.post(
        "/account/mfa/totp",
        data={
            "csrf_token": csrf(client, "/account/mfa/totp"),
            "method": "totp",
            "code": wrong_code(secret),
        },
    )
    assert wrong.status_code == 401
    assert "That code is not right" in wrong.get_data(as_text=True)
    assert not factors.has_factor(user.id)
    assert "account:mfa:failure" in tags(user.id)

    right = client.post(
        "/account/mfa/totp",
        data={
            "csrf_token": csrf(client, "/account/mfa/totp"),
            "method": "totp",
            "code": totp_now(secret),
        },
    )
    assert right.status_code == 200
    assert right.get_data(as_text=True).count("<li><code>") == 10
    assert factors.has_factor(user.id)
    assert "account:mfa:enrolled" in tags(user.id)


def test_enrolment_page_keeps_its_secret_on_reload(client, make, ctx):
    """Reloading the set-up page keeps the seed, so a QR code already scanned works."""
    user = make.user()
    login(client, user.email)
    first = MANUAL_KEY.search(client.get("/account/mfa/totp").get_data(as_text=True)).group(1)
    second = MANUAL_KEY.search(client.get("/account/mfa/totp").get_data(as_text=True)).group(1)
    assert first == second


def test_enrolment_needs_a_recent_login(client, make, ctx):
    """ASVS 3.7.1: a login older than CIAM_RECENT_AUTH_SECONDS must sign in again
    before setting up a factor."""
    user = make.user()
    login(client, user.email)
    row = db.session.scalar(db.select(LoginSession).where(LoginSession.user_id == user.id))
    row.auth_time = utcnow() - timedelta(minutes=10)
    db.session.commit()

    response = client.get("/account/mfa/totp")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"] and "reauth=1" in response.headers["Location"]
    assert _pending_factor(user.id) is None


def test_totp_secret_is_encrypted_at_rest(make, ctx, app):
    """DESIGN §5.5: the row holds a Fernet token under the "ciam.totp" key, never the
    base32 seed itself."""
    user = make.user()
    secret = enrol_totp(user)

    stored = db.session.scalar(
        db.select(MfaFactor.totp_secret_encrypted).where(MfaFactor.user_id == user.id)
    )

    assert secret not in stored
    assert secret.encode() not in base64.urlsafe_b64decode(stored.encode())
    fernet = fernet_for(app.config["SECRET_KEY"], "ciam.totp")
    assert fernet.decrypt(stored.encode()).decode() == secret
    other_purpose = fernet_for(app.config["SECRET_KEY"], "ciam.signing-keys")
    with pytest.raises(InvalidToken):  # one key per purpose
        other_purpose.decrypt(stored.encode())


def _fresh_factor(make):
    user = make.user()
    secret = enrol_totp(user)
    return factors.factor_of_kind(user.id, FactorKind.totp), pyotp.TOTP(secret)


def test_a_code_is_accepted_once(make, ctx):
    """RFC 6238 §5.2: the same code twice in its window: the second try fails."""
    factor, totp = _fresh_factor(make)
    now = time.time()

    assert mfa_totp.verify_totp(factor, totp.at(now), now=now)
    assert not mfa_totp.verify_totp(factor, totp.at(now), now=now)
    assert not mfa_totp.verify_totp(factor, totp.at(now), now=now + 10)


def test_an_earlier_code_fails_after_a_later_one(make, ctx):
    """Once a step is used, codes of earlier steps are refused too (no rewinding)."""
    factor, totp = _fresh_factor(make)
    now = time.time()

    assert mfa_totp.verify_totp(factor, totp.at(now + 30), now=now)
    assert not mfa_totp.verify_totp(factor, totp.at(now), now=now)


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
def test_one_step_of_drift_either_way(make, ctx, steps, accepted):
    """RFC 6238 §5.2: a code one step (30 s) early or late is accepted; two steps is
    refused."""
    factor, totp = _fresh_factor(make)
    now = (int(time.time()) // 30) * 30 + 15  # mid-step, so the offsets are exact

    assert mfa_totp.verify_totp(factor, totp.at(now + 30 * steps), now=now) is accepted


def test_malformed_codes_are_refused(make, ctx):
    """Only six digits count; spaces are forgiven, letters and other lengths are not."""
    factor, totp = _fresh_factor(make)
    now = time.time()
    code = totp.at(now)

    assert not mfa_totp.verify_totp(factor, code[:5], now=now)
    assert not mfa_totp.verify_totp(factor, code + "0", now=now)
    assert not mfa_totp.verify_totp(factor, "", now=now)
    assert mfa_totp.verify_totp(factor, f" {code[:3]} {code[3:]} ", now=now)


def test_replayed_code_fails_at_login(client, make, ctx):
    """The code that completed one login cannot complete another (replay)."""
    user = make.user()
    secret = enrol_totp(user)
    code = totp_now(secret)
    login(client, user.email)
    assert submit_code(client, code).status_code == 303

    client.post("/logout", data={"csrf_token": csrf(client, "/logout")})
    login(client, user.email)
    replay = submit_code(client, code)

    assert replay.status_code == 401
    assert client.get("/account").status_code == 302
    assert tags(user.id).count("account:mfa:failure") == 1


def test_second_authenticator_is_refused(make, ctx):
    """One authenticator app per person: a second set-up must remove the first."""
    user = make.user()
    enrol_totp(user)
    with pytest.raises(Conflict):
        mfa_totp.start_totp_enrolment(user)
