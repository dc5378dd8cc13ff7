"""Recovery codes (NIST 800-63B §5.1.2 look-up secrets): ten, single use, stored as
keyed hashes, regenerable (which voids the old ones), shown once."""

from __future__ import annotations

import hashlib

from ciam.accounts.mfa import factors, recovery
from ciam.accounts.mfa import services as mfa_services
from ciam.accounts.mfa.models import RecoveryCode
from ciam.accounts.models import LoginSession
from ciam.audit.services import SYSTEM
from ciam.extensions import db
from tests.accounts.mfa_support import (
    RECOVERY,
    csrf,
    enrol_totp,
    events,
    login,
    submit_code,
    totp_now,
)


def _amrs(user_id) -> list[list[str]]:
    db.session.expire_all()
    query = db.select(LoginSession.amr).where(
        LoginSession.user_id == user_id, LoginSession.ended_at.is_(None)
    )
    return list(db.session.scalars(query))


def _logout(client):
    client.post("/logout", data={"csrf_token": csrf(client, "/logout")})


def test_ten_codes_are_made_with_the_first_factor(make, ctx):
    """The first factor comes with ten distinct codes of 12 characters (60 bits)."""
    user = make.user()
    enrol_totp(user)
    assert recovery.remaining_recovery_codes(user.id) == 10
    codes = recovery.generate_recovery_codes(user, SYSTEM)
    assert len(codes) == len(set(codes)) == 10
    assert all(RECOVERY.fullmatch(f"<code>{code}</code>") for code in codes)
    assert recovery.remaining_recovery_codes(user.id) == 10


def test_a_recovery_code_logs_in_once(client, make, ctx):
    """A recovery code replaces the second factor once: amr pwd+rc+mfa, audited as
    account:recovery_codes:used with what is left; the same code then fails."""
    user = make.user()
    enrol_totp(user)
    codes = recovery.generate_recovery_codes(user, SYSTEM)
    db.session.commit()
    login(client, user.email)

    # Typed loosely: upper case and spaces instead of dashes still match.
    response = submit_code(client, codes[0].upper().replace("-", " "), method="recovery")

    assert response.status_code == 303
    assert _amrs(user.id) == [["pwd", "rc", "mfa"]]
    assert events(user.id, "account:recovery_codes:used")[-1].data == {"remaining": 9}
    _logout(client)
    login(client, user.email)
    assert submit_code(client, codes[0], method="recovery").status_code == 401
    assert submit_code(client, codes[1], method="recovery").status_code == 303


def test_regenerating_voids_the_old_codes(client, make, ctx):
    """New codes (a recent login needed) replace every old one: an old code fails, a
    new one works."""
    user = make.user()
    secret = enrol_totp(user)
    old = recovery.generate_recovery_codes(user, SYSTEM)
    db.session.commit()
    login(client, user.email)
    submit_code(client, totp_now(secret))

    page = client.post(
        "/account/mfa/recovery-codes", data={"csrf_token": csrf(client, "/account/mfa")}
    )

    assert page.status_code == 200
    new = RECOVERY.findall(page.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    assert "shown only" in page.get_data(as_text=True)
    _logout(client)
    login(client, user.email)
    assert submit_code(client, old[0], method="recovery").status_code == 401
    assert submit_code(client, new[0], method="recovery").status_code == 303


def test_codes_are_stored_as_keyed_hashes(make, ctx):
    """DESIGN §5.5: no code, and no plain SHA-256 of one, is in the table."""
    user = make.user()
    enrol_totp(user)
    codes = recovery.generate_recovery_codes(user, SYSTEM)
    stored = set(db.session.scalars(db.select(RecoveryCode.code_hash)))
    assert len(stored) == 10
    for code in codes:
        bare = code.replace("-", "")
        assert not any(bare in h or code in h for h in stored)
        assert hashlib.sha256(bare.encode()).hexdigest() not in stored
        assert hashlib.sha256(code.encode()).hexdigest() not in stored


def test_recovery_codes_without_a_factor_do_nothing(make, ctx):
    """Removing the last factor deletes the codes: they never stand alone."""
    user = make.user()
    enrol_totp(user)
    recovery.generate_recovery_codes(user, SYSTEM)
    factor = factors.factors(user.id)[0]
    mfa_services.remove_factor(user, factor.id, SYSTEM)
    assert recovery.remaining_recovery_codes(user.id) == 0
