"""The organization's business roles: the global catalogue it may use, its own
roles, and what each maps to on the portals it is licensed for. Creating and
mapping roles is for org admins (and support), not user managers."""

from __future__ import annotations

from flask import render_template, url_for

from ciam.delegation.console.forms import CreateRoleForm, MapRoleForm, choices
from ciam.delegation.console.views import act, bp, context, invalid_form, org_admin_required
from ciam.delegation.permissions import NotAllowed, OrgActor
from ciam.errors import NotFound
from ciam.roles import catalogue, licences
from ciam.roles.app_roles import app_roles_of
from ciam.roles.models import BusinessRole
from ciam.roles.preview import preview_role


def _check_admin(actor: OrgActor) -> None:
    if not actor.is_admin:
        raise NotAllowed("Only an org admin can define the organization's roles.")


def entitled_portals(actor: OrgActor) -> list[str]:
    """The portals the organization holds a licence with seats for."""
    found = [lic.client_id for lic in licences.licences_of(actor.org)]
    return [client_id for client_id in found if licences.entitled(actor.org, client_id)]


def _own_role(actor: OrgActor, key: str) -> BusinessRole:
    """One of the organization's own roles: a global one is the operator's to map."""
    role = catalogue.find_role(key, actor.org)
    if role.org_id != actor.org.id:
        raise NotFound("No such role of this organization.")
    return role


def _map_forms(actor: OrgActor, role: BusinessRole, portals: list[str]) -> list[MapRoleForm]:
    mapped = catalogue.mappings_of(role)
    forms = []
    for client_id in portals:
        form = MapRoleForm(formdata=None, portal=client_id, app_roles=mapped.get(client_id, []))
        form.portal.choices = choices([(client_id, client_id)])
        form.app_roles.choices = choices([(r, r) for r in app_roles_of(client_id)])
        forms.append(form)
    return forms


@bp.get("/roles")
@org_admin_required
def roles(actor: OrgActor):
    portals = entitled_portals(actor)
    listed = [
        (
            role,
            preview_role(role, actor.org),
            _map_forms(actor, role, portals) if role.org_id == actor.org.id else [],
        )
        for role in catalogue.list_roles(actor.org)
    ]
    return render_template(
        "org/roles.html", actor=actor, listed=listed, form=CreateRoleForm(), portals=portals
    )


@bp.post("/roles")
@org_admin_required
def role_create(actor: OrgActor):
    _check_admin(actor)
    form = CreateRoleForm()
    back = url_for("org_console.roles")
    if not form.validate_on_submit():
        return invalid_form(back)
    return act(
        back,
        "role_created",
        lambda: catalogue.create_role(form.key.data, form.name.data, actor.org, context(actor)),
    )


@bp.post("/roles/<key>/map")
@org_admin_required
def role_map(actor: OrgActor, key: str):
    """Set the app roles an org role gives on one licensed portal (none: unmap)."""
    _check_admin(actor)
    role = _own_role(actor, key)
    back = url_for("org_console.roles")
    form = MapRoleForm()
    form.portal.choices = choices([(p, p) for p in entitled_portals(actor)])
    form.app_roles.choices = choices([(r, r) for r in app_roles_of(form.portal.data or "")])
    if not form.validate_on_submit():
        return invalid_form(back)
    return act(
        back,
        "role_mapped",
        lambda: catalogue.map_role(role, form.portal.data, form.app_roles.data, context(actor)),
    )
