"""/api/v1/orgs: organizations, their licences and audit trail (delegated
administration over the API).

Who may call and as whom: ciam.api.org_auth (machine clients with `orgs:read` /
`orgs:write` act as the operator; a person's `ciam:admin` token acts with the
person's rights, and an organization they do not administer is 404). Each view
parses, calls one service, and dumps a schema.
"""

from __future__ import annotations

from ciam.api.auth import current_caller
from ciam.api.blueprint import ApiBlueprint
from ciam.api.errors import register_api_errors
from ciam.api.org_auth import (
    READ,
    WRITE,
    anyone_with_the_scope,
    current_actor,
    require_admin,
    require_org,
)
from ciam.api.org_schemas import (
    AuditPageSchema,
    AuditQuerySchema,
    LicenceListSchema,
    LicenceSchema,
    LicenceSetSchema,
    OrgPageSchema,
    OrgSchema,
    OrgSettingsSchema,
    PageQuerySchema,
)
from ciam.delegation import directory, org_listing, settings
from ciam.roles import licences

bp = ApiBlueprint(
    "orgs_api",
    __name__,
    description="Organizations: settings, licences and audit trail (operator, org admins).",
)
register_api_errors(bp)


@bp.route("/orgs", methods=["GET"])
@require_admin(READ, anyone_with_the_scope)
@bp.arguments(PageQuerySchema, location="query")
@bp.response(200, OrgPageSchema)
def list_orgs(args: dict):
    """The organizations the caller administers (the operator and support: all),
    newest first; a person's come in one page."""
    return org_listing.orgs_for(current_caller().user_id, **args)


@bp.route("/orgs/<org>", methods=["GET"])
@require_org(READ)
@bp.response(200, OrgSchema)
@bp.alt_response(404, response="NOT_FOUND")
def get_org(org: str):
    """One organization: status, policy and branding."""
    return current_actor().org


@bp.route("/orgs/<org>", methods=["PATCH"])
@require_org(WRITE, operator_only=True)
@bp.arguments(OrgSettingsSchema)
@bp.response(200, OrgSchema)
@bp.alt_response(404, response="NOT_FOUND")
def update_org(data: dict, org: str):
    """Change policy or branding settings (the operator only)."""
    ctx = current_caller().actor_context()
    return settings.update_settings(current_actor().org, ctx, **data)


@bp.route("/orgs/<org>/licences", methods=["GET"])
@require_org(READ)
@bp.response(200, LicenceListSchema)
@bp.alt_response(404, response="NOT_FOUND")
def list_licences(org: str):
    """The portals the organization is licensed for: seats in use of the total."""
    return {"items": licences.licence_summaries(current_actor().org)}


@bp.route("/orgs/<org>/licences/<client_id>", methods=["PUT"])
@require_org(WRITE, operator_only=True)
@bp.arguments(LicenceSetSchema)
@bp.response(200, LicenceSchema)
@bp.alt_response(404, response="NOT_FOUND")
def set_licence(data: dict, org: str, client_id: str):
    """Entitle the organization to a portal with `seats` seats (the operator only).
    Fewer seats than in use is allowed: `over_allocated` says how many lose it."""
    actor, ctx = current_actor(), current_caller().actor_context()
    licence = licences.set_licence(actor.org, client_id, data["seats"], ctx)
    return licences.licence_summary(actor.org, licence)


@bp.route("/orgs/<org>/audit", methods=["GET"])
@require_org(READ)
@bp.arguments(AuditQuerySchema, location="query")
@bp.response(200, AuditPageSchema)
@bp.alt_response(404, response="NOT_FOUND")
def org_audit(args: dict, org: str):
    """The organization's own audit trail, newest first."""
    return directory.org_events(current_actor().org, **args)
