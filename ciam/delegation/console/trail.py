"""Read-only pages: the organization's licences (seats used of total, per portal)
and its own audit trail, filtered by actor, target, action and date."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, time, timedelta

from flask import render_template, request

from ciam.accounts import services as accounts
from ciam.accounts.models import User
from ciam.delegation import directory
from ciam.delegation.console.forms import TrailFilterForm
from ciam.delegation.console.views import bp, org_admin_required
from ciam.delegation.permissions import OrgActor
from ciam.extensions import db
from ciam.roles import licences as licensing

NOBODY = uuid.UUID(int=0)  # an actor filter naming no known person matches nothing


@bp.get("/licences")
@org_admin_required
def licences(actor: OrgActor):
    held = licensing.licences_of(actor.org)
    summaries = [licensing.licence_summary(actor.org, licence) for licence in held]
    return render_template("org/licences.html", actor=actor, summaries=summaries)


def _user_id_of(email: str) -> uuid.UUID:
    normalized = accounts.normalize_email(email)
    found = db.session.scalar(db.select(User.id).where(User.email_normalized == normalized))
    return found or NOBODY


def _day_start(day) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None


def _trail_filters(form: TrailFilterForm) -> dict:
    if not form.validate():
        return {}
    target = (form.target.data or "").strip() or None
    if target and "@" in target:
        target = str(_user_id_of(target))  # member events name the person by id
    until = _day_start(form.until.data)
    return {
        "actor_id": _user_id_of(form.actor.data) if form.actor.data else None,
        "target": target,
        "action": (form.action.data or "").strip() or None,
        "since": _day_start(form.since.data),
        "until": until + timedelta(days=1) if until else None,
    }


def _emails(events: list) -> dict[str, str]:
    """The email of each person the page names, as actor or target, by id."""
    ids = set()
    for event in events:
        ids.add(event.actor_id)
        with contextlib.suppress(ValueError):  # targets are also role keys, ids
            ids.add(uuid.UUID(event.target or ""))
    ids.discard(None)
    if not ids:
        return {}
    rows = db.session.execute(db.select(User.id, User.email).where(User.id.in_(ids)))
    return {str(user_id): email for user_id, email in rows}


@bp.get("/audit")
@org_admin_required
def trail(actor: OrgActor):
    form = TrailFilterForm(request.args)
    page = directory.org_events(
        actor.org, cursor=request.args.get("cursor") or None, limit=50, **_trail_filters(form)
    )
    args = {k: v for k, v in request.args.items() if k != "cursor" and v}
    return render_template(
        "org/trail.html",
        actor=actor,
        form=form,
        page=page,
        args=args,
        emails=_emails(page.items),
    )
