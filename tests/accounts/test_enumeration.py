"""No user enumeration through login (ASVS 2.2.1 / 3.2, NIST 800-63B §5.2.2): an
unknown email gets the same status, the same page and the same hashing work as a
known email with a wrong password, so neither the answer nor its timing tells."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from ciam.accounts.models import UserStatus
from ciam.db import utcnow
from ciam.extensions import db
from tests.accounts.security_support import CSRF, csrf, login

RUNS = 30
TOLERANCE = 0.40


def _page(response, email: str) -> str:
    # The email typed is echoed back into the form, and the CSRF token is signed with
    # a timestamp: both differ by design, so both are blanked.
    html = response.get_data(as_text=True).replace(email, "X")
    return CSRF.sub("csrf", html)


def _same_page(response, email, reference, reference_email) -> bool:
    return _page(response, email) == _page(reference, reference_email)


@pytest.mark.parametrize("case", ["unknown", "locked", "suspended", "no_password"])
def test_same_status_and_page_as_a_wrong_password(client, make, case):
    """Unknown email, locked account, inactive account and account without password
    all answer exactly like a wrong password for an existing account."""
    known = make.user()
    reference = login(client, known.email, "not the password")
    email = "nobody@example.test"
    if case != "unknown":
        other = make.user()
        email = other.email
        if case == "locked":
            other.status, other.locked_until = UserStatus.locked, utcnow() + timedelta(hours=1)
        elif case == "suspended":
            other.status = UserStatus.suspended
        else:
            other.password_hash = None
        db.session.commit()
    response = login(client, email, "not the password")
    assert response.status_code == reference.status_code == 401
    assert _same_page(response, email, reference, known.email)


def test_unknown_email_does_the_same_hashing_work(client, make, monkeypatch):
    """The unknown-email path runs one argon2 verification, as a known email does."""
    user = make.user()
    calls = []
    real_verify = PasswordHasher.verify
    monkeypatch.setattr(
        PasswordHasher, "verify", lambda *a, **k: calls.append(1) or real_verify(*a, **k)
    )
    token = csrf(client)
    login(client, user.email, "not the password", token=token)
    known_calls, calls[:] = len(calls), []
    login(client, "nobody@example.test", "not the password", token=token)
    assert known_calls == len(calls) == 1


def test_unknown_and_known_email_take_similar_time(app, client, make, monkeypatch):
    """Timing: 30 logins each for an unknown email and for a known email with a wrong
    password, interleaved; the medians differ by less than 40 %. Without the dummy
    hash the unknown email answers many times faster and this fails."""
    monkeypatch.setitem(app.config, "CIAM_LOCKOUT_THRESHOLD", 100)  # measure guessing, not locks
    user = make.user()
    token = csrf(client)
    timings = {"known": [], "unknown": []}
    for _ in range(RUNS):
        for kind, email in (("known", user.email), ("unknown", "nobody@example.test")):
            start = time.perf_counter()
            response = login(client, email, "not the password", token=token)
            timings[kind].append(time.perf_counter() - start)
            assert response.status_code == 401
    known, unknown = (statistics.median(timings[k]) for k in ("known", "unknown"))
    assert abs(known - unknown) / max(known, unknown) < TOLERANCE, (known, unknown)
