"""A per-process cache of portals (OIDC clients) for the token, introspection,
revocation and authorize endpoints.

Every portal request authenticates its client, and reading the portal row through
the ORM was the largest single cost of those endpoints. Each process keeps an
immutable snapshot per `client_id` for CIAM_CLIENT_CACHE_SECONDS (like the key
cache). A change committed in this process (retiring a portal, new redirect URIs)
drops the entry at once; other nodes see it within that delay (see README).
Unknown client ids are never cached, so a portal is usable as soon as it exists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from ciam.extensions import db
from ciam.oidc.clients import PortalClientMixin
from ciam.oidc.models import Portal, PortalStatus

_COLUMNS = (
    "client_id",
    "client_secret_hash",
    "name",
    "status",
    "first_party",
    "require_pkce",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "scopes",
    "token_endpoint_auth_method",
    "id_token_signed_response_alg",
    "requires_entitlement",
)


@dataclass(frozen=True)
class PortalSnapshot(PortalClientMixin):
    """What the OAuth endpoints need of a portal; read-only (lists are tuples)."""

    client_id: str
    client_secret_hash: str | None
    name: str
    status: PortalStatus
    first_party: bool
    require_pkce: bool
    redirect_uris: tuple
    post_logout_redirect_uris: tuple
    grant_types: tuple
    scopes: tuple
    token_endpoint_auth_method: str
    id_token_signed_response_alg: str
    requires_entitlement: bool


class PortalCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, PortalSnapshot]] = {}

    def get(self, client_id: str) -> PortalSnapshot | None:
        entry = self._entries.get(client_id)
        if entry is not None and time.monotonic() < entry[0]:
            return entry[1]
        snapshot = _load(client_id)
        if snapshot is None:
            self._entries.pop(client_id, None)
            return None
        ttl = current_app.config["CIAM_CLIENT_CACHE_SECONDS"]
        if ttl > 0:
            self._entries[client_id] = (time.monotonic() + ttl, snapshot)
        return snapshot

    def invalidate(self, client_ids=None) -> None:
        if client_ids is None:
            self._entries.clear()
            return
        for client_id in client_ids:
            self._entries.pop(client_id, None)


def _load(client_id: str) -> PortalSnapshot | None:
    # A Core query: one round trip, no ORM identity map or object construction.
    table = Portal.__table__
    row = db.session.execute(
        db.select(*(table.c[name] for name in _COLUMNS)).where(table.c.client_id == client_id)
    ).first()
    if row is None:
        return None
    values = row._asdict()
    for name in ("redirect_uris", "post_logout_redirect_uris", "grant_types", "scopes"):
        values[name] = tuple(values[name] or ())
    values["status"] = PortalStatus(values["status"])
    return PortalSnapshot(**values)


def portal_cache() -> PortalCache:
    return current_app.extensions.setdefault("ciam.portals", PortalCache())


def get_portal_snapshot(client_id: str) -> PortalSnapshot | None:
    return portal_cache().get(client_id)


# Local invalidation: a commit that changed a portal drops its entry in this process.
_CHANGED = "ciam.portals_changed"


@event.listens_for(Session, "after_flush")
def _note_portal_changes(session, flush_context) -> None:
    changed = {
        obj.client_id
        for obj in (*session.new, *session.dirty, *session.deleted)
        if isinstance(obj, Portal)
    }
    if changed:
        session.info.setdefault(_CHANGED, set()).update(changed)


@event.listens_for(Session, "after_commit")
def _drop_changed_portals(session) -> None:
    changed = session.info.pop(_CHANGED, None)
    if changed and has_app_context():
        portal_cache().invalidate(changed)


@event.listens_for(Session, "after_rollback")
def _forget_portal_changes(session) -> None:
    session.info.pop(_CHANGED, None)
