"""Imports every model module so metadata is complete (Alembic, create_all)."""

from ciam.accounts.mfa.models import MfaFactor, RecoveryCode, SmsChallenge
from ciam.accounts.models import KnownDevice, LoginSession, User
from ciam.audit.models import AuditEvent
from ciam.delegation.models import Membership, Organization
from ciam.oidc.models import AuthorizationCode, Consent, Portal, SigningKey, Token
from ciam.outbox.models import OutboxMessage

__all__ = [
    "AuditEvent",
    "AuthorizationCode",
    "Consent",
    "KnownDevice",
    "LoginSession",
    "Membership",
    "MfaFactor",
    "Organization",
    "OutboxMessage",
    "Portal",
    "RecoveryCode",
    "SigningKey",
    "SmsChallenge",
    "Token",
    "User",
]
