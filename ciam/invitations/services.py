"""Invitations: create (one or many), resend, revoke, expire, and accept by link.

No `request` here (DESIGN §5.2): callers pass who acts (`Inviter`, `ActorContext`).
Services flush; the request (or the outbox worker's transaction) commits once.

The link is an itsdangerous token of purpose "invitation" (ciam.tokens) whose payload
names the invitation and a random nonce; the row stores the nonce's SHA-256. A resend
draws a new nonce, so the previous link stops working; accepting moves the row from
pending to accepted with a conditional UPDATE, so a link works once even when two
browsers race (DESIGN §5.4).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ciam.accounts import passwords
from ciam.accounts import services as accounts
from ciam.accounts.models import User, UserStatus
from ciam.audit.services import SYSTEM, ActorContext, record
from ciam.crypto import hash_secret, random_token, secret_matches
from ciam.db import utcnow
from ciam.delegation.models import AdminRight, Membership, Organization, OrgStatus
from ciam.errors import CiamError, Conflict, Forbidden, NotFound
from ciam.extensions import db
from ciam.invitations.models import Invitation, InvitationStatus
from ciam.outbox.services import enqueue, new_message
from ciam.tokens import LinkExpired, LinkInvalid, Purpose, make_token, read_token


class UnknownOrg(CiamError):
    code = "unknown_org"
    status = 422


class InvitationGone(CiamError):
    """The link was real but cannot be used any more (used, revoked, expired)."""

    code = "invitation_gone"
    status = 410


class Throttled(CiamError):
    code = "throttled"
    status = 429


@dataclass(frozen=True)
class Inviter:
    """Who invites: the CRM's client (client_credentials), a person, or both."""

    client_id: str | None = None
    user_id: uuid.UUID | None = None


OPERATOR = Inviter()


@dataclass
class Outcome:
    """What happened to one requested invitation."""

    index: int
    invitation: Invitation | None = None
    created: bool = False
    error: CiamError | None = None
    # The link emailed for a created invitation, for the operator's CLI only: it is
    # never stored, and the API never shows it.
    link: str | None = None


@dataclass
class Page:
    items: list[Invitation]
    next_cursor: str | None = None


@dataclass
class LinkView:
    """What the invitation page shows: the invitation, its org, and what to ask."""

    invitation: Invitation
    org: Organization
    # "new": set a password; "sign_in": this email has an account, sign in first;
    # "confirm": signed in as the invited account; "wrong_account": signed in as
    # someone else.
    mode: str
    signed_in_email: str | None = None


# --- helpers -------------------------------------------------------------------------


def _ttl() -> timedelta:
    return timedelta(seconds=current_app.config["CIAM_INVITATION_TTL"])


def is_public_email_domain(email: str) -> bool:
    domain = email.rpartition("@")[2].strip().lower()
    return domain in set(current_app.config["CIAM_PUBLIC_EMAIL_DOMAINS"])


def link_for(invitation: Invitation, nonce: str) -> str:
    """The link to send. Built from CIAM_ISSUER, never from a Host header, so a forged
    Host cannot make us mail a working link to someone else's site."""
    token = make_token(Purpose.invitation, {"i": str(invitation.id), "n": nonce})
    return f"{current_app.config['CIAM_ISSUER']}/invitations/{token}"


def _new_nonce(invitation: Invitation) -> str:
    nonce = random_token(24)
    invitation.token_hash = hash_secret(nonce)
    return nonce


def _email_message(invitation: Invitation, org: Organization, link: str) -> dict:
    hello = f"Hello {invitation.given_name},\n\n" if invitation.given_name else "Hello,\n\n"
    days = max(1, round((invitation.expires_at - utcnow()).total_seconds() / 86400))
    text = (
        f"{hello}you are invited to join {org.name}.\n\n"
        f"Open this link to create your account, or to add {org.name} to the account "
        f"you already have:\n\n{link}\n\n"
        f"The link works once and expires in {days} day(s). If you did not expect this "
        "invitation, ignore this email.\n"
    )
    return {"to": invitation.email, "subject": f"Your invitation to {org.name}", "text": text}


def _queue_email(invitation: Invitation, org: Organization, nonce: str, inline: bool) -> str:
    """One `email` outbox row for this invitation, in this transaction (DESIGN §5.3).
    Returns the link it carries."""
    link = link_for(invitation, nonce)
    payload = _email_message(invitation, org, link)
    if inline:
        enqueue("email", payload, aggregate_id=str(invitation.id))
    else:
        # The batch worker adds rows without enqueue(): enqueue flushes once per
        # message to learn its id for inline sending, which a worker does not need,
        # and one flush per chunk is much cheaper than one per invitation.
        db.session.add(new_message("email", payload, aggregate_id=str(invitation.id)))
    invitation.sends += 1
    invitation.last_sent_at = utcnow()
    return link


def _audit(tag: str, invitation: Invitation, ctx: ActorContext, inviter: Inviter | None, **data):
    record(
        tag,
        ctx,
        actor_id=inviter.user_id if inviter else None,
        client_id=inviter.client_id if inviter else None,
        org_id=invitation.org_id,
        target=str(invitation.id),
        **data,
    )


# --- creating ------------------------------------------------------------------------


def _resolve_orgs(items: list[dict]) -> tuple[dict[str, Organization], dict[str, Organization]]:
    slugs = {i["org"] for i in items if i.get("org")}
    crm_ids = {i["crm_account_id"] for i in items if i.get("crm_account_id")}
    by_slug: dict[str, Organization] = {}
    by_crm: dict[str, Organization] = {}
    if slugs:
        for org in db.session.scalars(db.select(Organization).where(Organization.slug.in_(slugs))):
            by_slug[org.slug] = org
    if crm_ids:
        query = db.select(Organization).where(Organization.crm_account_id.in_(crm_ids))
        for org in db.session.scalars(query):
            by_crm[org.crm_account_id] = org
    return by_slug, by_crm


def _org_for(item: dict, by_slug: dict, by_crm: dict) -> Organization:
    if item.get("org"):
        org = by_slug.get(item["org"])
        if org is None:
            raise UnknownOrg(f"No organization {item['org']}.", details={"org": item["org"]})
    else:
        org = by_crm.get(item.get("crm_account_id") or "")
        if org is None:
            raise UnknownOrg(
                f"No organization with CRM account {item.get('crm_account_id')}.",
                details={"crm_account_id": item.get("crm_account_id")},
            )
    if org.status != OrgStatus.active:
        raise Conflict(
            f"Organization {org.slug} is {org.status.value} and takes no new members.",
            code="org_not_active",
        )
    return org


def _chunks(values: list, size: int = 500) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _pending(org_ids: set, emails: set) -> dict[tuple, Invitation]:
    found: dict[tuple, Invitation] = {}
    for part in _chunks(sorted(emails)):
        query = db.select(Invitation).where(
            Invitation.status == InvitationStatus.pending,
            Invitation.org_id.in_(org_ids),
            Invitation.email.in_(part),
        )
        for invitation in db.session.scalars(query):
            found[(invitation.org_id, invitation.email)] = invitation
    return found


def _members(org_ids: set, emails: set) -> set[tuple]:
    found: set[tuple] = set()
    for part in _chunks(sorted(emails)):
        query = (
            db.select(Membership.org_id, User.email_normalized)
            .join(User, User.id == Membership.user_id)
            .where(Membership.org_id.in_(org_ids), User.email_normalized.in_(part))
        )
        found.update((row.org_id, row.email_normalized) for row in db.session.execute(query))
    return found


def expire_one(invitation: Invitation, ctx: ActorContext = SYSTEM) -> None:
    invitation.status = InvitationStatus.expired
    _audit("invitation:expired", invitation, ctx, None)


def create_invitations(
    items: list[dict],
    inviter: Inviter,
    ctx: ActorContext = SYSTEM,
    *,
    batch_id: uuid.UUID | None = None,
    inline_email: bool = True,
    first_index: int = 0,
) -> list[Outcome]:
    """Create invitations for validated items (see ciam.invitations.schemas), one
    outcome per item: created (and emailed), an existing pending invitation for the
    same address and organization (nothing sent), or an error for that item alone."""
    by_slug, by_crm = _resolve_orgs(items)
    outcomes: list[Outcome] = []
    wanted: list[tuple[Outcome, dict, Organization, str]] = []
    for offset, item in enumerate(items):
        outcome = Outcome(index=first_index + offset)
        outcomes.append(outcome)
        try:
            org = _org_for(item, by_slug, by_crm)
            email = accounts.normalize_email(accounts.validate_email(item["email"]))
        except CiamError as error:
            outcome.error = error
            continue
        wanted.append((outcome, item, org, email))
    if not wanted:
        return outcomes
    org_ids = {org.id for _, _, org, _ in wanted}
    emails = {email for *_, email in wanted}
    pending = _pending(org_ids, emails)
    members = _members(org_ids, emails)
    now = utcnow()
    fresh: list[tuple[Outcome, Organization, str]] = []
    for outcome, item, org, email in wanted:
        key = (org.id, email)
        if key in members:
            outcome.error = Conflict(
                f"{email} is already a member of {org.slug}.",
                code="already_member",
                details={"email": email, "org": org.slug},
            )
            continue
        existing = pending.get(key)
        if existing is not None and existing.expires_at <= now:
            # Past its expiry but not yet swept: expire it so a new one may be pending.
            expire_one(existing, ctx)
            db.session.flush()
            existing = None
        if existing is not None:
            outcome.invitation = existing
            continue
        invitation = _new_invitation(item, org, email, inviter, batch_id, now)
        pending[key] = invitation
        outcome.invitation, outcome.created = invitation, True
        fresh.append((outcome, org, _new_nonce(invitation)))
    db.session.add_all([outcome.invitation for outcome, _, _ in fresh])
    db.session.flush()
    for outcome, org, nonce in fresh:
        invitation = outcome.invitation
        outcome.link = _queue_email(invitation, org, nonce, inline_email)
        _audit(
            "invitation:created",
            invitation,
            ctx,
            inviter,
            email=invitation.email,
            business_roles=invitation.business_roles,
            batch_id=str(batch_id) if batch_id else None,
        )
        _audit("invitation:sent", invitation, ctx, inviter, sends=invitation.sends)
    db.session.flush()
    return outcomes


def _new_invitation(item, org, email, inviter, batch_id, now) -> Invitation:
    lead = bool(item.get("crm_lead_id"))
    return Invitation(
        id=uuid.uuid4(),
        email=email,
        org_id=org.id,
        business_roles=list(dict.fromkeys(item.get("business_roles") or [])),
        crm_contact_id=item.get("crm_contact_id"),
        crm_lead_id=item.get("crm_lead_id"),
        given_name=item.get("given_name"),
        family_name=item.get("family_name"),
        locale=item.get("locale"),
        inviter_client_id=inviter.client_id,
        inviter_user_id=inviter.user_id,
        batch_id=batch_id,
        status=InvitationStatus.pending,
        # DESIGN §3: only leads are flagged; a contact already belongs to an account.
        public_email_domain=lead and is_public_email_domain(email),
        expires_at=now + _ttl(),
        sends=0,
        created_at=now,
    )


def create_invitation(item: dict, inviter: Inviter, ctx: ActorContext = SYSTEM) -> Outcome:
    """One invitation. Raises the item's error; returns the outcome (created or not)."""
    try:
        outcome = create_invitations([item], inviter, ctx)[0]
    except IntegrityError:
        # Another request created the same pending invitation between our read and
        # our insert (the partial unique index refused ours): answer with theirs.
        db.session.rollback()
        outcome = create_invitations([item], inviter, ctx)[0]
    if outcome.error is not None:
        raise outcome.error
    return outcome


# --- reading -------------------------------------------------------------------------


def get_invitation(invitation_id: uuid.UUID | str) -> Invitation:
    try:
        key = invitation_id if isinstance(invitation_id, uuid.UUID) else uuid.UUID(invitation_id)
    except ValueError:
        key = None
    invitation = db.session.get(Invitation, key) if key else None
    if invitation is None:
        raise NotFound("No such invitation.")
    return invitation


def org_of(invitation: Invitation) -> Organization:
    return db.session.get(Organization, invitation.org_id)


def _encode_cursor(invitation: Invitation) -> str:
    raw = json.dumps([invitation.created_at.isoformat(), str(invitation.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, uuid.UUID(ident)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise CiamError("The cursor is not valid.", code="invalid_cursor") from exc


def list_invitations(
    *,
    limit: int,
    cursor: str | None = None,
    org: str | None = None,
    status: str | None = None,
    email: str | None = None,
    batch_id: uuid.UUID | None = None,
) -> Page:
    """Newest first, by keyset on (created_at, id): stable while rows are added."""
    query = db.select(Invitation)
    if org:
        org_row = db.session.scalar(db.select(Organization).where(Organization.slug == org))
        if org_row is None:
            raise UnknownOrg(f"No organization {org}.", details={"org": org})
        query = query.where(Invitation.org_id == org_row.id)
    if status == InvitationStatus.expired:
        # Expired includes pending rows past their expiry that no sweep wrote down yet.
        query = query.where(
            db.or_(
                Invitation.status == InvitationStatus.expired,
                db.and_(
                    Invitation.status == InvitationStatus.pending,
                    Invitation.expires_at <= utcnow(),
                ),
            )
        )
    elif status == InvitationStatus.pending:
        query = query.where(
            Invitation.status == InvitationStatus.pending, Invitation.expires_at > utcnow()
        )
    elif status:
        query = query.where(Invitation.status == InvitationStatus(status))
    if email:
        query = query.where(Invitation.email == accounts.normalize_email(email))
    if batch_id:
        query = query.where(Invitation.batch_id == batch_id)
    if cursor:
        when, ident = _decode_cursor(cursor)
        query = query.where(
            db.or_(
                Invitation.created_at < when,
                db.and_(Invitation.created_at == when, Invitation.id < ident),
            )
        )
    query = query.order_by(Invitation.created_at.desc(), Invitation.id.desc()).limit(limit + 1)
    rows = list(db.session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, _encode_cursor(rows[-1]) if more and rows else None)


# --- revoking, resending, expiring -----------------------------------------------------


def revoke(
    invitation_id: uuid.UUID | str, inviter: Inviter, ctx: ActorContext = SYSTEM
) -> Invitation:
    """Pending -> revoked: its link stops working at once."""
    invitation = get_invitation(invitation_id)
    if invitation.status != InvitationStatus.pending:
        raise Conflict(
            f"The invitation is {invitation.effective_status.value} and cannot be revoked.",
            code="not_pending",
        )
    invitation.status = InvitationStatus.revoked
    invitation.revoked_at = utcnow()
    _audit("invitation:revoked", invitation, ctx, inviter)
    db.session.flush()
    return invitation


def resend(
    invitation_id: uuid.UUID | str, inviter: Inviter, ctx: ActorContext = SYSTEM
) -> Invitation:
    """Send a new link with a fresh expiry; the previous link stops working.

    At most one send per CIAM_INVITATION_RESEND_INTERVAL seconds, so a stuck button in
    the CRM cannot flood someone's inbox.
    """
    invitation = get_invitation(invitation_id)
    if invitation.effective_status != InvitationStatus.pending:
        raise Conflict(
            f"The invitation is {invitation.effective_status.value} and cannot be resent.",
            code="not_pending",
        )
    interval = timedelta(seconds=current_app.config["CIAM_INVITATION_RESEND_INTERVAL"])
    now = utcnow()
    if invitation.last_sent_at and now - invitation.last_sent_at < interval:
        wait = int((invitation.last_sent_at + interval - now).total_seconds()) + 1
        raise Throttled(
            f"The invitation was sent recently. Try again in {wait} seconds.",
            details={"retry_after": wait},
        )
    nonce = _new_nonce(invitation)
    invitation.expires_at = now + _ttl()
    _queue_email(invitation, org_of(invitation), nonce, inline=True)
    _audit("invitation:resent", invitation, ctx, inviter, sends=invitation.sends)
    db.session.flush()
    return invitation


def expire_due(ctx: ActorContext = SYSTEM, limit: int = 1000) -> int:
    """Mark pending invitations past their expiry as expired (`ciam invitations
    expire`). Returns how many; call again until it returns less than `limit`."""
    query = (
        db.select(Invitation)
        .where(Invitation.status == InvitationStatus.pending, Invitation.expires_at <= utcnow())
        .limit(limit)
    )
    rows = list(db.session.scalars(query))
    for invitation in rows:
        expire_one(invitation, ctx)
    db.session.flush()
    return len(rows)


# --- the link and accepting -------------------------------------------------------------


_NOT_VALID = "This invitation link is not valid. It may have been replaced by a newer one."


def read_link(token: str) -> tuple[Invitation, str]:
    """The invitation a link is for, if it can still be accepted, and the nonce.

    Raises LinkInvalid (400) for a tampered or replaced link, InvitationGone (410)
    for one already used, revoked or expired, Forbidden when the organization no
    longer takes members.
    """
    try:
        # The row's expires_at decides; the signature age is only a backstop.
        payload = read_token(
            Purpose.invitation, token, max_age=current_app.config["CIAM_INVITATION_TTL"] + 86400
        )
    except LinkExpired as exc:
        raise InvitationGone("This invitation has expired. Ask for a new one.") from exc
    try:
        invitation = db.session.get(Invitation, uuid.UUID(str(payload.get("i"))))
    except ValueError:
        invitation = None
    nonce = payload.get("n")
    if invitation is None or not isinstance(nonce, str):
        raise LinkInvalid(_NOT_VALID)
    if not secret_matches(nonce, invitation.token_hash):
        raise LinkInvalid(_NOT_VALID)
    status = invitation.effective_status
    if status == InvitationStatus.accepted:
        raise InvitationGone("This invitation has already been used. Sign in instead.")
    if status == InvitationStatus.revoked:
        raise InvitationGone("This invitation was withdrawn.")
    if status == InvitationStatus.expired:
        raise InvitationGone("This invitation has expired. Ask for a new one.")
    org = org_of(invitation)
    if org is None or org.status != OrgStatus.active:
        raise Forbidden("This organization does not take new members at the moment.")
    return invitation, nonce


def describe_link(token: str, signed_in: User | None) -> LinkView:
    """What the invitation page should ask of this browser."""
    invitation, _ = read_link(token)
    org = org_of(invitation)
    account = accounts.find_by_email(invitation.email)
    if account is None:
        mode = "new"
    elif signed_in is None:
        mode = "sign_in"
    elif signed_in.id == account.id:
        mode = "confirm"
    else:
        mode = "wrong_account"
    return LinkView(invitation, org, mode, signed_in.email if signed_in else None)


def _claim(invitation: Invitation, nonce: str) -> None:
    """pending -> accepted, only if still pending, still this link, still in time.

    One conditional UPDATE: of two browsers (or nodes) racing on the same link, the
    second finds no row to change and is refused.
    """
    now = utcnow()
    claimed = db.session.execute(
        db.update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.status == InvitationStatus.pending,
            Invitation.token_hash == hash_secret(nonce),
            Invitation.expires_at > now,
        )
        .values(status=InvitationStatus.accepted, accepted_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise InvitationGone("This invitation has already been used or is no longer valid.")
    invitation.status = InvitationStatus.accepted
    invitation.accepted_at = now


def _join(invitation: Invitation, user: User, ctx: ActorContext, new_account: bool) -> Membership:
    org = org_of(invitation)
    membership = db.session.scalar(
        db.select(Membership).where(Membership.user_id == user.id, Membership.org_id == org.id)
    )
    if membership is None:
        membership = Membership(
            user_id=user.id,
            org_id=org.id,
            admin_right=AdminRight.none,
            business_roles=list(invitation.business_roles or []),
        )
        db.session.add(membership)
        db.session.flush()
        record(
            "membership:created",
            ctx,
            actor_id=user.id,
            org_id=org.id,
            target=str(user.id),
            admin_right=AdminRight.none.value,
            business_roles=membership.business_roles,
            invitation_id=str(invitation.id),
        )
    else:
        # Joined meanwhile (another invitation, an admin): add the roles, keep the rest.
        held = membership.business_roles or []
        membership.business_roles = list(dict.fromkeys([*held, *invitation.business_roles]))
    invitation.accepted_user_id = user.id
    record(
        "invitation:accepted",
        ctx,
        actor_id=user.id,
        client_id=invitation.inviter_client_id,
        org_id=org.id,
        target=str(invitation.id),
        new_account=new_account,
        business_roles=invitation.business_roles,
    )
    db.session.flush()
    return membership


def accept_new_account(
    token: str,
    password: str,
    ctx: ActorContext,
    *,
    given_name: str | None = None,
    family_name: str | None = None,
) -> User:
    """Create the invited person's account and membership from the link.

    The account is active with a verified email: opening the link proved control of
    the mailbox. The password policy runs before the link is used up, so a refused
    password leaves the link working.
    """
    invitation, nonce = read_link(token)
    if accounts.find_by_email(invitation.email) is not None:
        raise Conflict(
            "An account with this email address exists. Sign in to accept the invitation.",
            code="email_taken",
        )
    passwords.check_policy(password, invitation.email)
    _claim(invitation, nonce)
    user = accounts.create_user(
        invitation.email,
        password,
        given_name=given_name or invitation.given_name,
        family_name=family_name or invitation.family_name,
        email_verified=True,
        status=UserStatus.active,
        ctx=ctx,
    )
    user.locale = invitation.locale
    if invitation.crm_contact_id:
        user.crm_contact_id = invitation.crm_contact_id
    _join(invitation, user, ctx, new_account=True)
    return user


def accept_existing_account(token: str, user: User, ctx: ActorContext) -> Organization:
    """The signed-in person joins the organization with the invited account."""
    invitation, nonce = read_link(token)
    if user.email_normalized != invitation.email:
        raise Forbidden(
            "This invitation is for another email address. Sign out, then open the link "
            "again and sign in with the invited address."
        )
    _claim(invitation, nonce)
    _join(invitation, user, ctx, new_account=False)
    return org_of(invitation)
