"""The local mirror of the CRM: organizations from accounts, licences from the
entitlements of active contracts, and access that follows the contracts.

`sync` reads what changed since the last cursor (with an overlap, so a record
written while the last read ran is not missed), and for every account touched
re-reads its contracts and their entitlements: the licences are recomputed, never
patched, so a replay changes nothing. `sweep` re-applies every CRM organization's
contracts, because no CRM event fires when an end date passes (daily, in `ciam
worker`).

A contract counts while its status is one of CIAM_CRM_ACTIVE_STATUSES and today is
within [start, end]. An organization with none becomes `contract_ended`: its people
lose its portals at once (its tokens revoked; memberships and roles kept), its admins
are told by email; a contract active again restores it. An organization suspended by
the operator is left alone. Nothing here is on a person's path: sign-ins read the
mirror only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app

from ciam.accounts.models import User
from ciam.audit.services import SYSTEM, record
from ciam.audit.tags import AuditTag
from ciam.crm.local import LocalCrm
from ciam.crm.models import CrmSyncState
from ciam.crm.protocol import CrmAccount, CrmAdapter, CrmContract, CrmEntitlement, CrmError
from ciam.db import utcnow
from ciam.delegation.models import AdminRight, Membership, Organization, OrgStatus
from ciam.errors import CiamError, ConfigError
from ciam.extensions import db
from ciam.oidc.models import Token
from ciam.oidc.token_store import revoke_where
from ciam.outbox.services import enqueue
from ciam.roles.licences import licence_for, licences_of, set_licence

CURSOR_OVERLAP = timedelta(seconds=60)


@dataclass
class SyncResult:
    accounts: int = 0
    organizations_created: int = 0
    licences_changed: int = 0
    ended: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def adapter() -> CrmAdapter:
    name = current_app.config["CIAM_CRM"]
    if name == "local":
        return LocalCrm()
    raise ConfigError(f"CIAM_CRM={name} is not available in this version; use local.")


def qualifying(contract: CrmContract, today: date) -> bool:
    statuses = {status.lower() for status in current_app.config["CIAM_CRM_ACTIVE_STATUSES"]}
    if contract.status.lower() not in statuses:
        return False
    started = contract.start_date is None or contract.start_date <= today
    return started and (contract.end_date is None or today <= contract.end_date)


def _free_slug(name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:70] or "org"
    base = base if len(base) >= 2 else f"{base}-org"
    slug, n = base, 1
    while db.session.scalar(db.select(Organization.id).where(Organization.slug == slug)):
        n += 1
        slug = f"{base}-{n}"
    return slug


def mirror_account(account: CrmAccount, result: SyncResult) -> Organization:
    org = db.session.scalar(
        db.select(Organization).where(Organization.crm_account_id == account.id)
    )
    if org is None:
        org = Organization(
            slug=_free_slug(account.name), name=account.name, crm_account_id=account.id
        )
        db.session.add(org)
        db.session.flush()
        record(AuditTag.ORG_CREATED, SYSTEM, org_id=org.id, target=org.slug, source="crm")
        result.organizations_created += 1
    org.name = account.name
    org.email_domains = sorted(set(account.email_domains))
    return org


def _seats(active: Sequence[CrmContract], entitlements: Sequence[CrmEntitlement]) -> dict:
    """Seats per portal over the active contracts (None: unlimited wins)."""
    ids = {c.id for c in active}
    seats: dict[str, int | None] = {}
    for ent in entitlements:
        if ent.contract_id not in ids:
            continue
        unlimited_before = ent.portal in seats and seats[ent.portal] is None
        if unlimited_before or ent.seats is None:
            seats[ent.portal] = None
        else:
            seats[ent.portal] = (seats.get(ent.portal) or 0) + ent.seats
    return seats


def _apply_licences(org: Organization, seats: dict, result: SyncResult) -> None:
    wanted = dict(seats)
    for held in licences_of(org):
        wanted.setdefault(held.client_id, 0)  # a portal no longer in any contract
    for portal, count in sorted(wanted.items()):
        current = licence_for(org, portal)
        if current is not None and current.seats == count:
            continue
        try:
            set_licence(org, portal, count)
            result.licences_changed += 1
        except CiamError as error:  # a portal the CRM names that is not registered
            result.errors.append(f"{org.slug}: {portal}: {error.message}")


def _notify_admins(org: Organization, subject: str, text: str) -> None:
    admins = db.session.scalars(
        db.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org.id, Membership.admin_right == AdminRight.org_admin)
    )
    for admin in admins:
        enqueue("email", {"to": admin.email, "subject": subject, "text": text}, str(admin.id))


def _apply_status(org: Organization, has_contract: bool, result: SyncResult) -> None:
    if org.status == OrgStatus.suspended:
        return
    if not has_contract and org.status == OrgStatus.active:
        org.status = OrgStatus.contract_ended
        revoked = revoke_where(Token.org_id == org.id)
        record(AuditTag.ORG_CONTRACT_ENDED, SYSTEM, org_id=org.id, tokens_revoked=revoked)
        _notify_admins(
            org,
            f"{org.name}: no active contract, portal access paused",
            f"{org.name} has no active contract any more, so its people cannot sign in to\n"
            "its portals for now. Their accounts, memberships and roles are kept: access\n"
            "comes back as soon as a contract is active again.\n",
        )
        result.ended.append(org.slug)
    elif has_contract and org.status == OrgStatus.contract_ended:
        org.status = OrgStatus.active
        record(AuditTag.ORG_CONTRACT_RESTORED, SYSTEM, org_id=org.id)
        result.restored.append(org.slug)


def apply_accounts(crm: CrmAdapter, accounts: Sequence[CrmAccount], today: date) -> SyncResult:
    """Mirror these accounts, their contracts and entitlements (recomputed whole)."""
    result = SyncResult(accounts=len(accounts))
    contracts = crm.contracts_of([a.id for a in accounts]) if accounts else []
    entitlements = crm.entitlements_of([c.id for c in contracts]) if contracts else []
    for account in accounts:
        org = mirror_account(account, result)
        active = [c for c in contracts if c.account_id == account.id and qualifying(c, today)]
        _apply_licences(org, _seats(active, entitlements), result)
        _apply_status(org, bool(active), result)
    db.session.flush()
    return result


def _state(name: str) -> CrmSyncState:
    state = db.session.get(CrmSyncState, name)
    if state is None:
        state = CrmSyncState(crm=name)
        db.session.add(state)
    return state


def _read_from(cursor: str | None) -> str | None:
    if not cursor:
        return None
    return (datetime.fromisoformat(cursor) - CURSOR_OVERLAP).isoformat()


def sync(now: datetime | None = None) -> SyncResult:
    """Mirror what changed since the last cursor; records the run (and an error) on
    the sync state. Raises CrmError when the CRM cannot be read (nothing changed)."""
    now = now or utcnow()
    crm = adapter()
    state = _state(crm.name)
    state.last_run_at = now
    try:
        changes = crm.changes_since(_read_from(state.cursor))
        touched = {a.id for a in changes.accounts} | {c.account_id for c in changes.contracts}
        accounts = crm.accounts(sorted(touched)) if touched else []
    except CrmError as error:
        state.last_error = f"{type(error).__name__}: {error}"[:2000]
        raise
    result = apply_accounts(crm, accounts, now.date())
    state.cursor = changes.cursor or state.cursor
    state.last_success_at, state.last_error = now, None
    return result


def sweep(now: datetime | None = None) -> SyncResult:
    """Re-apply every CRM organization's contracts (end dates that passed)."""
    now = now or utcnow()
    crm = adapter()
    ids = list(
        db.session.scalars(
            db.select(Organization.crm_account_id).where(Organization.crm_account_id.is_not(None))
        )
    )
    return apply_accounts(crm, crm.accounts([i for i in ids if i]), now.date())


def sync_and_commit() -> SyncResult | None:
    """The worker's job: a sync and its commit; a CRM that cannot be read leaves
    its error on the sync state (`ciam crm status`) and the mirror as it was."""
    try:
        result = sync()
    except CrmError:
        db.session.commit()  # keep the recorded error
        return None
    db.session.commit()
    return result


def sweep_and_commit() -> SyncResult:
    result = sweep()
    db.session.commit()
    return result
