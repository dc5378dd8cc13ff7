"""An organization's policy (MFA, idle timeout, allowed portals) and branding."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.audit.tags import AuditTag
from ciam.delegation.models import Organization
from ciam.errors import CiamError
from ciam.extensions import db
from ciam.oidc.models import Portal

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
# A sender name goes into a From: header: no line breaks (header injection), no
# angle brackets or quotes that would change the address part.
SENDER_NAME = re.compile(r"^[^\r\n<>\"]{1,120}$")
MAX_IDLE_MINUTES = 24 * 60
SETTINGS = (
    "mfa_required",
    "session_idle_minutes",
    "allowed_portals",
    "display_name",
    "logo_url",
    "primary_colour",
    "email_sender_name",
)


class InvalidSetting(CiamError):
    code = "invalid_setting"


def _check_idle(minutes: int | None) -> None:
    if minutes is not None and not 1 <= minutes <= MAX_IDLE_MINUTES:
        raise InvalidSetting(f"Session idle minutes are 1 to {MAX_IDLE_MINUTES}.")


def _check_logo(url: str | None) -> None:
    if url and (urlsplit(url).scheme != "https" or not urlsplit(url).hostname):
        raise InvalidSetting("The logo URL must be an https:// URL.")


def _check_branding(changes: dict) -> None:
    colour = changes.get("primary_colour")
    if colour and not COLOUR.match(colour):
        raise InvalidSetting("The primary colour is #RRGGBB, e.g. #0a5fb4.")
    sender = changes.get("email_sender_name")
    if sender and not SENDER_NAME.match(sender):
        raise InvalidSetting("An email sender name is 1-120 characters, without <, > or quotes.")
    name = changes.get("display_name")
    if name is not None and len(name) > 200:
        raise InvalidSetting("A display name is at most 200 characters.")


def _check_portals(client_ids: list[str] | None) -> None:
    if not client_ids:
        return
    known = set(
        db.session.scalars(db.select(Portal.client_id).where(Portal.client_id.in_(client_ids)))
    )
    unknown = sorted(set(client_ids) - known)
    if unknown:
        raise InvalidSetting(f"No portal with client id {', '.join(unknown)}.")


def update_settings(org: Organization, ctx: ActorContext = SYSTEM, **changes) -> Organization:
    """Change the named settings (see SETTINGS); an empty string clears a text one."""
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise InvalidSetting(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    changes = {name: (None if value == "" else value) for name, value in changes.items()}
    _check_idle(changes.get("session_idle_minutes"))
    _check_logo(changes.get("logo_url"))
    _check_branding(changes)
    _check_portals(changes.get("allowed_portals"))
    if "allowed_portals" in changes:
        changes["allowed_portals"] = sorted(set(changes["allowed_portals"] or []))
    for name, value in changes.items():
        setattr(org, name, value)
    db.session.flush()
    record(
        AuditTag.ORG_SETTINGS_UPDATED, ctx, org_id=org.id, target=org.slug, changed=sorted(changes)
    )
    return org


def settings_of(org: Organization) -> dict:
    return {"slug": org.slug, "name": org.name, "status": org.status.value} | {
        name: getattr(org, name) for name in SETTINGS
    }
