"""/account/mfa: the person's own factors. Looking needs a login, changing needs a
recent one; removals are audited; every form refuses a missing or forged CSRF token."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ciam.accounts.mfa import factors, recovery
from ciam.accounts.mfa import services as mfa_services
from ciam.accounts.mfa.models import MfaFactor, RecoveryCode, SmsChallenge
from ciam.accounts.models import LoginSession
from ciam.audit.services import SYSTEM
from ciam.db import utcnow
from ciam.delegation import services as orgs
from ciam.extensions import db
from ciam.outbox.models import OutboxMessage
from tests.accounts.mfa_support import (
    csrf,
    enrol_sms,
    enrol_totp,
    login,
    submit_code,
    tags,
    totp_now,
)

FORGED = "forged." + "a" * 40


def _signed_in_with_totp(client, make):
    user = make.user()
    secret = enrol_totp(user)
    login(client, user.email)
    assert submit_code(client, totp_now(secret)).status_code == 303
    return user, secret


def _make_login_old(user_id) -> None:
    for row in db.session.scalars(db.select(LoginSession).where(LoginSession.user_id == user_id)):
        row.auth_time = utcnow() - timedelta(minutes=10)
    db.session.commit()


def test_overview_needs_a_login(client):
    """No session, no page: the login comes first and returns here."""
    response = client.get("/account/mfa")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/account/mfa")


def test_overview_lists_factors_and_recovery_codes(client, make, ctx):
    """The page names each factor (the phone masked), how many recovery codes are
    left, and offers only the methods not set up yet."""
    user, _ = _signed_in_with_totp(client, make)
    enrol_sms(user, "+41791234567")

    html = client.get("/account/mfa").get_data(as_text=True)

    assert "Authenticator app" in html
    assert "Text message to •••• 4567" in html and "+41791234567" not in html
    assert "10 of 10 unused" in html
    assert "Set up an authenticator app" not in html
    assert "Add a phone" not in html


def test_overview_without_factors_offers_both_methods(client, make, ctx):
    """Nothing set up: the page says MFA is off and offers both methods."""
    user = make.user()
    login(client, user.email)
    html = client.get("/account/mfa").get_data(as_text=True)
    assert "Two-step verification is off" in html
    assert "Set up an authenticator app" in html and "Add a phone for text messages" in html


def test_removing_a_factor_needs_a_recent_login_and_is_audited(client, make, ctx):
    """An old login is sent to sign in again (nothing removed); a recent one removes
    the factor, audits account:mfa:removed and, as it was the last, the recovery
    codes go too."""
    user, _ = _signed_in_with_totp(client, make)
    factor = factors.factors(user.id)[0]
    path = f"/account/mfa/factors/{factor.id}/remove"
    _make_login_old(user.id)

    stale = client.post(path, data={"csrf_token": csrf(client, "/account/mfa")})

    assert "reauth=1" in stale.headers["Location"]
    assert factors.has_factor(user.id)

    for row in db.session.scalars(db.select(LoginSession).where(LoginSession.user_id == user.id)):
        row.auth_time = utcnow()
    db.session.commit()
    done = client.post(path, data={"csrf_token": csrf(client, "/account/mfa")})

    assert done.headers["Location"] == "/account/mfa?done=removed"
    assert not factors.has_factor(user.id)
    assert recovery.remaining_recovery_codes(user.id) == 0
    assert "account:mfa:removed" in tags(user.id)


def test_a_person_cannot_remove_someone_elses_factor(client, make, ctx):
    """Factor ids from another account answer 404 and change nothing."""
    _signed_in_with_totp(client, make)
    other = make.user()
    enrol_totp(other)
    theirs = factors.factors(other.id)[0]

    response = client.post(
        f"/account/mfa/factors/{theirs.id}/remove",
        data={"csrf_token": csrf(client, "/account/mfa")},
    )

    assert response.status_code == 404
    assert factors.has_factor(other.id)


def test_org_policy_keeps_the_last_factor(client, make, ctx):
    """With an organization requiring MFA the last factor cannot be removed."""
    user, _ = _signed_in_with_totp(client, make)
    org = orgs.create_org("policy-co", "Policy Co")
    org.mfa_required = True
    orgs.add_member(org, user)
    db.session.commit()
    factor = factors.factors(user.id)[0]

    response = client.post(
        f"/account/mfa/factors/{factor.id}/remove",
        data={"csrf_token": csrf(client, "/account/mfa")},
    )

    assert response.status_code == 409
    assert "requires two-step verification" in response.get_data(as_text=True)
    assert factors.has_factor(user.id)


def test_regenerating_codes_needs_a_recent_login(client, make, ctx):
    """Old login: no new codes, a trip to the login page instead."""
    user, _ = _signed_in_with_totp(client, make)
    before = set(db.session.scalars(db.select(RecoveryCode.code_hash)))
    _make_login_old(user.id)

    response = client.post(
        "/account/mfa/recovery-codes", data={"csrf_token": csrf(client, "/account/mfa")}
    )

    assert "reauth=1" in response.headers["Location"]
    db.session.expire_all()
    assert set(db.session.scalars(db.select(RecoveryCode.code_hash))) == before


# --- CSRF on every MFA form ----------------------------------------------------------


def _pending_totp_login(client, make):
    user = make.user()
    enrol_totp(user)
    login(client, user.email)
    return user


def _pending_sms_login(client, make):
    user = make.user()
    enrol_sms(user)
    login(client, user.email)
    return user


def _pending_enrolment(client, make):
    user = make.user()
    org = orgs.create_org(f"csrf-{user.id.hex[:8]}", "CSRF Co")
    org.mfa_required = True
    orgs.add_member(org, user)
    db.session.commit()
    login(client, user.email)
    client.get("/login/mfa/enrol")
    return user


def _signed_in(client, make):
    user = make.user()
    login(client, user.email)
    return user


def _signed_in_with_pending_totp(client, make):
    user = _signed_in(client, make)
    client.get("/account/mfa/totp")
    return user


def _signed_in_with_pending_sms(client, make):
    user = _signed_in(client, make)
    client.post(
        "/account/mfa/sms",
        data={"csrf_token": csrf(client, "/account/mfa/sms"), "phone": "+41791234567"},
    )
    return user


def _signed_in_with_factor(client, make):
    user, _ = _signed_in_with_totp(client, make)
    return user


def _no_session(user):
    return db.session.scalar(db.select(LoginSession).where(LoginSession.user_id == user.id)) is None


def _no_factor(user):
    return not factors.has_factor(user.id)


def _no_challenge(user):
    query = db.select(db.func.count(SmsChallenge.id)).where(SmsChallenge.user_id == user.id)
    return db.session.scalar(query) == 0


def _factor_kept(user):
    return factors.has_factor(user.id)


def _codes_kept(user):
    return recovery.remaining_recovery_codes(user.id) == 10


FORMS = {
    "login code": (_pending_totp_login, "/login/mfa", {"method": "totp"}, _no_session),
    "login sms send": (_pending_sms_login, "/login/mfa/sms", {}, _no_challenge),
    "login enrolment": (_pending_enrolment, "/login/mfa/enrol", {"method": "totp"}, _no_session),
    "totp enrolment": (
        _signed_in_with_pending_totp,
        "/account/mfa/totp",
        {"method": "totp"},
        _no_factor,
    ),
    "sms phone": (_signed_in, "/account/mfa/sms", {"phone": "+41791234567"}, _no_challenge),
    "sms confirm": (
        _signed_in_with_pending_sms,
        "/account/mfa/sms/confirm",
        {"method": "sms"},
        _no_factor,
    ),
    "remove factor": (_signed_in_with_factor, "remove", {}, _factor_kept),
    "new recovery codes": (
        _signed_in_with_factor,
        "/account/mfa/recovery-codes",
        {},
        _codes_kept,
    ),
}


@pytest.mark.parametrize("token", ["missing", "forged"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_mfa_form_refuses_a_missing_or_forged_csrf_token(client, make, ctx, form, token):
    """CSRF on every form (DESIGN §8): without a valid token the post is refused with
    400 and nothing happens, whatever else it carries (even a right code)."""
    setup, path, data, unchanged = FORMS[form]
    user = setup(client, make)
    if path == "remove":
        path = f"/account/mfa/factors/{factors.factors(user.id)[0].id}/remove"
    data = dict(data)
    if "method" in data:
        data["code"] = "123456"
    if token == "forged":
        data["csrf_token"] = FORGED
    before = list(db.session.scalars(db.select(RecoveryCode.code_hash)))

    response = client.post(path, data=data)

    assert response.status_code == 400
    db.session.expire_all()
    assert unchanged(user)
    assert list(db.session.scalars(db.select(RecoveryCode.code_hash))) == before


def test_csrf_check_is_not_vacuous(client, make, ctx):
    """The same post with the page's token does act (so the refusals above are the
    CSRF check at work, not a broken form)."""
    user = _signed_in_with_factor(client, make)
    factor_id = factors.factors(user.id)[0].id
    response = client.post(
        f"/account/mfa/factors/{factor_id}/remove",
        data={"csrf_token": csrf(client, "/account/mfa")},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(MfaFactor, factor_id) is None
    assert recovery.remaining_recovery_codes(user.id) == 0


def test_changes_to_factors_are_emailed(client, make, ctx):
    """ASVS 2.2.3: adding or removing a factor, and using a recovery code, sends the
    person an email through the outbox."""
    user = make.user()
    enrol_totp(user)
    codes = recovery.generate_recovery_codes(user, SYSTEM)
    db.session.commit()
    login(client, user.email)
    submit_code(client, codes[0], method="recovery")
    mfa_services.remove_factor(user, factors.factors(user.id)[0].id, SYSTEM)
    db.session.commit()

    query = db.select(OutboxMessage).where(OutboxMessage.kind == "email")
    subjects = [m.payload["subject"] for m in db.session.scalars(query)]
    assert "Two-step verification method added" in subjects
    assert "A recovery code was used" in subjects
    assert "Two-step verification method removed" in subjects
    assert all(
        m.payload["to"] == user.email
        for m in db.session.scalars(query)
        if "erification" in m.payload["subject"] or "recovery" in m.payload["subject"]
    )
