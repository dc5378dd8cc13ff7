"""The roles package's services, in one place for callers (each lives in the
module of its one job)."""

from ciam.roles.app_roles import app_roles_of, change_app_roles
from ciam.roles.assignments import (
    assign_role,
    assign_role_keys,
    remove_role,
    role_keys_of,
    roles_of,
)
from ciam.roles.catalogue import create_role, find_role, list_roles, map_role, mappings_of
from ciam.roles.licences import (
    entitled,
    holds_seat,
    licences_of,
    over_allocation,
    seats_in_use,
    set_licence,
)
from ciam.roles.preview import preview, preview_membership, preview_role

__all__ = [
    "app_roles_of",
    "assign_role",
    "assign_role_keys",
    "change_app_roles",
    "create_role",
    "entitled",
    "find_role",
    "holds_seat",
    "licences_of",
    "list_roles",
    "map_role",
    "mappings_of",
    "over_allocation",
    "preview",
    "preview_membership",
    "preview_role",
    "remove_role",
    "role_keys_of",
    "roles_of",
    "seats_in_use",
    "set_licence",
]
