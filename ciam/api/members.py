"""/api/v1/orgs/<org>/members: an organization's people and what its admins do to
them, over the API (the same services as the org console: member_actions).

Who may call and as whom: ciam.api.org_auth. A member of another organization is
404 (permissions.member_of); a user manager acting on an admin is 403
(check_may_manage). Each view parses, calls one service, and dumps a schema.
"""

from __future__ import annotations

from flask import url_for

from ciam.api.auth import current_caller
from ciam.api.blueprint import ApiBlueprint
from ciam.api.errors import register_api_errors
from ciam.api.idempotency import idempotent
from ciam.api.member_schemas import (
    ActionResultSchema,
    MemberCreateSchema,
    MemberDetailSchema,
    MemberPageSchema,
    MemberQuerySchema,
    MemberUpdateSchema,
    ReasonSchema,
    RoleAssignSchema,
)
from ciam.api.org_auth import READ, WRITE, current_actor, require_org
from ciam.delegation import directory, member_actions
from ciam.delegation.member_detail import member_detail
from ciam.delegation.models import AdminRight
from ciam.delegation.permissions import member_of

bp = ApiBlueprint(
    "members_api",
    __name__,
    description="An organization's members: roles, admin rights, suspension, help.",
)
register_api_errors(bp)

MEMBER = "/orgs/<org>/members/<user_id>"


def _ctx():
    return current_caller().actor_context()


def _member(user_id: str):
    return member_of(current_actor(), user_id)


@bp.route("/orgs/<org>/members", methods=["GET"])
@require_org(READ)
@bp.arguments(MemberQuerySchema, location="query")
@bp.response(200, MemberPageSchema)
@bp.alt_response(404, response="NOT_FOUND")
def list_members(args: dict, org: str):
    """Members, newest first: `q` searches email and name, `status` is active,
    suspended or locked, `role` a business role key."""
    return directory.list_members(current_actor().org, **args)


@bp.route("/orgs/<org>/members", methods=["POST"])
@require_org(WRITE)
@idempotent
@bp.arguments(MemberCreateSchema)
@bp.response(201, MemberDetailSchema, description="Added.")
@bp.alt_response(404, response="NOT_FOUND", description="No such organization or account.")
@bp.alt_response(409, response="CONFLICT", description="Already a member; no seat left.")
def add_member(data: dict, org: str):
    """Add an existing account by email, with roles and an admin right (org admins
    and the operator; people without an account are invited: /invitations)."""
    membership = member_actions.add_member(
        current_actor(),
        data["email"],
        _ctx(),
        admin_right=AdminRight(data["admin_right"]),
        role_keys=data["roles"],
    )
    location = url_for(".get_member", org=org, user_id=membership.user_id)
    return member_detail(membership), 201, {"Location": location}


@bp.route(MEMBER, methods=["GET"])
@require_org(READ)
@bp.response(200, MemberDetailSchema)
@bp.alt_response(404, response="NOT_FOUND")
def get_member(org: str, user_id: str):
    """One member: membership, roles, and what they give on each portal now."""
    return member_detail(_member(user_id))


@bp.route(MEMBER, methods=["PATCH"])
@require_org(WRITE)
@bp.arguments(MemberUpdateSchema)
@bp.response(200, MemberDetailSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT", description="The last org admin.")
def update_member(data: dict, org: str, user_id: str):
    """Suspend or reactivate (`status`; suspending revokes the person's tokens for
    the organization) and/or change the admin right."""
    membership = _member(user_id)
    right = AdminRight(data["admin_right"]) if "admin_right" in data else None
    member_actions.update_member(
        current_actor(),
        membership,
        _ctx(),
        status=data.get("status"),
        admin_right=right,
        reason=data.get("reason"),
    )
    return member_detail(membership)


@bp.route(MEMBER, methods=["DELETE"])
@require_org(WRITE)
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT", description="The last org admin.")
def remove_member(org: str, user_id: str):
    """Take the person out of the organization (roles and seats go, tokens stop)."""
    member_actions.remove(current_actor(), _member(user_id), _ctx())


@bp.route(MEMBER + "/roles", methods=["POST"])
@require_org(WRITE)
@idempotent
@bp.arguments(RoleAssignSchema)
@bp.response(200, MemberDetailSchema)
@bp.alt_response(404, response="NOT_FOUND", description="No such member or role.")
@bp.alt_response(409, response="CONFLICT", description="No seat left (`details`).")
def assign_role(data: dict, org: str, user_id: str):
    """Give a business role (global or the organization's own), seats allowing."""
    membership = _member(user_id)
    member_actions.assign_role(current_actor(), membership, data["key"], _ctx())
    return member_detail(membership)


@bp.route(MEMBER + "/roles/<key>", methods=["DELETE"])
@require_org(WRITE)
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND", description="No such member or role.")
def remove_role(org: str, user_id: str, key: str):
    """Take a business role away (its seats are free at once)."""
    member_actions.remove_role(current_actor(), _member(user_id), key, _ctx())


def _action(name: str, outcome) -> dict:
    if isinstance(outcome, bool):
        return {"action": name, "changed": outcome}
    return {"action": name, "changed": bool(outcome), "factors_removed": outcome}


@bp.route(MEMBER + "/unlock", methods=["POST"])
@require_org(WRITE)
@idempotent
@bp.arguments(ReasonSchema)
@bp.response(200, ActionResultSchema)
@bp.alt_response(404, response="NOT_FOUND")
def unlock(data: dict, org: str, user_id: str):
    """Lift a lock after failed sign-ins (`changed`: it was locked)."""
    outcome = member_actions.unlock(current_actor(), _member(user_id), _ctx(), data.get("reason"))
    return _action("unlock", outcome)


@bp.route(MEMBER + "/reset-mfa", methods=["POST"])
@require_org(WRITE)
@idempotent
@bp.arguments(ReasonSchema)
@bp.response(200, ActionResultSchema)
@bp.alt_response(404, response="NOT_FOUND")
def reset_mfa(data: dict, org: str, user_id: str):
    """Remove every second factor and recovery code (a lost phone)."""
    actor, membership = current_actor(), _member(user_id)
    removed = member_actions.reset_mfa(actor, membership, _ctx(), data.get("reason"))
    return _action("reset_mfa", removed)


@bp.route(MEMBER + "/password-reset", methods=["POST"])
@require_org(WRITE)
@idempotent
@bp.arguments(ReasonSchema)
@bp.response(200, ActionResultSchema)
@bp.alt_response(404, response="NOT_FOUND")
def password_reset(data: dict, org: str, user_id: str):
    """Email the person a password reset link (nobody else sees it)."""
    actor, membership = current_actor(), _member(user_id)
    member_actions.send_password_reset(actor, membership, _ctx(), data.get("reason"))
    return _action("password_reset", True)
