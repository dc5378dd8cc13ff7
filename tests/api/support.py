"""Helpers for the REST API tests: a CRM client's token, bearer headers, the outbox."""

from __future__ import annotations

import base64

from ciam.audit.models import AuditEvent
from ciam.extensions import db
from ciam.invitations.models import Invitation
from ciam.outbox.models import OutboxMessage


def client_token(client, client_id: str, secret: str, scope: str | None = None) -> str:
    """An access token from our token endpoint by client_credentials."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    response = client.post("/oauth/token", data=data, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def crm_headers(client, make, scopes=("invitations:read", "invitations:write")) -> dict:
    """Bearer headers of a fresh CRM client holding `scopes`."""
    portal, secret = make.crm_client(scopes=scopes)
    return bearer(client_token(client, portal.client_id, secret))


def emails_to(address: str) -> list[OutboxMessage]:
    db.session.expire_all()
    return [
        m
        for m in db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == "email"))
        if m.payload["to"] == address
    ]


def email_count() -> int:
    db.session.expire_all()
    query = db.select(db.func.count()).select_from(OutboxMessage)
    return db.session.scalar(query.where(OutboxMessage.kind == "email"))


def invitations() -> list[Invitation]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Invitation)))


def audit_tags(prefix: str = "invitation:") -> list[str]:
    db.session.expire_all()
    query = db.select(AuditEvent.tag).where(AuditEvent.tag.startswith(prefix))
    return sorted(db.session.scalars(query))


def audit(tag: str) -> list[AuditEvent]:
    """The events of this tag in the order they were recorded."""
    db.session.expire_all()
    query = db.select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.created_at)
    return list(db.session.scalars(query))
