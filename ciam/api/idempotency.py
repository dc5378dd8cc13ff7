"""`Idempotency-Key` on the API's POSTs (draft-ietf-httpapi-idempotency-key-header).

A CRM button clicked twice, or an Apex callout retried after a timeout, sends the same
POST again. With the same key (per client: the bearer token's client_id) and the same
request, the first answer is replayed (same status, same body, `Idempotent-Replayed:
true`) and nothing is done twice. The same key with another request is 422
`idempotency_key_reused`; a request while the first with that key is still being
processed is 409 `idempotency_key_in_flight` (draft §2.7). Keys are kept 24 hours.

How: the first request reserves the key by inserting its row and committing at once
(the unique (client_id, key) constraint lets only one racing request in, and the row
must be visible to the others while the first works); the view then runs, and the
answer is stored in the row in the request's own transaction, committed with what
the view did. An error answer (4xx, or an exception) frees the key: it did nothing,
and a retry may succeed. A reservation left without an answer for ABANDONED_AFTER
(its process died) is taken over by the next request with that key, by a
compare-and-set on its reservation time, so one retry wins. Expired rows are purged
lazily, at each reservation.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from functools import wraps
from typing import cast

from flask import Response, current_app, request
from flask_smorest import Blueprint
from sqlalchemy import CursorResult
from sqlalchemy.exc import IntegrityError

from ciam.api.auth import ApiCaller, current_caller
from ciam.api.models import IdempotencyKey
from ciam.db import utcnow
from ciam.errors import CiamError, Conflict
from ciam.extensions import db

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
TTL = timedelta(hours=24)
# A reservation without an answer after this long was abandoned (its process died or
# was killed mid-request): the next request with the key takes it over rather than
# being told "in flight" for the rest of the 24 hours. Far above any request's time.
ABANDONED_AFTER = timedelta(minutes=2)
MAX_LENGTH = 255
# An sf-string (RFC 8941 §3.3.3) or a bare value: visible ASCII, no quote or backslash.
_KEY = re.compile(r'"?([\x21\x23-\x5b\x5d-\x7e][\x20\x21\x23-\x5b\x5d-\x7e]*)"?')


class InvalidIdempotencyKey(CiamError):
    code = "invalid_idempotency_key"
    status = 400


class IdempotencyKeyReused(CiamError):
    code = "idempotency_key_reused"
    status = 422


def parse_key(raw: str) -> str:
    """The key of an `Idempotency-Key` header, quoted (sf-string) or not."""
    value = raw.strip()
    match = _KEY.fullmatch(value)
    balanced = value.startswith('"') == value.endswith('"') and value != '"'
    key = match.group(1) if match and balanced else ""
    if not key or len(key) > MAX_LENGTH:
        raise InvalidIdempotencyKey(
            f"{HEADER} must be 1 to {MAX_LENGTH} visible ASCII characters.",
            details={"header": HEADER},
        )
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of what the request asks: method, path and body."""
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


# --- the store (no `request` here) -------------------------------------------------


def _find(client_id: str, key: str) -> IdempotencyKey | None:
    return db.session.scalar(
        db.select(IdempotencyKey).where(
            IdempotencyKey.client_id == client_id, IdempotencyKey.key == key
        )
    )


def _rowcount(statement) -> int:
    """Rows an UPDATE or DELETE matched. (Session.execute is typed as returning a
    Result; for DML it returns a CursorResult, which has the count.)"""
    return cast(CursorResult, db.session.execute(statement)).rowcount


def purge_expired() -> int:
    """Delete the keys past their 24 hours. Returns how many."""
    return _rowcount(
        db.delete(IdempotencyKey)
        .where(IdempotencyKey.expires_at <= utcnow())
        .execution_options(synchronize_session=False)
    )


def _judge(row: IdempotencyKey, print_: str) -> IdempotencyKey:
    if row.fingerprint != print_:
        raise IdempotencyKeyReused(
            f"This {HEADER} was used for another request.", details={"header": HEADER}
        )
    if row.response_status is None:
        raise Conflict(
            f"A request with this {HEADER} is still being processed; retry later.",
            code="idempotency_key_in_flight",
            details={"header": HEADER},
        )
    return row


def _take_over(row: IdempotencyKey, print_: str) -> bool:
    """Claim an abandoned reservation for this request (committed at once). Only
    one of several racing retries wins: the update matches the old reservation time."""
    if row.response_status is not None or utcnow() - row.created_at < ABANDONED_AFTER:
        return False
    now = utcnow()
    claimed = _rowcount(
        db.update(IdempotencyKey)
        .where(IdempotencyKey.id == row.id, IdempotencyKey.created_at == row.created_at)
        .values(fingerprint=print_, created_at=now, expires_at=now + TTL)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return claimed == 1


def reserve(client_id: str, key: str, print_: str) -> IdempotencyKey | None:
    """Reserve the key for this request (committed at once), or return the finished
    earlier request to replay. Raises 422 for another request, 409 while in flight."""
    purge_expired()
    earlier = _find(client_id, key)
    if earlier is not None:
        if _take_over(earlier, print_):
            return None
        db.session.commit()  # the purge
        return _judge(earlier, print_)
    now = utcnow()
    db.session.add(
        IdempotencyKey(
            client_id=client_id, key=key, fingerprint=print_, created_at=now, expires_at=now + TTL
        )
    )
    try:
        db.session.commit()
    except IntegrityError:
        # Another request inserted the same key between our read and our insert.
        db.session.rollback()
        earlier = _find(client_id, key)
        if earlier is None:  # ...and has failed and freed it since: in flight a moment ago
            raise Conflict(
                f"A request with this {HEADER} was being processed; retry.",
                code="idempotency_key_in_flight",
                details={"header": HEADER},
            ) from None
        return _judge(earlier, print_)
    return None


def remember(client_id: str, key: str, status: int, body: str, location: str | None) -> None:
    """Store the answer of the reserving request, in its own transaction."""
    row = _find(client_id, key)
    assert row is not None, "reserve() committed it; only forget() and the 24-hour purge delete it"
    row.response_status, row.response_body, row.response_location = status, body, location
    db.session.flush()


def forget(client_id: str, key: str) -> None:
    """Free the key of a request that failed: it did nothing, a retry may work."""
    db.session.execute(
        db.delete(IdempotencyKey).where(
            IdempotencyKey.client_id == client_id, IdempotencyKey.key == key
        )
    )
    db.session.commit()


# --- the view decorator --------------------------------------------------------------


def _replay(row: IdempotencyKey) -> Response:
    response = current_app.response_class(
        row.response_body, status=row.response_status, mimetype="application/json"
    )
    if row.response_location:
        response.headers["Location"] = row.response_location
    response.headers[REPLAYED] = "true"
    return response


_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": "A key of your choice (1-255 visible ASCII characters, e.g. a UUID), "
    "kept 24 hours per client: the same key with the same request replays the first "
    "answer; with another request it is 422; while the first is processed, 409.",
    "schema": {"type": "string", "maxLength": MAX_LENGTH},
}


def key_owner(caller: ApiCaller) -> str:
    """Whose keys these are: the client, and the person for a person's token. Many
    people act through one first-party portal (ciam:admin); one person's key must
    never replay another's answer, which their own rights may not allow them."""
    if caller.user_id is None:
        return caller.client_id
    # The column holds 80 characters: a long client id is cut (43 + 1 + 36); the
    # person, the one who matters, is always whole.
    return f"{caller.client_id[:43]}/{caller.user_id}"


def idempotent(view):
    """Honour `Idempotency-Key` on this view. Place it under `require_scope` (the key
    belongs to the authenticated client) and above `arguments` (a replay does not
    parse the body again)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        raw = request.headers.get(HEADER)
        if raw is None:
            return view(*args, **kwargs)
        key = parse_key(raw)
        client_id = key_owner(current_caller())
        print_ = fingerprint(request.method, request.path, request.get_data(cache=True))
        earlier = reserve(client_id, key, print_)
        if earlier is not None:
            return _replay(earlier)
        try:
            response = view(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            forget(client_id, key)
            raise
        if response.status_code >= 400:
            db.session.rollback()
            forget(client_id, key)
        else:
            body = response.get_data(as_text=True)
            remember(client_id, key, response.status_code, body, response.headers.get("Location"))
        return response

    documented = Blueprint.doc(parameters=[_DOC])(wrapper)
    documented.ciam_idempotent = True
    return documented
