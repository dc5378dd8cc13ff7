"""POST /api/v1/invitations/batch: validated and stored in the request, created in
chunks by the outbox worker, exactly one email per invitation even when a worker
dies mid-batch, a chunk fails, or a step message is delivered twice."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

import pytest

from ciam.db import utcnow
from ciam.delegation import services as orgs
from ciam.extensions import db
from ciam.invitations import batch as batches
from ciam.invitations import services
from ciam.invitations.models import BatchStatus, InvitationBatch
from ciam.outbox.dispatch import dispatch_due
from ciam.outbox.models import OutboxMessage, OutboxStatus
from tests.api.support import audit, bearer, client_token, invitations

URL = "/api/v1/invitations/batch"


@pytest.fixture
def crm(client, make):
    portal, secret = make.crm_client()
    return bearer(client_token(client, portal.client_id, secret))


@pytest.fixture
def small_chunks(app, monkeypatch):
    """Chunks of 200, so a batch of 500 takes three worker steps."""
    monkeypatch.setitem(app.config, "CIAM_INVITATION_BATCH_CHUNK", 200)


def _items(count: int, domain: str = "example.com") -> list[dict]:
    return [{"email": f"person{n}@{domain}", "business_roles": ["reader"]} for n in range(count)]


def _drain(limit: int = 50, rounds: int = 1000) -> None:
    """Run the worker until nothing is due (what `ciam worker` does)."""
    for _ in range(rounds):
        if dispatch_due(limit) == 0:
            return
    raise AssertionError("the outbox never drained")


def _emails_by_address() -> Counter:
    db.session.expire_all()
    query = db.select(OutboxMessage).where(OutboxMessage.kind == "email")
    return Counter(m.payload["to"] for m in db.session.scalars(query))


def _batch(batch_id: str) -> InvitationBatch:
    db.session.expire_all()
    return db.session.get(InvitationBatch, uuid.UUID(batch_id))


def _assert_exactly_once(count: int) -> None:
    rows = invitations()
    assert len(rows) == count
    assert len({(r.org_id, r.email) for r in rows}) == count
    by_address = _emails_by_address()
    assert len(by_address) == count and set(by_address.values()) == {1}
    assert all(r.sends == 1 for r in rows)


def test_batch_of_500_is_queued_then_created_by_the_worker(client, make, crm, small_chunks):
    """202 with Location and status queued; nothing is created in the request path
    (even with inline outbox sending on); the worker creates 500 invitations, one
    email each, all sent; the batch reads done with counts; audited."""
    make.org(slug="acme")
    response = client.post(URL, json={"org": "acme", "invitations": _items(500)}, headers=crm)
    assert response.status_code == 202, response.json
    body = response.json
    assert body["status"] == "queued" and body["total"] == 500 and body["processed"] == 0
    location = response.headers["Location"]
    assert location.endswith(f"/api/v1/invitations/batches/{body['id']}")
    assert invitations() == []
    assert len(audit("invitation:batch_queued")) == 1

    _drain()

    status = client.get(location, headers=crm)
    assert status.status_code == 200
    assert status.json["status"] == "done"
    assert (status.json["created"], status.json["existing"], status.json["failed"]) == (500, 0, 0)
    assert status.json["processed"] == 500
    assert status.json["started_at"] and status.json["finished_at"]
    _assert_exactly_once(500)
    assert {r.batch_id for r in invitations()} == {uuid.UUID(body["id"])}
    statuses = {m.status for m in db.session.scalars(db.select(OutboxMessage))}
    assert statuses == {OutboxStatus.sent}
    # The invitation links are sealed in the rows the worker wrote (sealing.py).
    emails = db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == "email"))
    assert all("text" not in m.payload and "sealed_text" in m.payload for m in emails)
    [done] = audit("invitation:batch_done")
    assert done.data["created"] == 500
    assert len(audit("invitation:created")) == 500
    assert _batch(body["id"]).items == []  # no second copy of personal data is kept

    listed = client.get(
        "/api/v1/invitations", query_string={"batch_id": body["id"], "limit": 200}, headers=crm
    )
    assert len(listed.json["items"]) == 200 and listed.json["next_cursor"]


def test_worker_dying_mid_batch_creates_and_sends_nothing_twice(client, make, crm, small_chunks):
    """A worker that dies after doing a chunk but before committing leaves no trace;
    the rerun does that chunk again from the same place: 500 invitations, 500
    emails, no duplicates."""
    make.org(slug="acme")
    batch_id = client.post(URL, json={"org": "acme", "invitations": _items(500)}, headers=crm).json[
        "id"
    ]
    dispatch_due(1)  # first chunk, committed
    assert len(invitations()) == 200

    # The second chunk runs, then the process dies before its commit.
    batches.process_chunk({"batch_id": batch_id})
    db.session.flush()
    db.session.rollback()

    assert len(invitations()) == 200
    assert _batch(batch_id).next_index == 200
    _drain()
    _assert_exactly_once(500)
    assert _batch(batch_id).status == BatchStatus.done


def test_duplicate_step_message_does_nothing(client, make, crm, small_chunks):
    """A step delivered twice (or two workers racing on one) is done once: the
    second finds the chunk claimed and creates nothing."""
    make.org(slug="acme")
    batch_id = client.post(URL, json={"org": "acme", "invitations": _items(500)}, headers=crm).json[
        "id"
    ]
    for _ in range(3):  # extra copies of the step message
        db.session.add(OutboxMessage(kind=batches.KIND, payload={"batch_id": batch_id}))
    db.session.commit()
    _drain()
    _assert_exactly_once(500)
    assert _batch(batch_id).created == 500


def test_failing_chunk_rolls_back_and_is_retried(client, make, crm, small_chunks, monkeypatch):
    """A chunk that fails half way commits none of its invitations or emails: the
    step message is kept with its error and retried later, and the batch then
    completes with exactly one email per person."""
    make.org(slug="acme")
    batch_id = client.post(URL, json={"org": "acme", "invitations": _items(500)}, headers=crm).json[
        "id"
    ]
    real = services.create_invitations

    def half_then_crash(items, *args, **kwargs):
        real(items[:50], *args, **kwargs)  # writes some rows, then the chunk fails
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "create_invitations", half_then_crash)
    dispatch_due(1)
    step = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == batches.KIND))
    assert step.status == OutboxStatus.pending and "database went away" in step.last_error
    assert invitations() == [] and _emails_by_address() == Counter()
    assert _batch(batch_id).next_index == 0

    monkeypatch.setattr(services, "create_invitations", real)
    step.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    _drain()
    _assert_exactly_once(500)


def test_rows_failing_alone_are_reported_per_index(client, make, crm):
    """Per-item problems found by the worker (unknown org, already a member, a
    duplicate inside the batch, a pending invitation) are counted and listed with
    their index; the other items are created."""
    org = make.org(slug="acme")
    orgs.add_member(org, make.user(email="member@example.com"))
    db.session.commit()
    make.invitation("pending@example.com", "acme")
    items = [
        {"email": "new@example.com"},
        {"email": "member@example.com"},
        {"email": "lost@example.com", "org": "nope"},
        {"email": "Pending@example.com"},
        {"email": "new@example.com"},
    ]
    batch_id = client.post(URL, json={"org": "acme", "invitations": items}, headers=crm).json["id"]
    _drain()
    body = client.get(f"/api/v1/invitations/batches/{batch_id}", headers=crm).json
    assert (body["created"], body["existing"], body["failed"]) == (1, 2, 2)
    assert body["errors"] == [
        {
            "index": 1,
            "error": "already_member",
            "message": "member@example.com is already a member of acme.",
        },
        {"index": 2, "error": "unknown_org", "message": "No organization nope."},
    ]
    assert _emails_by_address() == Counter({"new@example.com": 1, "pending@example.com": 1})


def test_reposting_a_done_batch_sends_nothing_again(client, make, crm):
    """The CRM retrying a whole batch (say after a timeout) creates no duplicates:
    every item is answered by its pending invitation and no email is sent."""
    make.org(slug="acme")
    body = {"org": "acme", "invitations": _items(30)}
    client.post(URL, json=body, headers=crm)
    _drain()
    second = client.post(URL, json=body, headers=crm).json["id"]
    _drain()
    assert _batch(second).existing == 30 and _batch(second).created == 0
    _assert_exactly_once(30)


def test_too_many_items_is_413_before_validation(client, make, crm, app, monkeypatch):
    """More items than CIAM_INVITATION_BATCH_MAX: 413 batch_too_large as JSON, and
    nothing is stored."""
    monkeypatch.setitem(app.config, "CIAM_INVITATION_BATCH_MAX", 10)
    make.org(slug="acme")
    response = client.post(URL, json={"org": "acme", "invitations": _items(11)}, headers=crm)
    assert response.status_code == 413
    assert response.json["error"] == "batch_too_large"
    assert response.json["details"] == {"max": 10, "count": 11}
    assert db.session.scalar(db.select(db.func.count()).select_from(InvitationBatch)) == 0


def test_too_many_bytes_is_413_json(client, make, crm, app, monkeypatch):
    """A body over CIAM_INVITATION_BATCH_MAX_BYTES is a JSON 413, never a 500."""
    monkeypatch.setitem(app.config, "CIAM_INVITATION_BATCH_MAX_BYTES", 2000)
    make.org(slug="acme")
    response = client.post(URL, json={"org": "acme", "invitations": _items(100)}, headers=crm)
    assert response.status_code == 413
    assert response.is_json and response.json["error"] == "request_entity_too_large"


def test_ten_thousand_items_fit_the_default_limits(client, make, crm):
    """The default limits take the documented 10,000 items (several MB of JSON,
    above the app's 1 MiB body limit for other requests)."""
    make.org(slug="acme")
    items = [
        {
            "email": f"person{n}@example.com",
            "business_roles": ["claims-handler"],
            "crm_contact_id": f"003{n:012d}",
            "given_name": "Given",
            "family_name": "Family-Name",
        }
        for n in range(10_000)
    ]
    response = client.post(URL, json={"org": "acme", "invitations": items}, headers=crm)
    assert response.status_code == 202, response.json
    assert response.json["total"] == 10_000


@pytest.mark.parametrize(
    "body",
    [
        {"org": "acme", "invitations": []},
        {"org": "acme"},
        {"org": "acme", "invitations": [{"email": "ok@example.com"}, {"email": "broken"}]},
        {"invitations": [{"email": "ok@example.com"}]},
        {"org": "acme", "crm_account_id": "1", "invitations": [{"email": "ok@example.com"}]},
        {"org": "acme", "invitations": "everyone"},
    ],
)
def test_invalid_batches_are_422_with_details(client, make, crm, body):
    """Shape errors are found up front: a JSON 422 whose details point at the item
    (by index) or the field; nothing is stored."""
    make.org(slug="acme")
    response = client.post(URL, json=body, headers=crm)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "validation_error"
    assert response.json["details"]["json"]
    assert db.session.scalar(db.select(db.func.count()).select_from(InvitationBatch)) == 0


def test_bad_item_is_named_by_its_index(client, make, crm):
    """The details of a bad item carry its position in the list."""
    make.org(slug="acme")
    body = {"org": "acme", "invitations": [{"email": "ok@example.com"}, {"email": "broken"}]}
    details = client.post(URL, json=body, headers=crm).json["details"]
    assert details == {"json": {"invitations": {"1": {"email": ["Not a valid email address."]}}}}


def test_batch_is_visible_to_its_own_client_only(client, make, crm):
    """Another CRM client (even with both scopes) gets a 404 for this batch."""
    make.org(slug="acme")
    batch_id = client.post(URL, json={"org": "acme", "invitations": _items(2)}, headers=crm).json[
        "id"
    ]
    portal, secret = make.crm_client()
    other = bearer(client_token(client, portal.client_id, secret))
    path = f"/api/v1/invitations/batches/{batch_id}"
    assert client.get(path, headers=crm).status_code == 200
    response = client.get(path, headers=other)
    assert response.status_code == 404 and response.json["error"] == "not_found"
