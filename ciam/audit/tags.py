"""Every audit event tag, in one typed enumeration (DESIGN §3: one vocabulary for
the audit trail, the pages and, next, the CRM and webhooks).

Tags read `domain:subject:what happened`, lower case, past tense where it is an
outcome. record() refuses a tag that is not here, so a new event is added here first.
"""

from __future__ import annotations

from enum import StrEnum


class AuditTag(StrEnum):
    # account
    ACCOUNT_CREATED = "account:created"
    ACCOUNT_DEACTIVATED = "account:deactivated"
    ACCOUNT_REACTIVATED = "account:reactivated"
    ACCOUNT_DEVICE_NEW = "account:device:new"
    ACCOUNT_EMAIL_CHANGE_REQUESTED = "account:email:change_requested"
    ACCOUNT_EMAIL_CHANGED = "account:email:changed"
    ACCOUNT_EMAIL_VERIFICATION_SENT = "account:email:verification_sent"
    ACCOUNT_EMAIL_VERIFIED = "account:email:verified"
    ACCOUNT_LOCKED = "account:locked"
    ACCOUNT_LOGIN_FAILURE = "account:login:failure"
    ACCOUNT_LOGIN_SUCCESS = "account:login:success"
    ACCOUNT_LOGOUT = "account:logout"
    ACCOUNT_MFA_ENROLLED = "account:mfa:enrolled"
    ACCOUNT_MFA_ENROLMENT_REQUIRED = "account:mfa:enrolment_required"
    ACCOUNT_MFA_FAILURE = "account:mfa:failure"
    ACCOUNT_MFA_REMOVED = "account:mfa:removed"
    ACCOUNT_MFA_SMS_SENT = "account:mfa:sms_sent"
    ACCOUNT_MFA_SMS_THROTTLED = "account:mfa:sms_throttled"
    ACCOUNT_MFA_VERIFIED = "account:mfa:verified"
    ACCOUNT_PASSWORD_CHANGE_FAILED = "account:password:change_failed"
    ACCOUNT_PASSWORD_CHANGED = "account:password:changed"
    ACCOUNT_PASSWORD_RESET = "account:password:reset"
    ACCOUNT_PASSWORD_RESET_REQUESTED = "account:password:reset_requested"
    ACCOUNT_PASSWORD_VERIFIED = "account:password:verified"
    ACCOUNT_PROFILE_UPDATED = "account:profile:updated"
    ACCOUNT_RECOVERY_CODES_GENERATED = "account:recovery_codes:generated"
    ACCOUNT_RECOVERY_CODES_USED = "account:recovery_codes:used"
    ACCOUNT_SESSION_ENDED = "account:session:ended"
    ACCOUNT_UNLOCKED = "account:unlocked"
    # invitation
    INVITATION_ACCEPTED = "invitation:accepted"
    INVITATION_BATCH_DONE = "invitation:batch_done"
    INVITATION_BATCH_QUEUED = "invitation:batch_queued"
    INVITATION_CREATED = "invitation:created"
    INVITATION_EXPIRED = "invitation:expired"
    INVITATION_RESENT = "invitation:resent"
    INVITATION_REVOKED = "invitation:revoked"
    INVITATION_SENT = "invitation:sent"
    # membership
    MEMBERSHIP_CREATED = "membership:created"
    MEMBERSHIP_EXPIRED = "membership:expired"
    MEMBERSHIP_REACTIVATED = "membership:reactivated"
    MEMBERSHIP_ROLE_ASSIGNED = "membership:role:assigned"
    MEMBERSHIP_ROLE_REMOVED = "membership:role:removed"
    MEMBERSHIP_SUSPENDED = "membership:suspended"
    # oauth
    OAUTH_CODE_REPLAYED = "oauth:code:replayed"
    OAUTH_CONSENT_GRANTED = "oauth:consent:granted"
    OAUTH_REFRESH_REUSED = "oauth:refresh:reused"
    OAUTH_TOKEN_REVOKED = "oauth:token:revoked"
    # org
    ORG_CONTRACT_ENDED = "org:contract:ended"
    ORG_CONTRACT_RESTORED = "org:contract:restored"
    ORG_CREATED = "org:created"
    ORG_MEMBER_ACTION = "org:member:action"
    ORG_MEMBER_REMOVED = "org:member:removed"
    ORG_MEMBER_RIGHT_CHANGED = "org:member:right_changed"
    STAFF_GRANTED = "staff:granted"
    STAFF_REVOKED = "staff:revoked"
    ORG_LICENCE_SET = "org:licence:set"
    ORG_SETTINGS_UPDATED = "org:settings:updated"
    # portal
    PORTAL_APP_ROLES_CHANGED = "portal:app_roles:changed"
    PORTAL_ACCESS_CHANGED = "portal:access:changed"
    PORTAL_CREATED = "portal:created"
    PORTAL_RETIRED = "portal:retired"
    # role
    ROLE_CREATED = "role:created"
    ROLE_MAPPED = "role:mapped"
    # support (the support console, /ops/)
    SUPPORT_ACCOUNT_ACTION = "support:account:action"
