"""The login's second step: a person with a factor proves it after the password; an
organization requiring MFA forces a set-up; attempts are audited, capped and
rate-limited; the pending login lapses after 5 minutes."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

from ciam import create_app
from ciam.accounts.login import flow as login_flow
from ciam.accounts.mfa import factors
from ciam.accounts.models import LoginSession
from ciam.delegation import services as orgs
from ciam.extensions import db
from tests.accounts.mfa_support import (
    MANUAL_KEY,
    csrf,
    enrol_totp,
    events,
    login,
    submit_code,
    tags,
    totp_now,
    wrong_code,
)


def _sessions(user_id) -> list[LoginSession]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(LoginSession).where(LoginSession.user_id == user_id)))


def test_password_alone_does_not_log_in_a_person_with_a_factor(client, make, ctx):
    """After the right password a person with an authenticator is sent to /login/mfa,
    with no login session yet; the right code opens one with amr pwd+otp+mfa."""
    user = make.user()
    secret = enrol_totp(user)

    response = login(client, user.email)

    assert response.status_code == 303
    assert response.headers["Location"] == "/login/mfa"
    assert client.get("/account").status_code == 302
    assert _sessions(user.id) == []
    page = client.get("/login/mfa").get_data(as_text=True)
    assert 'for="totp-code">Code from your authenticator app' in page

    done = submit_code(client, totp_now(secret))

    assert done.status_code == 303
    assert done.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200
    assert [s.amr for s in _sessions(user.id)] == [["pwd", "otp", "mfa"]]
    assert "account:mfa:verified" in tags(user.id)


def test_person_without_factor_logs_in_with_password(client, make, ctx):
    """No factor and no policy: the password completes the login, amr ["pwd"]."""
    user = make.user()
    response = login(client, user.email)
    assert response.headers["Location"] == "/account"
    assert [s.amr for s in _sessions(user.id)] == [["pwd"]]


def test_wrong_code_is_refused_and_audited(client, make, ctx):
    """A wrong code: 401, no session, and an account:mfa:failure event naming the
    method (the audit trail is how failures are counted)."""
    user = make.user()
    secret = enrol_totp(user)
    login(client, user.email)

    response = submit_code(client, wrong_code(secret))

    assert response.status_code == 401
    assert "That code is not right" in response.get_data(as_text=True)
    assert _sessions(user.id) == []
    failure = events(user.id, "account:mfa:failure")[-1]
    assert failure.data == {"method": "totp", "reason": "wrong_code"}


def test_next_survives_the_second_step(client, make, ctx):
    """The page the person was going to (an authorization request) comes after the
    second step, not only after the password."""
    user = make.user()
    secret = enrol_totp(user)
    login(client, user.email, next_url="/oauth/authorize?client_id=x&state=y")

    response = submit_code(client, totp_now(secret))

    assert response.headers["Location"] == "/oauth/authorize?client_id=x&state=y"


def test_second_step_without_a_pending_login_goes_to_login(client):
    """/login/mfa on its own (no password entered) is just a way back to /login."""
    assert client.get("/login/mfa").headers["Location"] == "/login"
    assert client.get("/login/mfa/enrol").headers["Location"] == "/login"


def test_pending_login_lapses_after_five_minutes(client, make, ctx, monkeypatch):
    """The state between password and code lives 5 minutes; after that a right code
    no longer logs in and the person starts again."""
    user = make.user()
    secret = enrol_totp(user)
    login(client, user.email)
    token = csrf(client, "/login/mfa")
    later = time.time() + login_flow.PENDING_TTL_SECONDS + 1
    monkeypatch.setattr(login_flow, "time", SimpleNamespace(time=lambda: later))

    response = client.post(
        "/login/mfa", data={"csrf_token": token, "method": "totp", "code": totp_now(secret)}
    )

    assert response.headers["Location"] == "/login"
    assert _sessions(user.id) == []


def test_consecutive_failures_are_capped(client, make, ctx, app, monkeypatch):
    """NIST 800-63B §5.2.2: after CIAM_MFA_MAX_FAILURES wrong codes in a row even the
    right code is refused (and the refusal is audited)."""
    monkeypatch.setitem(app.config, "CIAM_MFA_MAX_FAILURES", 3)
    user = make.user()
    secret = enrol_totp(user)
    login(client, user.email)
    for _ in range(3):
        assert submit_code(client, wrong_code(secret)).status_code == 401

    response = submit_code(client, totp_now(secret))

    assert response.status_code == 401
    assert "Too many wrong codes" in response.get_data(as_text=True)
    assert _sessions(user.id) == []
    assert events(user.id, "account:mfa:failure")[-1].data["reason"] == "locked"


def test_org_requiring_mfa_forces_enrolment_at_login(client, make, ctx):
    """DESIGN §2 org policy: a member of an organization with mfa_required and no
    factor is sent to set up an authenticator after the password; the login opens
    only once a code from the new authenticator is entered."""
    user = make.user()
    org = orgs.create_org("strict-co", "Strict Co")
    org.mfa_required = True
    orgs.add_member(org, user)
    db.session.commit()

    response = login(client, user.email)

    assert response.headers["Location"] == "/login/mfa/enrol"
    assert client.get("/login/mfa").headers["Location"] == "/login/mfa/enrol"
    page = client.get("/login/mfa/enrol").get_data(as_text=True)
    assert "Your organization requires two-step verification." in page
    assert _sessions(user.id) == []
    secret = MANUAL_KEY.search(page).group(1).replace(" ", "")

    done = client.post(
        "/login/mfa/enrol",
        data={
            "csrf_token": csrf(client, "/login/mfa/enrol"),
            "method": "totp",
            "code": totp_now(secret),
        },
    )

    assert done.status_code == 200
    assert done.get_data(as_text=True).count("<li><code>") == 10
    assert [s.amr for s in _sessions(user.id)] == [["pwd", "otp", "mfa"]]
    assert client.get("/account").status_code == 200
    assert {"account:mfa:enrolment_required", "account:mfa:enrolled"} <= set(tags(user.id))


def test_forced_enrolment_refuses_a_wrong_code(client, make, ctx):
    """The forced set-up is no way around the code: a wrong one opens no session."""
    user = make.user()
    org = orgs.create_org("strict-two", "Strict Two")
    org.mfa_required = True
    orgs.add_member(org, user)
    db.session.commit()
    login(client, user.email)

    response = client.post(
        "/login/mfa/enrol",
        data={"csrf_token": csrf(client, "/login/mfa/enrol"), "method": "totp", "code": "000000"},
    )

    assert response.status_code == 401
    assert _sessions(user.id) == []
    assert not factors.has_factor(user.id)


def test_org_without_policy_does_not_force_enrolment(client, make, ctx):
    """Membership alone changes nothing: only mfa_required forces a set-up."""
    user = make.user()
    orgs.add_member(orgs.create_org("relaxed-co", "Relaxed Co"), user)
    db.session.commit()
    assert login(client, user.email).headers["Location"] == "/account"


def test_second_step_attempts_are_rate_limited(database_url, app, make, ctx):
    """CIAM_MFA_RATE_LIMIT (per person) answers 429 once the budget is spent, even
    to a right code."""
    os.environ["CIAM_DATABASE_URL"] = database_url
    limited = create_app(
        {
            "SECRET_KEY": app.config["SECRET_KEY"],  # the same key reads the same seeds
            "RATELIMIT_ENABLED": True,
            "CIAM_MFA_RATE_LIMIT": "3/minute",
        }
    )
    from tests.conftest import IsolatedClient

    limited.test_client_class = IsolatedClient
    client = limited.test_client()
    user = make.user()
    secret = enrol_totp(user)
    login(client, user.email)
    statuses = [submit_code(client, wrong_code(secret)).status_code for _ in range(3)]

    blocked = submit_code(client, totp_now(secret))

    assert statuses == [401, 401, 401]
    assert blocked.status_code == 429
    with limited.app_context():
        db.engine.dispose()
