"""A member's actions: one POST route each, one service each
(ciam.delegation.member_actions), CSRF-checked, then 303 back to the member page."""

from __future__ import annotations

from collections.abc import Callable

from flask import url_for

from ciam.delegation import member_actions
from ciam.delegation.console.forms import ActionForm, RightForm, RoleForm, choices
from ciam.delegation.console.views import act, bp, context, invalid_form, org_admin_required
from ciam.delegation.models import AdminRight
from ciam.delegation.permissions import OrgActor, member_of
from ciam.roles import catalogue

# route name -> (service, message key). Each takes (actor, membership, ctx, reason).
SIMPLE_ACTIONS: dict[str, tuple[Callable, str]] = {
    "suspend": (member_actions.suspend, "suspend"),
    "reactivate": (member_actions.reactivate, "reactivate"),
    "unlock": (member_actions.unlock, "unlock"),
    "reset-mfa": (member_actions.reset_mfa, "reset_mfa"),
    "password-reset": (member_actions.send_password_reset, "password_reset"),
}


def _member_page(user_id: str) -> str:
    return url_for("org_console.member", user_id=user_id)


def _simple_action(service: Callable, key: str) -> Callable:
    def view(actor: OrgActor, user_id: str):
        membership = member_of(actor, user_id)
        form = ActionForm()
        if not form.validate_on_submit():
            return invalid_form(_member_page(user_id))
        reason = form.reason.data or None
        return act(
            _member_page(user_id),
            key,
            lambda: service(actor, membership, context(actor), reason),
        )

    return view


for _name, (_service, _key) in SIMPLE_ACTIONS.items():
    _endpoint = "member_" + _name.replace("-", "_")
    _view = _simple_action(_service, _key)
    _view.__name__ = _endpoint
    bp.add_url_rule(
        f"/members/<user_id>/{_name}",
        endpoint=_endpoint,
        view_func=org_admin_required(_view),
        methods=["POST"],
    )


@bp.post("/members/<user_id>/remove")
@org_admin_required
def member_remove(actor: OrgActor, user_id: str):
    """Out of the organization: back to the list, the member page is gone."""
    membership = member_of(actor, user_id)
    form = ActionForm()
    if not form.validate_on_submit():
        return invalid_form(_member_page(user_id))
    reason = form.reason.data or None
    try_back = url_for("org_console.members")
    return act(
        try_back,
        "remove",
        lambda: member_actions.remove(actor, membership, context(actor), reason),
    )


@bp.post("/members/<user_id>/roles")
@org_admin_required
def member_assign_role(actor: OrgActor, user_id: str):
    membership = member_of(actor, user_id)
    form = RoleForm()
    form.role.choices = choices([(r.key, r.name) for r in catalogue.list_roles(actor.org)])
    if not form.validate_on_submit():
        return invalid_form(_member_page(user_id))
    return act(
        _member_page(user_id),
        "role_assigned",
        lambda: member_actions.assign_role(actor, membership, form.role.data, context(actor)),
    )


@bp.post("/members/<user_id>/roles/<key>/remove")
@org_admin_required
def member_remove_role(actor: OrgActor, user_id: str, key: str):
    membership = member_of(actor, user_id)
    if not ActionForm().validate_on_submit():
        return invalid_form(_member_page(user_id))
    return act(
        _member_page(user_id),
        "role_removed",
        lambda: member_actions.remove_role(actor, membership, key, context(actor)),
    )


@bp.post("/members/<user_id>/right")
@org_admin_required
def member_set_right(actor: OrgActor, user_id: str):
    """Make or unmake a user manager (or an org admin); the service refuses a user
    manager, and anyone giving a right they do not hold (403)."""
    membership = member_of(actor, user_id)
    form = RightForm()
    if not form.validate_on_submit():
        return invalid_form(_member_page(user_id))
    right = AdminRight(form.right.data)
    return act(
        _member_page(user_id),
        "right_changed",
        lambda: member_actions.set_admin_right(actor, membership, right, context(actor)),
    )
