"""Deactivation (DESIGN §3): by the operator, or by being removed from every
organization; sessions end and tokens stop at once; reactivation gives it back."""

from __future__ import annotations

from ciam.accounts.models import LoginSession, User, UserStatus
from ciam.audit.services import ActorContext
from ciam.delegation import member_actions, permissions
from ciam.delegation import services as orgs
from ciam.delegation.models import AdminRight
from ciam.extensions import db
from ciam.oidc.models import Token
from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp


def test_deactivation_ends_sessions_and_stops_tokens(app, live_server, make):
    user = make.user()
    portal, secret = make.portal()
    rp = portal_rp(live_server, portal, secret)
    token, _, _ = rp.login(user.email, PASSWORD)
    assert rp.userinfo(token["access_token"]).status_code == 200

    result = app.test_cli_runner().invoke(args=["users", "deactivate", "--email", user.email])

    assert result.exit_code == 0 and "deactivated" in result.output, result.output
    db.session.expire_all()
    assert db.session.get(User, user.id).status == UserStatus.deactivated
    assert all(s.ended_at for s in db.session.scalars(db.select(LoginSession)))
    assert all(t.revoked_at for t in db.session.scalars(db.select(Token)))
    assert rp.userinfo(token["access_token"]).status_code == 401
    again = app.test_cli_runner().invoke(args=["users", "reactivate", "--email", user.email])
    assert "reactivated" in again.output
    db.session.expire_all()
    assert db.session.get(User, user.id).status == UserStatus.active


def test_removed_from_every_organization_is_deactivated(make):
    one, two = make.org(slug="one-org"), make.org(slug="two-org")
    admin_one = orgs.add_member(one, make.user(), AdminRight.org_admin)
    admin_two = orgs.add_member(two, make.user(), AdminRight.org_admin)
    person = make.user()
    in_one, in_two = orgs.add_member(one, person), orgs.add_member(two, person)
    db.session.commit()

    ctx = ActorContext(actor_id=admin_one.user_id)
    member_actions.remove(permissions.org_actor(admin_one.user_id, "one-org"), in_one, ctx)
    db.session.commit()
    assert db.session.get(User, person.id).status == UserStatus.active  # still in two-org

    ctx = ActorContext(actor_id=admin_two.user_id)
    member_actions.remove(permissions.org_actor(admin_two.user_id, "two-org"), in_two, ctx)
    db.session.commit()
    assert db.session.get(User, person.id).status == UserStatus.deactivated
