"""No password, token, code, secret, link or one-time code in any log line: every
flow that handles one runs, everything logged meanwhile is captured (the ciam log
sink, on stderr; stdout; and every other logger at INFO), and none of the
credentials the flows used or received appears in it."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlsplit

import pytest

from tests.accounts.mfa_support import enrol_totp, submit_code, totp_now
from tests.accounts.mfa_support import login as mfa_login
from tests.accounts.selfservice import CSRF, link_in, mail_to, post_form
from tests.factories import PASSWORD
from tests.oidc.attacker import client_for, userinfo
from tests.smtp import SMTPServer

WRONG_PASSWORD = "not the password at all 81"
RESET_PASSWORD = "copper harbour violet 2032"
INVITED_PASSWORD = "lantern meadow quartz 77"
# The development server's access log: it prints raw request lines (paths with link
# tokens) and is never the production server, which `ciam serve` runs without an
# access log (ciam.cli); ciam's own request line replaces it.
TEST_SERVER_LOGGER = "werkzeug"


@pytest.fixture
def smtp(app, monkeypatch):
    """Emails go to a real SMTP server: without one they are printed (demo mode)."""
    server = SMTPServer().start()
    monkeypatch.setitem(app.config, "CIAM_SMTP_URL", server.url)
    yield server
    server.stop()


def _sign_in_with_totp(client, make) -> list[str]:
    user = make.user()
    secret = enrol_totp(user)
    assert mfa_login(client, user.email, WRONG_PASSWORD).status_code == 401
    assert mfa_login(client, user.email).status_code == 303
    code = totp_now(secret)
    assert submit_code(client, code).status_code == 303
    return [PASSWORD, WRONG_PASSWORD, secret, code]


def _portal_tokens(live_server, make) -> list[str]:
    portal, client_secret = make.portal(scopes=["openid", "profile", "email"])
    rp = client_for(live_server, portal, client_secret)
    code, verifier = rp.get_code(make.user().email)
    tokens = rp.redeem(code, verifier).json()
    refreshed = rp.refresh(tokens["refresh_token"]).json()
    assert userinfo(live_server, refreshed["access_token"]).status_code == 200
    assert rp.is_active(refreshed["access_token"])
    machine = rp.token(grant_type="client_credentials", scope="profile").json()
    secrets = [client_secret, code, verifier, machine["access_token"]]
    for body in (tokens, refreshed):
        secrets += [body["access_token"], body["refresh_token"], body["id_token"]]
    return secrets


def _password_reset(client, make, smtp) -> list[str]:
    user = make.user()
    assert post_form(client, "/reset-password", {"email": user.email}).status_code == 200
    link = link_in(mail_to(smtp, user.email)[-1])
    path = urlsplit(link).path
    response = post_form(client, path, {"new_password": RESET_PASSWORD})
    assert response.status_code in (200, 303), response.get_data(as_text=True)
    return [link, path.rsplit("/", 1)[-1], RESET_PASSWORD]


def _invitation_accept(client, make) -> list[str]:
    make.org(slug="redaction-org")
    _, link = make.invitation("invited.person@example.com", "redaction-org")
    path = urlsplit(link).path
    page = client.get(path)
    form = {"csrf_token": CSRF.search(page.get_data(as_text=True)).group(1)}
    response = client.post(path, data={**form, "password": INVITED_PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)
    return [link, path.rsplit("/", 1)[-1], INVITED_PASSWORD]


def _appears(secret: str, logged: str) -> bool:
    if secret.isdigit():  # a one-time code: only as a number of its own
        return re.search(rf"(?<![0-9]){secret}(?![0-9])", logged) is not None
    return secret in logged


def test_no_credential_in_any_log_line(live_server, client, make, smtp, capsys, caplog):
    """Password sign-in (a wrong password too) with TOTP, a code exchange with PKCE,
    a refresh, userinfo and introspection, client_credentials, a password reset by
    emailed link, an invitation accepted: nothing they carry is logged."""
    caplog.set_level(logging.INFO)
    secrets = _sign_in_with_totp(client, make)
    secrets += _portal_tokens(live_server, make)
    secrets += _password_reset(client, make, smtp)
    secrets += _invitation_accept(client, make)

    captured = capsys.readouterr()
    others = [r.getMessage() for r in caplog.records if r.name != TEST_SERVER_LOGGER]
    logged = "\n".join([captured.out, captured.err, *others])
    lines = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    # The capture is not empty: every request and event of the flows wrote a line.
    assert sum(1 for line in lines if line.get("event") == "request") >= 20
    assert {"account:login:failure", "account:mfa:verified", "invitation:accepted"} <= {
        line.get("tag") for line in lines
    }
    assert all(len(secret) >= 6 for secret in secrets)
    leaked = [secret for secret in secrets if _appears(secret, logged)]
    assert leaked == []
