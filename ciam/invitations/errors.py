"""Errors of the invitation services, each with its API code and HTTP status.

Translated at the edge (DESIGN §5.6): the API answers `{"error": code, ...}`, the
invitation page shows the message.
"""

from __future__ import annotations

from ciam.errors import CiamError


class UnknownOrg(CiamError):
    """An invitation (or a listing filter) names an organization we do not have."""

    code = "unknown_org"
    status = 422


class InvitationGone(CiamError):
    """The link was real but cannot be used any more (used, revoked, expired)."""

    code = "invitation_gone"
    status = 410


class Throttled(CiamError):
    """A resend came sooner than CIAM_INVITATION_RESEND_INTERVAL after the last send."""

    code = "throttled"
    status = 429
