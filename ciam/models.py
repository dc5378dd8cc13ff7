"""Imports every model module so metadata is complete (Alembic, create_all)."""

from ciam.accounts.mfa.models import MfaFactor, RecoveryCode, SmsChallenge
from ciam.accounts.models import KnownDevice, LoginSession, User
from ciam.audit.models import AuditEvent
from ciam.crm.models import CrmAccountRow, CrmContractRow, CrmEntitlementRow, CrmSyncState
from ciam.delegation.models import Membership, Organization
from ciam.oidc.models import AuthorizationCode, Consent, Portal, SigningKey, Token
from ciam.outbox.models import OutboxMessage
from ciam.roles.models import BusinessRole, Licence, MembershipRole, PortalAppRole, RoleMapping

__all__ = [
    "AuditEvent",
    "AuthorizationCode",
    "BusinessRole",
    "Consent",
    "CrmAccountRow",
    "CrmContractRow",
    "CrmEntitlementRow",
    "CrmSyncState",
    "KnownDevice",
    "Licence",
    "LoginSession",
    "Membership",
    "MembershipRole",
    "MfaFactor",
    "Organization",
    "OutboxMessage",
    "Portal",
    "PortalAppRole",
    "RecoveryCode",
    "RoleMapping",
    "SigningKey",
    "SmsChallenge",
    "Token",
    "User",
]
