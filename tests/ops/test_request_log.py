"""The request observer's log line and request id (ciam.ops.observer): one JSON line
per request, fast paths included; X-Request-Id from a trusted proxy only, always
returned; the client's address as ProxyFix gives it."""

from __future__ import annotations

import io
import json

import pytest

from ciam.ops.logs import SINK
from ciam.ops.observer import RequestIds, usable_request_id
from tests.accounts.security_support import extra_app
from tests.accounts.selfservice import login
from tests.oidc.attacker import client_for, userinfo


@pytest.fixture
def log_lines(monkeypatch):
    """What the ciam log sink writes during the test, line by line."""
    stream = io.StringIO()
    monkeypatch.setattr(SINK, "stream", stream)
    return lambda: [line for line in stream.getvalue().splitlines() if line]


def _requests(lines: list[str]) -> list[dict]:
    parsed = [json.loads(line) for line in lines]
    return [entry for entry in parsed if entry.get("event") == "request"]


def test_one_json_line_per_request_with_its_id(client, log_lines):
    """Every line is a JSON object; the request's line names the route template,
    status and duration, and its id is the X-Request-Id answered."""
    response = client.get("/healthz")
    [line] = _requests(log_lines())
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert line["endpoint"] == "/healthz"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["ms"] >= 0
    assert line["level"] == "info" and line["ts"] > 0


def test_audit_event_lines_carry_the_request_id(client, make, log_lines):
    """A sign-in writes its audit event's line with the id of the request it was
    recorded in, and names the tag, not the event's data."""
    user = make.user()
    response = login(client, user.email)
    entries = [json.loads(line) for line in log_lines()]
    [event] = [e for e in entries if e.get("tag") == "account:login:success"]
    assert event["request_id"] == response.headers["X-Request-Id"]
    assert event["actor_id"] == str(user.id)
    assert user.email not in json.dumps(entries)


def test_fast_path_answers_are_logged(live_server, make, log_lines):
    """/oauth/userinfo answered before Flask still gets its line (the observer is
    outside the fast paths)."""
    portal, secret = make.portal(scopes=["openid", "profile"])
    tokens = client_for(live_server, portal, secret).login(make.user().email)
    response = userinfo(live_server, tokens["access_token"])
    [line] = [r for r in _requests(log_lines()) if r["endpoint"] == "/oauth/userinfo"]
    assert line["status"] == 200
    assert line["request_id"] == response.headers["X-Request-Id"]


def test_request_id_from_the_client_is_ignored_without_trusted_proxies(client):
    """Anyone can send X-Request-Id: without a trusted proxy it is not taken."""
    response = client.get("/healthz", headers={"X-Request-Id": "chosen-by-the-client"})
    assert response.headers["X-Request-Id"] != "chosen-by-the-client"


def test_trusted_proxy_request_id_and_client_address(database_url, app, log_lines):
    """Behind one trusted proxy: its X-Request-Id is kept and returned, the client
    address is the one the proxy forwarded (the observer sits inside ProxyFix)."""
    with extra_app(database_url, CIAM_TRUSTED_PROXIES=1) as other:
        client = other.test_client()
        headers = {"X-Request-Id": "lb-7f3a-0001", "X-Forwarded-For": "203.0.113.7"}
        response = client.get("/healthz", headers=headers)
        unusable = client.get("/healthz", headers={"X-Request-Id": "x" * 500})
    assert response.headers["X-Request-Id"] == "lb-7f3a-0001"
    assert unusable.headers["X-Request-Id"] != "x" * 500
    first = _requests(log_lines())[0]
    assert first["request_id"] == "lb-7f3a-0001"
    assert first["ip"] == "203.0.113.7"


def test_text_format(database_url, app, log_lines):
    """CIAM_LOG_FORMAT=text: key=value pairs, for a terminal."""
    with extra_app(database_url, CIAM_LOG_FORMAT="text") as other:
        try:
            other.test_client().get("/healthz")
        finally:
            SINK.json = app.config["CIAM_LOG_FORMAT"] == "json"
    [line] = [entry for entry in log_lines() if "event=request" in entry]
    assert "endpoint=/healthz" in line and "status=200" in line


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        ("abc-123", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("line\nbreak", False),
        ("naïve", False),
        ("", False),
        (None, False),
    ],
)
def test_which_proxy_request_ids_are_used(value, usable):
    """Short printable ASCII only: it is echoed in a header and written in logs."""
    assert (usable_request_id(value) is not None) is usable


def test_request_ids_are_unique_and_a_forked_child_draws_its_own_prefix():
    """A counter behind a random per-process prefix; renew() is what a fork runs."""
    ids = RequestIds()
    drawn = {ids.next() for _ in range(1000)}
    assert len(drawn) == 1000
    prefix = ids.prefix
    ids.renew()
    assert ids.prefix != prefix
