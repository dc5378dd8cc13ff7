"""SMS one-time codes: phone enrolment, login codes through the console provider and
through the `twilio` package against a local double of Twilio's Messages API, 10
minute expiry, 5 tries, send throttling, nothing secret left in the outbox."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest

from ciam.accounts.mfa import factors
from ciam.accounts.mfa import sms as mfa_sms
from ciam.accounts.mfa.models import FactorKind, MfaFactor, SmsChallenge
from ciam.accounts.models import LoginSession
from ciam.db import utcnow
from ciam.errors import ConfigError
from ciam.extensions import db
from ciam.outbox import sms
from ciam.outbox.models import OutboxMessage, OutboxStatus
from ciam.outbox.sealing import open_payload
from tests.accounts.mfa_support import csrf, enrol_sms, events, login, sms_code, submit_code, tags

SID = "AC" + "0" * 32
TOKEN = "twilio-test-auth-token"
SENDER = "+15005550006"


class TwilioDouble:
    """Twilio's `POST /2010-04-01/Accounts/{sid}/Messages.json`, on a loopback port,
    recording what it received and answering as Twilio does (201 + message JSON)."""

    def __init__(self):
        self.requests: list[dict] = []
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                double.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "form": form}
                )
                expected = f"/2010-04-01/Accounts/{SID}/Messages.json"
                status = 201 if self.path == expected else 404
                reply = {
                    "sid": "SM" + "1" * 32,
                    "account_sid": SID,
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "body": form.get("Body"),
                    "status": "queued",
                    "num_segments": "1",
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "uri": f"/2010-04-01/Accounts/{SID}/Messages/SM{'1' * 32}.json",
                }
                payload = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _sessions(user_id) -> list[LoginSession]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(LoginSession).where(LoginSession.user_id == user_id)))


def _challenges(user_id) -> list[SmsChallenge]:
    db.session.expire_all()
    query = db.select(SmsChallenge).where(SmsChallenge.user_id == user_id)
    return list(db.session.scalars(query.order_by(SmsChallenge.created_at)))


def _send(client):
    return client.post("/login/mfa/sms", data={"csrf_token": csrf(client, "/login/mfa")})


def _age_sends(user_id, seconds: int) -> None:
    """Pretend the person's earlier texts were sent `seconds` earlier."""
    for challenge in _challenges(user_id):
        challenge.created_at -= timedelta(seconds=seconds)
    db.session.commit()


def test_phone_enrolment_verifies_the_number_with_a_code(client, make, ctx, capsys):
    """Adding a phone texts a code to it (console provider by default); the phone
    counts as a factor only once that code is entered."""
    user = make.user()
    login(client, user.email)

    sent = client.post(
        "/account/mfa/sms",
        data={"csrf_token": csrf(client, "/account/mfa/sms"), "phone": "+41 79 123 45 67"},
    )

    assert sent.headers["Location"] == "/account/mfa/sms/confirm"
    printed = capsys.readouterr().out
    assert "sms to +41791234567" in printed
    assert not factors.has_factor(user.id)
    page = client.get("/account/mfa/sms/confirm").get_data(as_text=True)
    assert "•••• 4567" in page

    done = client.post(
        "/account/mfa/sms/confirm",
        data={
            "csrf_token": csrf(client, "/account/mfa/sms/confirm"),
            "method": "sms",
            "code": sms_code(printed),
        },
    )

    assert done.status_code == 200  # first factor: the recovery codes page
    factor = factors.factor_of_kind(user.id, FactorKind.sms)
    assert factor.phone_number == "+41791234567"
    assert "account:mfa:enrolled" in tags(user.id)


def test_phone_enrolment_refuses_a_wrong_code(client, make, ctx, capsys):
    """A wrong code leaves the phone unconfirmed and is audited."""
    user = make.user()
    login(client, user.email)
    client.post(
        "/account/mfa/sms",
        data={"csrf_token": csrf(client, "/account/mfa/sms"), "phone": "+41791234567"},
    )
    code = sms_code(capsys.readouterr().out)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    response = client.post(
        "/account/mfa/sms/confirm",
        data={
            "csrf_token": csrf(client, "/account/mfa/sms/confirm"),
            "method": "sms",
            "code": wrong,
        },
    )

    assert response.status_code == 401
    assert not factors.has_factor(user.id)
    assert events(user.id, "account:mfa:failure")[-1].data["method"] == "sms"


@pytest.mark.parametrize("phone", ["079 123 45 67", "+0 79 123", "+41 79 abc 45 67", "+1234"])
def test_phone_numbers_must_be_e164(client, make, ctx, phone):
    """Numbers need a country code (E.164); anything else is refused with a message
    and nothing is sent."""
    user = make.user()
    login(client, user.email)

    response = client.post(
        "/account/mfa/sms", data={"csrf_token": csrf(client, "/account/mfa/sms"), "phone": phone}
    )

    assert response.status_code == 400
    assert "country code" in response.get_data(as_text=True)
    assert _challenges(user.id) == []


def test_login_with_a_code_sent_by_console_sms(client, make, ctx, capsys):
    """The second step offers to text a code; the code from the message completes
    the login with amr pwd+sms+mfa."""
    user = make.user()
    enrol_sms(user)
    login(client, user.email)
    assert "Text a code to •••• 4567" in client.get("/login/mfa").get_data(as_text=True)

    sent = _send(client)

    assert sent.headers["Location"] == "/login/mfa?sent=1"
    code = sms_code(capsys.readouterr().out)
    assert submit_code(client, code, method="sms").status_code == 303
    assert [s.amr for s in _sessions(user.id)] == [["pwd", "sms", "mfa"]]


def test_outbox_row_does_not_hold_the_code(client, make, ctx, capsys):
    """The text leaves through the outbox (kind "sms"), sealed: a copy of the outbox
    table shows no code."""
    user = make.user()
    enrol_sms(user)
    login(client, user.email)
    _send(client)
    code = sms_code(capsys.readouterr().out)

    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == "sms"))

    assert message.status == OutboxStatus.sent
    assert message.payload["to"] == "+41791234567"
    assert code not in json.dumps(message.payload)
    assert code in open_payload("sms", message.payload)["text"]


def test_login_code_through_twilio_package_and_local_double(client, make, ctx, app, monkeypatch):
    """With CIAM_SMS_PROVIDER=twilio the `twilio` package posts to the Messages
    endpoint (here a local double via CIAM_TWILIO_BASE_URL): account SID in the path,
    basic auth, To, From and a Body holding the code, which then logs in."""
    user = make.user()
    enrol_sms(user, "+447700900123")
    with TwilioDouble() as double:
        for key, value in {
            "CIAM_SMS_PROVIDER": "twilio",
            "CIAM_TWILIO_ACCOUNT_SID": SID,
            "CIAM_TWILIO_AUTH_TOKEN": TOKEN,
            "CIAM_TWILIO_FROM": SENDER,
            "CIAM_TWILIO_BASE_URL": double.url,
        }.items():
            monkeypatch.setitem(app.config, key, value)
        login(client, user.email)

        _send(client)

    assert len(double.requests) == 1
    received = double.requests[0]
    assert received["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    credentials = base64.b64decode(received["headers"]["Authorization"].split()[1]).decode()
    assert credentials == f"{SID}:{TOKEN}"
    assert received["form"]["To"] == "+447700900123"
    assert received["form"]["From"] == SENDER
    code = sms_code(received["form"]["Body"])
    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == "sms"))
    assert message.status == OutboxStatus.sent
    assert submit_code(client, code, method="sms").status_code == 303
    assert [s.amr for s in _sessions(user.id)] == [["pwd", "sms", "mfa"]]


def test_twilio_failure_keeps_the_message_for_a_retry(client, make, ctx, app, monkeypatch):
    """Twilio answering an error (here: wrong account path, 404) leaves the outbox row
    pending with the error noted, so the worker retries instead of losing it."""
    user = make.user()
    enrol_sms(user)
    with TwilioDouble() as double:
        for key, value in {
            "CIAM_SMS_PROVIDER": "twilio",
            "CIAM_TWILIO_ACCOUNT_SID": "AC" + "9" * 32,
            "CIAM_TWILIO_AUTH_TOKEN": TOKEN,
            "CIAM_TWILIO_FROM": SENDER,
            "CIAM_TWILIO_BASE_URL": double.url,
        }.items():
            monkeypatch.setitem(app.config, key, value)
        login(client, user.email)
        _send(client)

    assert len(double.requests) == 1
    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == "sms"))
    assert message.status == OutboxStatus.pending
    assert message.attempts == 1 and "404" in message.last_error


def test_sms_code_expires_after_ten_minutes(client, make, ctx, capsys, monkeypatch):
    """NIST 800-63B §5.1.3.2: an SMS code works for 10 minutes, not a second more."""
    user = make.user()
    enrol_sms(user)
    login(client, user.email)
    _send(client)
    code = sms_code(capsys.readouterr().out)
    challenge = _challenges(user.id)[0]
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=10)
    sent_at = challenge.created_at
    monkeypatch.setattr(mfa_sms, "utcnow", lambda: sent_at + timedelta(minutes=10, seconds=1))

    response = submit_code(client, code, method="sms")

    assert response.status_code == 401
    assert _sessions(user.id) == []


def test_sms_code_still_works_just_before_expiry(client, make, ctx, capsys, monkeypatch):
    """The other side of the boundary: at 9 min 59 s the code is accepted."""
    user = make.user()
    enrol_sms(user)
    login(client, user.email)
    _send(client)
    code = sms_code(capsys.readouterr().out)
    sent_at = _challenges(user.id)[0].created_at
    monkeypatch.setattr(mfa_sms, "utcnow", lambda: sent_at + timedelta(minutes=9, seconds=59))

    assert submit_code(client, code, method="sms").status_code == 303


def test_five_wrong_tries_burn_the_code(client, make, ctx, capsys):
    """At most 5 tries per code: after five wrong ones the right code fails too."""
    user = make.user()
    enrol_sms(user)
    login(client, user.email)
    _send(client)
    code = sms_code(capsys.readouterr().out)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert submit_code(client, wrong, method="sms").status_code == 401

    response = submit_code(client, code, method="sms")

    assert response.status_code == 401
    assert _challenges(user.id)[0].attempts == 5
    assert len(events(user.id, "account:mfa:failure")) == 6


def test_four_wrong_tries_leave_the_code_usable(client, make, ctx, capsys):
    """The limit is exactly five: after four wrong tries the right code still works."""
    user = make.user()
    enrol_sms(user)
    login(client, user.email)
    _send(client)
    code = sms_code(capsys.readouterr().out)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        submit_code(client, wrong, method="sms")

    assert submit_code(client, code, method="sms").status_code == 303


def test_sms_code_works_once(client, make, ctx, capsys):
    """A used SMS code cannot complete a second login."""
    user = make.user()
    enrol_sms(user)
    login(client, user.email)
    _send(client)
    code = sms_code(capsys.readouterr().out)
    assert submit_code(client, code, method="sms").status_code == 303
    client.post("/logout", data={"csrf_token": csrf(client, "/logout")})
    login(client, user.email)

    assert submit_code(client, code, method="sms").status_code == 401


def test_a_new_code_replaces_the_previous_one(client, make, ctx, capsys):
    """Asking again makes the earlier code useless: only the latest text counts."""
    user = make.user()
    enrol_sms(user)
    login(client, user.email)
    _send(client)
    first = sms_code(capsys.readouterr().out)
    _age_sends(user.id, 31)
    _send(client)
    second = sms_code(capsys.readouterr().out)

    if first != second:
        assert submit_code(client, first, method="sms").status_code == 401
    assert submit_code(client, second, method="sms").status_code == 303


def test_sends_are_throttled(client, make, ctx, capsys):
    """One text per 30 s and at most 5 per hour per person; a refused send says why,
    texts nobody and is audited."""
    user = make.user()
    enrol_sms(user)
    login(client, user.email)
    assert _send(client).status_code == 303

    too_soon = _send(client)

    assert too_soon.status_code == 429
    assert "Wait half a minute" in too_soon.get_data(as_text=True)
    assert len(_challenges(user.id)) == 1
    for _ in range(4):
        _age_sends(user.id, 31)
        assert _send(client).status_code == 303
    _age_sends(user.id, 31)

    sixth = _send(client)

    assert sixth.status_code == 429
    assert "Too many codes" in sixth.get_data(as_text=True)
    assert len(_challenges(user.id)) == 5
    assert capsys.readouterr().out.count("--- sms to") == 5
    assert "account:mfa:sms_throttled" in tags(user.id)
    _age_sends(user.id, 3600)
    assert _send(client).status_code == 303


def test_enrolment_sends_are_throttled_too(client, make, ctx):
    """Adding a phone again and again cannot text a number more than the limit."""
    user = make.user()
    login(client, user.email)
    post = {"phone": "+41791234567"}
    first = client.post(
        "/account/mfa/sms", data={"csrf_token": csrf(client, "/account/mfa/sms"), **post}
    )
    again = client.post(
        "/account/mfa/sms", data={"csrf_token": csrf(client, "/account/mfa/sms"), **post}
    )
    assert first.status_code == 303
    assert again.status_code == 429
    assert len(_challenges(user.id)) == 1
    pending = db.session.scalars(db.select(MfaFactor).where(MfaFactor.user_id == user.id))
    assert len(list(pending)) == 1


def _config(**values) -> SimpleNamespace:
    config = {
        "CIAM_SMS_PROVIDER": "console",
        "CIAM_TWILIO_ACCOUNT_SID": None,
        "CIAM_TWILIO_AUTH_TOKEN": None,
        "CIAM_TWILIO_FROM": None,
        "CIAM_TWILIO_BASE_URL": None,
    }
    config.update(values)
    return SimpleNamespace(config=config)


def test_sms_configuration_is_checked_at_start():
    """An unknown provider, Twilio without credentials, or a Twilio base URL over
    plain http off loopback (the auth token would travel in clear) refuse to start."""
    twilio = {
        "CIAM_SMS_PROVIDER": "twilio",
        "CIAM_TWILIO_ACCOUNT_SID": SID,
        "CIAM_TWILIO_AUTH_TOKEN": TOKEN,
        "CIAM_TWILIO_FROM": SENDER,
    }
    sms.check_config(_config())
    sms.check_config(_config(**twilio))
    sms.check_config(_config(**twilio, CIAM_TWILIO_BASE_URL="http://127.0.0.1:9"))
    sms.check_config(_config(**twilio, CIAM_TWILIO_BASE_URL="https://sms-proxy.example"))
    with pytest.raises(ConfigError, match="CIAM_SMS_PROVIDER"):
        sms.check_config(_config(CIAM_SMS_PROVIDER="carrier-pigeon"))
    with pytest.raises(ConfigError, match="CIAM_TWILIO_AUTH_TOKEN"):
        sms.check_config(_config(**{**twilio, "CIAM_TWILIO_AUTH_TOKEN": None}))
    with pytest.raises(ConfigError, match="https"):
        sms.check_config(_config(**twilio, CIAM_TWILIO_BASE_URL="http://sms-proxy.example"))


def test_challenge_rows_keep_only_a_keyed_hash(client, make, ctx, capsys):
    """The SMS code is stored as an HMAC keyed with the server secret, so a database
    copy does not give the 6 digits away by hashing all million of them."""
    import hashlib

    user = make.user()
    enrol_sms(user)
    login(client, user.email)
    _send(client)
    code = sms_code(capsys.readouterr().out)
    challenge = _challenges(user.id)[0]

    assert code not in challenge.code_hash
    assert challenge.code_hash != hashlib.sha256(code.encode()).hexdigest()
    assert utcnow() < challenge.expires_at
