"""Keyset cursors for the listings (API and consoles): a page is stable while rows
are added, where an offset would skip or repeat rows. A cursor is the last row's
(created_at, id), base64url of JSON: opaque to clients, but not secret."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from sqlalchemy import ColumnElement

from ciam.errors import CiamError


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) a cursor holds; `invalid_cursor` (400) for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, uuid.UUID(ident)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise CiamError("The cursor is not valid.", code="invalid_cursor") from exc


def after_cursor(cursor: str, created_at, row_id) -> ColumnElement[bool]:
    """The keyset condition for rows after the cursor, in the order
    `created_at DESC, id DESC` (newest first)."""
    when, ident = decode_cursor(cursor)
    return (created_at < when) | ((created_at == when) & (row_id < ident))
