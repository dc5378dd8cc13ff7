"""The members list (search, filters, pages), a member's page and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, render_template, request

from ciam.accounts.mfa.factors import has_factor
from ciam.accounts.models import User
from ciam.delegation import directory
from ciam.delegation.console.forms import ActionForm, MemberFilterForm, RightForm, RoleForm, choices
from ciam.delegation.console.views import bp, org_admin_required
from ciam.delegation.permissions import OrgActor, member_of
from ciam.extensions import db
from ciam.roles import assignments, catalogue
from ciam.roles.preview import preview_membership, preview_role

CSV_COLUMNS = [
    "email",
    "given_name",
    "family_name",
    "status",
    "admin_right",
    "roles",
    "last_login",
    "mfa_enrolled",
    "locked",
]
# OWASP "CSV injection": a cell a spreadsheet would run as a formula is quoted.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _filter_form(actor: OrgActor) -> MemberFilterForm:
    form = MemberFilterForm(request.args)
    form.role.choices = choices(
        [("", "Any")] + [(r.key, r.name) for r in catalogue.list_roles(actor.org)]
    )
    return form


def _filters(form: MemberFilterForm) -> dict:
    if not form.validate():
        return {}
    return {"q": form.q.data or None, "status": form.status.data or None, "role": form.role.data}


@bp.get("/")
@org_admin_required
def members(actor: OrgActor):
    form = _filter_form(actor)
    page = directory.list_members(
        actor.org, cursor=request.args.get("cursor") or None, limit=50, **_filters(form)
    )
    args = {k: v for k, v in request.args.items() if k != "cursor" and v}
    return render_template("org/members.html", actor=actor, form=form, page=page, args=args)


def _role_choices(actor: OrgActor, held: list[str]):
    return choices([(r.key, r.name) for r in catalogue.list_roles(actor.org) if r.key not in held])


@bp.get("/members/<user_id>")
@org_admin_required
def member(actor: OrgActor, user_id: str):
    """One member, as this organization sees them: this membership only."""
    membership = member_of(actor, user_id)
    person = db.session.get_one(User, membership.user_id)
    held = assignments.roles_of(membership)
    role_form = RoleForm()
    role_form.role.choices = _role_choices(actor, [r.key for r in held])
    right_form = RightForm(right=membership.admin_right.value)
    return render_template(
        "org/member.html",
        actor=actor,
        membership=membership,
        person=person,
        held=[(role, preview_role(role, actor.org)) for role in held],
        preview=preview_membership(membership),
        mfa_enrolled=has_factor(person.id),
        action_form=ActionForm(),
        role_form=role_form,
        right_form=right_form,
    )


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_cell(v) for v in values])
    return buffer.getvalue()


def _csv_rows(actor: OrgActor, filters: dict) -> Iterator[str]:
    yield _csv_line(CSV_COLUMNS)
    cursor = None
    while True:
        page = directory.list_members(actor.org, cursor=cursor, limit=directory.MAX_PAGE, **filters)
        for row in page.items:
            user, membership = row.user, row.membership
            last_login = user.last_login_at.isoformat() if user.last_login_at else ""
            yield _csv_line(
                [
                    user.email,
                    user.given_name,
                    user.family_name,
                    membership.status.value,
                    membership.admin_right.value,
                    " ".join(row.roles),
                    last_login,
                    "yes" if row.mfa_enrolled else "no",
                    "yes" if row.locked else "no",
                ]
            )
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@bp.get("/members.csv")
@org_admin_required
def members_csv(actor: OrgActor):
    """Every member matching the list's filters, one page of the directory at a time."""
    filters = _filters(_filter_form(actor))
    # Built whole, not streamed: a stream outlives the request's session and commit.
    response = Response("".join(_csv_rows(actor, filters)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{actor.org.slug}-members.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
