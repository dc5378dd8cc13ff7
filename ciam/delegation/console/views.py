"""The org console's blueprint, its access check and the shape every action takes.

Pages live in the sibling modules (members, member_actions_views, invitations, roles,
trail); each route is wrapped by `org_admin_required`, which turns away anyone who
may not administer the organization with a 404, so a foreign organization looks
exactly like one that does not exist (DESIGN §8: org admins act only inside their
org).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from ciam.accounts.login.recent import MarkedView, mark_auth, signed_in_user
from ciam.accounts.sessions.services import current_session
from ciam.audit.actor import actor_context
from ciam.audit.services import ActorContext
from ciam.delegation.permissions import OrgActor, OrgNotFound, org_actor
from ciam.errors import CiamError
from ciam.extensions import db

bp = Blueprint("org_console", __name__, url_prefix="/org/<slug>")

# What a redirect after an action says, chosen by key: never text from the URL.
MESSAGES = {
    "suspend": "The member was suspended; their tokens for this organization were revoked.",
    "reactivate": "The member was reactivated.",
    "remove": "The member was removed from the organization.",
    "unlock": "The account was unlocked.",
    "reset_mfa": "The member's second factors were removed; they set one up again.",
    "password_reset": "A password reset link was sent to the member.",
    "role_assigned": "The role was given.",
    "role_removed": "The role was taken away.",
    "right_changed": "The administration right was changed.",
    "invited": "The invitation was sent.",
    "already_invited": "That address already has a pending invitation; nothing was sent.",
    "resent": "The invitation was sent again with a new link.",
    "revoked": "The invitation was revoked; its link no longer works.",
    "role_created": "The role was created.",
    "role_mapped": "The role's app roles were saved.",
    "form_invalid": "The form was not complete or has expired. Please try again.",
}


def org_admin_required(view: Callable[..., ResponseReturnValue]) -> MarkedView:
    """Signed in, and an admin, user manager or support engineer of the org in the
    URL: the view gets the OrgActor as its first argument. Anyone else: 404."""

    @wraps(view)
    def wrapper(slug: str, **kwargs: Any) -> ResponseReturnValue:
        if current_session() is None:
            return redirect(url_for("accounts.login", next=request.path))
        try:
            actor = org_actor(signed_in_user().id, slug)
        except OrgNotFound:
            abort(404)
        g.org_actor = actor
        return view(actor, **kwargs)

    return mark_auth(wrapper, "org-admin")


@bp.url_defaults
def _current_slug(endpoint: str, values: dict) -> None:
    """url_for() inside the console links to the same organization."""
    actor = g.get("org_actor")
    if actor is not None and "slug" not in values:
        values["slug"] = actor.org.slug


def context(actor: OrgActor) -> ActorContext:
    return actor_context(actor.user_id)


def act(
    back: str, key: str | Callable[[Any], str], action: Callable[[], object]
) -> ResponseReturnValue:
    """Run one service and go back (303) with the message for `key` (or for the key
    `key(result)` chooses from what the service returned). A refusal the
    person can fix (no seat left, the last admin, throttled) is shown on the page;
    403 and 404 reach the error page (ciam.errors) with their status."""
    try:
        result = action()
    except CiamError as error:
        if error.status in (403, 404):
            raise
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back, 303)
    flash(MESSAGES[key(result) if callable(key) else key])
    return redirect(back, 303)


def invalid_form(back: str) -> ResponseReturnValue:
    flash(MESSAGES["form_invalid"], "error")
    return redirect(back, 303)
