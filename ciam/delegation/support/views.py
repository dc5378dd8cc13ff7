"""The support console, /ops/: find anyone, see their account, memberships and
history, act on them with a reason. Only support engineers (`ciam staff grant --email E
--role support`); for everyone else every /ops route answers 404, so the console does
not show that it exists. Views parse, call one service, render or 303 back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ciam.accounts.login.recent import MarkedView, mark_auth, signed_in_user
from ciam.accounts.sessions.services import current_session
from ciam.audit.actor import actor_context
from ciam.audit.services import ActorContext
from ciam.delegation import member_actions
from ciam.delegation.directory import list_members
from ciam.delegation.member_actions import ReasonRequired
from ciam.delegation.models import Membership
from ciam.delegation.permissions import OrgActor, is_support, member_of, org_actor
from ciam.delegation.support.forms import MemberFilterForm, ReasonForm, SearchForm
from ciam.delegation.support.history import history
from ciam.delegation.support.people import get_org, get_person, org_facts, person_facts
from ciam.delegation.support.search import find_orgs, find_people

bp = Blueprint("support", __name__, url_prefix="/ops")

# What the person page says after an action (?done=<key>): chosen by key, so a link
# cannot make the page say anything else.
DONE = {
    "unlocked": "The account is unlocked: the person can sign in again.",
    "not_locked": "The account was not locked. Its count of failed sign-ins is cleared.",
    "mfa_reset": "Every second factor and recovery code was removed. The person sets up "
    "two-step verification again at their next sign-in where it is required.",
    "mfa_none": "The person had no second factor; any recovery codes were removed.",
    "reset_sent": "A password reset link was emailed to the person.",
    "reset_not_sent": "No link was sent: an account in this state cannot reset its password.",
    "suspended": "The membership is suspended and its tokens for that organization revoked.",
    "reactivated": "The membership is active again.",
}


def support_required(view: Callable[..., ResponseReturnValue]) -> MarkedView:
    """Signed in (else the login page) and a support engineer (else 404)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if current_session() is None:
            # A form's URL only takes POST: come back to the console's start instead.
            if request.method == "GET":
                back = request.full_path.rstrip("?")
            else:
                back = url_for("support.search")
            return redirect(url_for("accounts.login", next=back))
        if not is_support(signed_in_user().id):
            abort(404)
        return view(*args, **kwargs)

    return mark_auth(wrapper, "support")


def _ctx() -> ActorContext:
    return actor_context(signed_in_user().id)


def _reason() -> str:
    form = ReasonForm()
    if not form.validate_on_submit():
        raise ReasonRequired(
            f"Type the reason for this action ({member_actions.REASON_MAX} characters at most)."
        )
    return form.reason.data


def _back(user_id: uuid.UUID, done: str) -> ResponseReturnValue:
    return redirect(url_for("support.person", user_id=user_id, done=done), 303)


def _membership(user_id: uuid.UUID, slug: str) -> tuple[OrgActor, Membership]:
    actor = org_actor(signed_in_user().id, slug)  # support: org_admin, support=True
    return actor, member_of(actor, user_id)


@bp.get("/")
@support_required
def search():
    form = SearchForm(request.args)
    q = form.q.data if form.validate() and form.q.data else ""
    return render_template(
        "ops/search.html",
        form=form,
        q=q,
        people=find_people(q, cursor=request.args.get("cursor") or None),
        orgs=find_orgs(q),
    )


@bp.get("/people/<uuid:user_id>")
@support_required
def person(user_id: uuid.UUID):
    user = get_person(user_id)
    return render_template(
        "ops/person.html",
        facts=person_facts(user),
        history=history(user, request.args.get("page", 1, type=int) or 1),
        done=DONE.get(request.args.get("done", "")),
    )


@bp.post("/people/<uuid:user_id>/unlock")
@support_required
def unlock(user_id: uuid.UUID):
    user = get_person(user_id)
    was_locked = member_actions.support_unlock(user, _ctx(), _reason())
    return _back(user.id, "unlocked" if was_locked else "not_locked")


@bp.post("/people/<uuid:user_id>/reset-mfa")
@support_required
def reset_mfa(user_id: uuid.UUID):
    user = get_person(user_id)
    removed = member_actions.support_reset_mfa(user, _ctx(), _reason())
    return _back(user.id, "mfa_reset" if removed else "mfa_none")


@bp.post("/people/<uuid:user_id>/send-reset")
@support_required
def send_reset(user_id: uuid.UUID):
    user = get_person(user_id)
    sent = member_actions.support_send_password_reset(user, _ctx(), _reason())
    return _back(user.id, "reset_sent" if sent else "reset_not_sent")


@bp.post("/people/<uuid:user_id>/orgs/<slug>/suspend")
@support_required
def suspend(user_id: uuid.UUID, slug: str):
    actor, membership = _membership(user_id, slug)
    member_actions.suspend(actor, membership, _ctx(), _reason())
    return _back(user_id, "suspended")


@bp.post("/people/<uuid:user_id>/orgs/<slug>/reactivate")
@support_required
def reactivate(user_id: uuid.UUID, slug: str):
    actor, membership = _membership(user_id, slug)
    member_actions.reactivate(actor, membership, _ctx(), _reason())
    return _back(user_id, "reactivated")


@bp.get("/orgs/<slug>")
@support_required
def organization(slug: str):
    org = get_org(slug)
    filters = MemberFilterForm(request.args)
    valid = filters.validate()
    members = list_members(
        org,
        q=filters.q.data if valid else None,
        status=filters.status.data if valid else None,
        cursor=request.args.get("cursor") or None,
    )
    return render_template("ops/org.html", facts=org_facts(org), filters=filters, members=members)
