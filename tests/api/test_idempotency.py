"""Idempotency-Key on the API's POSTs (draft-ietf-httpapi-idempotency-key-header):
a CRM retry or double click with the same key never invites twice."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from ciam.api import idempotency
from ciam.api.models import IdempotencyKey
from ciam.db import utcnow
from ciam.extensions import db
from tests.api.support import crm_headers, email_count, invitations
from tests.conftest import require_service

URL = "/api/v1/invitations"
BODY = {"email": "pat@example.com", "org": "acme"}


@pytest.fixture
def crm(client, make):
    make.org(slug="acme")
    return crm_headers(client, make)


def _post(client, headers, key, body=BODY, url=URL):
    return client.post(url, json=body, headers={**headers, "Idempotency-Key": key})


def test_same_key_same_body_replays_the_first_answer(client, crm):
    """Two identical POSTs with one key: one invitation, one email, the same status,
    body and Location; the second is marked as a replay."""
    first = _post(client, crm, "k-1")
    again = _post(client, crm, "k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(invitations()) == 1
    assert email_count() == 1


def test_same_key_other_body_is_422(client, crm):
    """The key names one request: reusing it for another body is refused."""
    assert _post(client, crm, "k-2").status_code == 201
    other = _post(client, crm, "k-2", {"email": "sam@example.com", "org": "acme"})
    assert other.status_code == 422
    assert other.json["error"] == "idempotency_key_reused"
    assert set(other.json) == {"error", "message", "details"}
    assert len(invitations()) == 1


def test_keys_are_per_client(client, make, crm):
    """Another client's identical key is its own: it is not replayed the first
    client's answer (it gets the pending invitation with 200, as without a key)."""
    other = crm_headers(client, make)
    assert _post(client, crm, "shared").status_code == 201
    theirs = _post(client, other, "shared")
    assert theirs.status_code == 200
    assert "Idempotent-Replayed" not in theirs.headers


def test_request_in_flight_is_409(client, crm, ctx):
    """While the first request with a key is being processed (its row reserved, no
    answer yet), a second one is 409 and does nothing."""
    first = _post(client, crm, "k-3")  # learn our client id from a real request
    row = db.session.scalar(db.select(IdempotencyKey).where(IdempotencyKey.key == "k-3"))
    client_id = row.client_id
    now = utcnow()
    db.session.add(
        IdempotencyKey(
            client_id=client_id,
            key="busy",
            fingerprint=idempotency.fingerprint("POST", URL, b"{}"),
            created_at=now,
            expires_at=now + idempotency.TTL,
        )
    )
    db.session.commit()
    busy = client.post(
        URL, data="{}", content_type="application/json", headers={**crm, "Idempotency-Key": "busy"}
    )
    assert first.status_code == 201
    assert busy.status_code == 409
    assert busy.json["error"] == "idempotency_key_in_flight"
    assert len(invitations()) == 1


def test_an_abandoned_reservation_is_taken_over(client, crm, ctx):
    """A reservation with no answer after ABANDONED_AFTER (its process died mid-
    request) does not answer 409 for the rest of the 24 hours: the next request with
    the key does the work, once, and its answer is then replayed."""
    first = _post(client, crm, "k-ab")
    row = db.session.scalar(db.select(IdempotencyKey).where(IdempotencyKey.key == "k-ab"))
    stale = utcnow() - idempotency.ABANDONED_AFTER - timedelta(seconds=1)
    body = {"email": "sam@example.com", "org": "acme"}
    db.session.add(
        IdempotencyKey(
            client_id=row.client_id,
            key="died",
            fingerprint="from the request that died",
            created_at=stale,
            expires_at=stale + idempotency.TTL,
        )
    )
    db.session.commit()
    retry = _post(client, crm, "died", body)
    replay = _post(client, crm, "died", body)
    assert first.status_code == retry.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json == retry.json
    assert [i.email for i in invitations()].count("sam@example.com") == 1


def test_error_answer_frees_the_key(client, crm):
    """A refused request (unknown org) did nothing: its key is not kept, and the
    corrected retry is not told the key was reused."""
    bad = _post(client, crm, "k-4", {"email": "pat@example.com", "org": "nope"})
    assert bad.status_code == 422
    assert bad.json["error"] == "unknown_org"
    good = _post(client, crm, "k-4")
    assert good.status_code == 201


def test_expired_keys_are_purged_and_not_replayed(client, crm, ctx):
    """After 24 hours a key is forgotten: the row is purged at the next reservation
    and the same key works as new."""
    assert _post(client, crm, "k-5").status_code == 201
    db.session.execute(db.update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    again = _post(client, crm, "k-5")
    assert again.status_code == 200  # the pending invitation, found as without a key
    assert "Idempotent-Replayed" not in again.headers
    db.session.expire_all()
    [row] = db.session.scalars(db.select(IdempotencyKey))
    assert row.response_status == 200


@pytest.mark.parametrize("key", ["", "a" * 256, "caf\u00e9", '"open', 'x"y', "\t"])
def test_malformed_key_is_400(client, crm, key):
    """An empty, too long, non-ASCII or badly quoted key is a 400, nothing done."""
    response = client.post(
        URL, json=BODY, headers={**crm, "Idempotency-Key": key.encode().decode("latin-1")}
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_idempotency_key"
    assert invitations() == []


def test_quoted_key_is_the_same_key(client, crm):
    """The draft sends the key as a structured-field string: `"abc"` is `abc`."""
    assert _post(client, crm, '"k-6"').status_code == 201
    assert _post(client, crm, "k-6").headers.get("Idempotent-Replayed") == "true"


def test_batch_and_resend_replay_too(client, crm, app, monkeypatch):
    """The batch and resend POSTs honour the key: a repeated batch is stored once,
    a repeated resend sends one more email, not two."""
    batch = {"org": "acme", "invitations": [{"email": "a@example.com"}]}
    one = _post(client, crm, "b-1", batch, URL + "/batch")
    two = _post(client, crm, "b-1", batch, URL + "/batch")
    assert (one.status_code, two.status_code) == (202, 202)
    assert one.json["id"] == two.json["id"]
    created = client.post(URL, json=BODY, headers=crm).json
    monkeypatch.setitem(app.config, "CIAM_INVITATION_RESEND_INTERVAL", 0)
    resend = f"{URL}/{created['id']}/resend"
    before = email_count()
    first = _post(client, crm, "r-1", None, resend)
    again = _post(client, crm, "r-1", None, resend)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_data() == first.get_data()
    assert email_count() == before + 1


def test_every_api_post_honours_the_key_and_documents_it(app, client):
    """Every POST route under /api/v1 (found in the url_map) is wrapped by the
    idempotency decorator, and its OpenAPI operation declares the header."""
    doc = client.get("/api/v1/openapi.json").json
    posts = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and "POST" in rule.methods
    ]
    assert len(posts) >= 4
    for rule in posts:
        view = app.view_functions[rule.endpoint]
        assert _wrapped_by(view, "ciam_idempotent"), rule.rule
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        names = [p.get("name") for p in doc["paths"][path]["post"].get("parameters", [])]
        assert "Idempotency-Key" in names, rule.rule


def _wrapped_by(view, marker: str) -> bool:
    while view is not None:
        if getattr(view, marker, False):
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def test_two_threads_at_once_create_one_invitation(app, make, crm, database_url):
    """PostgreSQL: two identical POSTs with one key at the same moment create one
    invitation and one email; the other answer is the replay or a 409."""
    require_service(database_url.startswith("postgresql"), "needs PostgreSQL for real concurrency")
    start = threading.Barrier(2)
    answers = []

    def post():
        own = app.test_client()
        start.wait()
        answers.append(_post(own, crm, "race").status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) in ([201, 201], [201, 409])
    assert len(invitations()) == 1
    assert email_count() == 1
