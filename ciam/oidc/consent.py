"""Remembered consent per user and portal (third-party portals only)."""

from __future__ import annotations

import uuid

from authlib.oauth2.rfc6749 import scope_to_list

from ciam.audit.services import ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.extensions import db
from ciam.oidc.models import Consent


def _find(user_id: uuid.UUID, client_id: str) -> Consent | None:
    return db.session.scalar(
        db.select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id)
    )


def has_consent(user_id: uuid.UUID, client_id: str, scope: str) -> bool:
    consent = _find(user_id, client_id)
    return consent is not None and set(scope_to_list(scope) or []) <= set(consent.scopes)


def grant_consent(user_id: uuid.UUID, client_id: str, scope: str, ctx: ActorContext) -> None:
    consent = _find(user_id, client_id)
    scopes = sorted(set(scope_to_list(scope) or []) | set(consent.scopes if consent else []))
    if consent is None:
        db.session.add(Consent(user_id=user_id, client_id=client_id, scopes=scopes))
    else:
        consent.scopes = scopes
    record(AuditTag.OAUTH_CONSENT_GRANTED, ctx, client_id=client_id, scopes=scopes)
