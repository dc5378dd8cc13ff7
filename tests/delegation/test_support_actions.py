"""Each support console action does its job, is audited with the support engineer as
actor and the reason they typed, and is refused (a 400 page, nothing changed, nothing
recorded) without a reason."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from ciam.accounts.mfa.factors import has_factor
from ciam.accounts.mfa.recovery import generate_recovery_codes
from ciam.audit.services import SYSTEM, ActorContext
from ciam.audit.tags import AuditTag
from ciam.delegation import member_actions
from ciam.delegation.member_actions import ReasonRequired
from ciam.delegation.memberships import find_membership
from ciam.delegation.models import MembershipStatus
from ciam.delegation.permissions import NotAllowed
from ciam.delegation.support.views import DONE
from ciam.extensions import db
from ciam.outbox.models import OutboxMessage
from ciam.outbox.sealing import open_payload
from tests.accounts.mfa_support import enrol_totp
from tests.delegation.support_support import cast, events, lock, sign_in, token

REASON = "Caller verified by phone, ticket 4711"


@pytest.fixture
def the_cast(make, client):
    """The cast, with the engineer signed in on `client`."""
    the_cast = cast()
    sign_in(client, the_cast.engineer.email)
    return the_cast


def act(client, the_cast, path: str, reason: str | None = REASON):
    person = f"/ops/people/{the_cast.member.id}"
    data = {"csrf_token": token(client, person)}
    if reason is not None:
        data["reason"] = reason
    return client.post(f"{person}/{path}", data=data)


def done_key(response) -> str:
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    return parse_qs(location.query)["done"][0]


def support_event(the_cast, tag=AuditTag.SUPPORT_ACCOUNT_ACTION):
    found = events(tag, target=str(the_cast.member.id))
    assert len(found) == 1, found
    event = found[0]
    assert event.actor_id == the_cast.engineer.id
    assert event.data["reason"] == REASON
    assert event.data["support"] is True
    return event


def test_unlock(client, the_cast):
    """A locked account is unlocked; the unlock names support, the action the reason."""
    lock(the_cast.member)
    response = act(client, the_cast, "unlock")
    assert done_key(response) == "unlocked"
    db.session.refresh(the_cast.member)
    assert not the_cast.member.is_locked
    assert support_event(the_cast).data == {
        "action": "unlock",
        "reason": REASON,
        "support": True,
        "was_locked": True,
    }
    unlocked = events(AuditTag.ACCOUNT_UNLOCKED, target=str(the_cast.member.id))
    assert [(e.actor_id, e.data["reason"]) for e in unlocked] == [(the_cast.engineer.id, "support")]


def test_reset_mfa(client, the_cast):
    """Second factors and recovery codes go; the event counts the factors."""
    enrol_totp(the_cast.member)
    generate_recovery_codes(the_cast.member, SYSTEM)
    db.session.commit()
    response = act(client, the_cast, "reset-mfa")
    assert done_key(response) == "mfa_reset"
    assert not has_factor(the_cast.member.id)
    event = support_event(the_cast)
    assert event.data["action"] == "reset_mfa"
    assert event.data["factors_removed"] == 1


def test_send_a_password_reset(client, the_cast):
    """A reset link is queued for the person's address."""
    response = act(client, the_cast, "send-reset")
    assert done_key(response) == "reset_sent"
    mails = list(db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == "email")))
    assert [m.payload["to"] for m in mails] == [the_cast.member.email]
    assert "/reset-password/" in open_payload("email", mails[0].payload)["text"]
    event = support_event(the_cast)
    assert (event.data["action"], event.data["sent"]) == ("password_reset", True)


@pytest.mark.parametrize("action", ["suspend", "reactivate"])
def test_suspend_and_reactivate_a_membership(client, the_cast, action):
    """Per membership, through member_actions with the support OrgActor: audited in
    the organization with the engineer and the reason."""
    membership = find_membership(the_cast.org, the_cast.member)
    if action == "reactivate":
        membership.status = MembershipStatus.suspended
        db.session.commit()
    response = act(client, the_cast, f"orgs/{the_cast.org.slug}/{action}")
    assert done_key(response) == ("suspended" if action == "suspend" else "reactivated")
    db.session.refresh(membership)
    expected = MembershipStatus.suspended if action == "suspend" else MembershipStatus.active
    assert membership.status == expected
    event = support_event(the_cast, AuditTag.ORG_MEMBER_ACTION)
    assert (event.org_id, event.data["action"]) == (the_cast.org.id, action)


@pytest.mark.parametrize(
    "path", ["unlock", "reset-mfa", "send-reset", "orgs/acme/suspend", "orgs/acme/reactivate"]
)
@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 501])
def test_every_action_refuses_a_missing_reason(client, the_cast, path, reason):
    """No reason, a blank one, or one over 500 characters: a 400 page saying why,
    and the account and the audit trail as they were."""
    lock(the_cast.member)
    before = len(events(AuditTag.SUPPORT_ACCOUNT_ACTION)) + len(events(AuditTag.ORG_MEMBER_ACTION))
    response = act(client, the_cast, path, reason)
    assert response.status_code == 400
    assert "Type the reason for this action" in response.get_data(as_text=True)
    db.session.refresh(the_cast.member)
    assert the_cast.member.is_locked
    after = len(events(AuditTag.SUPPORT_ACCOUNT_ACTION)) + len(events(AuditTag.ORG_MEMBER_ACTION))
    assert after == before
    assert find_membership(the_cast.org, the_cast.member).status == MembershipStatus.active


def test_an_action_without_the_csrf_token_is_refused(client, the_cast):
    """CSRF on every form: a POST without the token changes nothing."""
    lock(the_cast.member)
    response = client.post(f"/ops/people/{the_cast.member.id}/unlock", data={"reason": REASON})
    assert response.status_code == 400
    db.session.refresh(the_cast.member)
    assert the_cast.member.is_locked
    assert events(AuditTag.SUPPORT_ACCOUNT_ACTION) == []


def test_the_message_after_an_action_is_chosen_by_key(client, the_cast):
    """The page shows the text of a known key, and nothing for any other value."""
    person = f"/ops/people/{the_cast.member.id}"
    shown = client.get(f"{person}?done=reset_sent").get_data(as_text=True)
    assert DONE["reset_sent"] in shown
    forged = client.get(f"{person}?done=<b>you+were+hacked</b>").get_data(as_text=True)
    assert "hacked" not in forged
    assert not any(text in forged for text in DONE.values())


def test_the_account_services_want_a_support_engineer_and_a_reason(ctx, make):
    """Called directly (the API will): an org admin's context is refused, and so is
    an empty reason, before anything changes."""
    the_cast = cast()
    lock(the_cast.member)
    admin_ctx = ActorContext(actor_id=the_cast.admin.id)
    engineer_ctx = ActorContext(actor_id=the_cast.engineer.id)
    for service in (
        member_actions.support_unlock,
        member_actions.support_reset_mfa,
        member_actions.support_send_password_reset,
    ):
        with pytest.raises(NotAllowed):
            service(the_cast.member, admin_ctx, REASON)
        with pytest.raises(ReasonRequired):
            service(the_cast.member, engineer_ctx, " ")
    assert the_cast.member.is_locked


def test_a_suspended_account_gets_no_reset_link(ctx, make):
    """Nothing is sent to an account that may not reset; the engineer is told so and
    the attempt is still audited."""
    the_cast = cast()
    the_cast.member.status = "suspended"
    db.session.commit()
    engineer_ctx = ActorContext(actor_id=the_cast.engineer.id)
    sent = member_actions.support_send_password_reset(the_cast.member, engineer_ctx, REASON)
    assert sent is False
    assert db.session.scalars(db.select(OutboxMessage)).all() == []
    assert events(AuditTag.SUPPORT_ACCOUNT_ACTION)[0].data["sent"] is False


def test_the_person_page_shows_state_and_history_in_words(client, the_cast):
    """Lock and MFA state, memberships, and the history with who acted and why."""
    lock(the_cast.member)
    act(client, the_cast, "unlock")
    page = client.get(f"/ops/people/{the_cast.member.id}").get_data(as_text=True)
    assert "Account locked after too many failed sign-ins" in page
    assert "Account unlocked" in page
    assert "Support action: unlock" in page
    assert f"by {the_cast.engineer.email}" in page
    assert f"Reason: {REASON}" in page
    assert "Acme Insurance" in page
    assert "None set up" in page
    assert "Not locked" in page
