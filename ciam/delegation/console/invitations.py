"""Inviting people into the organization and the pending invitations: the same
services as the CRM's invitations API (ciam.invitations.services), the signed-in
person named as the inviter."""

from __future__ import annotations

from flask import render_template, request, url_for

from ciam.delegation.console.forms import ActionForm, InviteForm, choices
from ciam.delegation.console.views import act, bp, context, invalid_form, org_admin_required
from ciam.delegation.permissions import OrgActor
from ciam.errors import NotFound
from ciam.invitations import lookup, services
from ciam.invitations.listing import list_invitations
from ciam.invitations.models import Invitation, InvitationStatus
from ciam.roles import catalogue


def _invite_form(actor: OrgActor) -> InviteForm:
    """Only roles of this organization's catalogue (global and its own) are offered,
    and the form refuses any other."""
    form = InviteForm()
    form.roles.choices = choices([(r.key, r.name) for r in catalogue.list_roles(actor.org)])
    return form


def _inviter(actor: OrgActor) -> services.Inviter:
    return services.Inviter(user_id=actor.user_id)


def _own_invitation(actor: OrgActor, invitation_id: str) -> Invitation:
    """An invitation of this organization; another's is as unknown as none."""
    invitation = lookup.get_invitation(invitation_id)
    if invitation.org_id != actor.org.id:
        raise NotFound("No such invitation.")
    return invitation


@bp.get("/invitations")
@org_admin_required
def invitations(actor: OrgActor):
    page = list_invitations(
        limit=50,
        cursor=request.args.get("cursor") or None,
        org=actor.org.slug,
        status=InvitationStatus.pending.value,
    )
    return render_template(
        "org/invitations.html",
        actor=actor,
        page=page,
        form=_invite_form(actor),
        action_form=ActionForm(),
    )


@bp.post("/invitations")
@org_admin_required
def invitation_create(actor: OrgActor):
    back = url_for("org_console.invitations")
    form = _invite_form(actor)
    if not form.validate_on_submit():
        return invalid_form(back)
    item = {
        "email": form.email.data.strip(),
        "org": actor.org.slug,
        "business_roles": list(form.roles.data or []),
        "given_name": form.given_name.data or None,
        "family_name": form.family_name.data or None,
    }
    return act(
        back,
        lambda created: "invited" if created else "already_invited",
        lambda: services.create_invitation(item, _inviter(actor), context(actor)).created,
    )


@bp.post("/invitations/<invitation_id>/resend")
@org_admin_required
def invitation_resend(actor: OrgActor, invitation_id: str):
    invitation = _own_invitation(actor, invitation_id)
    back = url_for("org_console.invitations")
    if not ActionForm().validate_on_submit():
        return invalid_form(back)
    return act(
        back, "resent", lambda: services.resend(invitation.id, _inviter(actor), context(actor))
    )


@bp.post("/invitations/<invitation_id>/revoke")
@org_admin_required
def invitation_revoke(actor: OrgActor, invitation_id: str):
    invitation = _own_invitation(actor, invitation_id)
    back = url_for("org_console.invitations")
    if not ActionForm().validate_on_submit():
        return invalid_form(back)
    return act(
        back, "revoked", lambda: services.revoke(invitation.id, _inviter(actor), context(actor))
    )
