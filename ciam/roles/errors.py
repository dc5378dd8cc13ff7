"""Refusals of the catalogue and licence rules, with stable codes (DESIGN §5.6)."""

from __future__ import annotations

from ciam.errors import CiamError, Conflict, Forbidden, NotFound


class RoleNotFound(NotFound):
    code = "role_not_found"


class InvalidKey(CiamError):
    code = "invalid_key"


class UnknownAppRole(CiamError):
    """A mapping named an app role the portal does not declare."""

    code = "unknown_app_role"


class AppRoleInUse(Conflict):
    code = "app_role_in_use"


class PortalNotEntitled(Forbidden):
    """An organization's own role may map only to portals the org is licensed for."""

    code = "portal_not_entitled"


class RoleOfAnotherOrg(Forbidden):
    code = "role_of_another_org"


class SeatLimitReached(Conflict):
    code = "seat_limit_reached"
