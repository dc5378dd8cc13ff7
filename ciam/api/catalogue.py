"""/api/v1/roles and /api/v1/orgs/<org>/roles: the business-role catalogue over the
API (global roles, an organization's own and what each gives there).

Who may call and as whom: ciam.api.org_auth. Each view parses, calls one service,
and dumps a schema.
"""

from __future__ import annotations

from flask import url_for

from ciam.api.auth import current_caller
from ciam.api.blueprint import ApiBlueprint
from ciam.api.errors import register_api_errors
from ciam.api.idempotency import idempotent
from ciam.api.org_auth import (
    READ,
    WRITE,
    check_some_admin_right,
    current_actor,
    require_admin,
    require_org,
)
from ciam.api.org_schemas import RoleCreateSchema, RoleListSchema, RoleSchema
from ciam.delegation import org_roles
from ciam.roles import catalogue

bp = ApiBlueprint(
    "roles_api",
    __name__,
    description="Business roles: the global catalogue and organizations' own roles.",
)
register_api_errors(bp)


@bp.route("/roles", methods=["GET"])
@require_admin(READ, check_some_admin_right)
@bp.response(200, RoleListSchema)
def list_global_roles():
    """The global catalogue (the operator's roles), with their mappings."""
    return {"items": [catalogue.role_summary(role) for role in catalogue.list_roles()]}


@bp.route("/orgs/<org>/roles", methods=["GET"])
@require_org(READ)
@bp.response(200, RoleListSchema)
@bp.alt_response(404, response="NOT_FOUND")
def list_org_roles(org: str):
    """The roles a member may be given here (global and the organization's own),
    each with what it gives on the portals the organization is licensed for."""
    return {"items": org_roles.roles_of_org(current_actor().org)}


@bp.route("/orgs/<org>/roles", methods=["POST"])
@require_org(WRITE)
@idempotent
@bp.arguments(RoleCreateSchema)
@bp.response(201, RoleSchema, description="Created.")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT", description="The key is taken.")
def create_org_role(data: dict, org: str):
    """Create one of the organization's own roles and map it to app roles of the
    portals it is licensed for (org admins and the operator)."""
    ctx = current_caller().actor_context()
    role = org_roles.create_org_role(
        current_actor(), data["key"], data["name"], data["mappings"], ctx
    )
    return role, 201, {"Location": url_for(".list_org_roles", org=org)}
