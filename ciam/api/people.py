"""/api/v1/users/<user_id>: a person across organizations, for support staff and
the operator (memberships, lock, second factors). An org admin is refused: they
see their own members at /orgs/<org>/members/<user_id>."""

from __future__ import annotations

from ciam.api.blueprint import ApiBlueprint
from ciam.api.errors import register_api_errors
from ciam.api.org_auth import READ, check_support_or_operator, require_admin
from ciam.api.org_schemas import PersonSchema
from ciam.delegation.person_summary import person_summary

bp = ApiBlueprint(
    "people_api", __name__, description="A person across organizations (support staff)."
)
register_api_errors(bp)


@bp.route("/users/<user_id>", methods=["GET"])
@require_admin(READ, check_support_or_operator)
@bp.response(200, PersonSchema)
@bp.alt_response(404, response="NOT_FOUND")
def get_person(user_id: str):
    """Memberships, lock and MFA state of one person."""
    return person_summary(user_id)
