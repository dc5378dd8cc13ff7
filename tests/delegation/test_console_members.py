"""The org console's members list, member page and member actions, as an org admin
and a user manager see them."""

from __future__ import annotations

import csv
import io

from ciam.accounts.models import User
from ciam.delegation import services as orgs
from ciam.delegation.models import AdminRight, MembershipStatus
from ciam.extensions import db
from ciam.roles import assignments
from tests.api.support import audit
from tests.delegation.console_support import console_world, join, post, signed_in


def _text(response) -> str:
    return response.get_data(as_text=True)


def _user(membership) -> User:
    return db.session.get_one(User, membership.user_id)


def test_account_page_links_to_each_administered_org(app, make):
    """/account shows a link to the console of the org an admin administers, and
    none to a plain member."""
    console_world()
    admin = _text(signed_in(app, "admin@acme.test").get("/account"))
    assert '/org/acme/"' in admin and "Acme Insurance" in admin
    member = signed_in(app, "member@acme.test")
    assert "/org/acme/" not in _text(member.get("/account"))


def test_members_list_shows_facts_and_filters(app, make):
    """The list names every member with status, right, MFA and last login; search,
    status and role filters narrow it; the locked filter finds a locked person."""
    world = console_world()
    assignments.assign_role(world.member, world.roles.handler)
    db.session.commit()
    client = signed_in(app, "admin@acme.test")
    page = _text(client.get("/org/acme/"))
    for email in ("admin@acme.test", "manager@acme.test", "member@acme.test"):
        assert email in page
    assert "admin@globex.test" not in page
    assert "Last login:" in page and "MFA: no" in page
    found = _text(client.get("/org/acme/?q=manager"))
    assert "manager@acme.test" in found and "member@acme.test" not in found
    by_role = _text(client.get("/org/acme/?role=claims-handler"))
    assert "member@acme.test" in by_role and "manager@acme.test" not in by_role
    post(client, f"/org/acme/members/{world.member.user_id}/suspend")
    suspended = _text(client.get("/org/acme/?status=suspended"))
    assert "member@acme.test" in suspended and "admin@acme.test" not in suspended


def test_members_list_paginates(app, make):
    """50 members a page; the next page follows the cursor and links back to the first."""
    world = console_world()
    for n in range(52):
        join(world.org, f"extra{n}@acme.test")
    client = signed_in(app, "admin@acme.test")
    first = _text(client.get("/org/acme/"))
    assert "Next page" in first
    cursor = first.split("cursor=")[1].split('"')[0].replace("&amp;", "&")
    second = _text(client.get(f"/org/acme/?cursor={cursor}"))
    assert "First page" in second and "Next page" not in second
    assert second.count('class="member-name"') == 55 - 50


def test_member_page_shows_roles_preview_and_this_membership_only(app, make):
    """The member page lists the roles with what each gives, the preview of app
    roles, and says nothing of the person's other organizations."""
    world = console_world()
    assignments.assign_role(world.member, world.roles.handler)
    orgs.add_member(world.other, _user(world.member))
    db.session.commit()
    client = signed_in(app, "admin@acme.test")
    page = _text(client.get(f"/org/acme/members/{world.member.user_id}"))
    assert "Claims handler" in page
    assert "claims-portal: adjuster, reader" in page
    assert "Globex" not in page and "globex" not in page


def test_suspend_and_reactivate_redirect_with_a_message(app, make):
    """Each action is a CSRF-checked POST answered 303 back to the member page, whose
    message is chosen by the server; the membership changes and is audited."""
    world = console_world()
    client = signed_in(app, "admin@acme.test")
    path = f"/org/acme/members/{world.member.user_id}"
    response = post(client, path + "/suspend")
    assert response.status_code == 303 and response.headers["Location"].endswith(path)
    assert "was suspended" in _text(client.get(path))
    db.session.refresh(world.member)
    assert world.member.status == MembershipStatus.suspended
    assert post(client, path + "/reactivate").status_code == 303
    db.session.refresh(world.member)
    assert world.member.status == MembershipStatus.active
    actions = [event.data["action"] for event in audit("org:member:action")]
    assert actions == ["suspend", "reactivate"]


def test_a_post_without_csrf_changes_nothing(app, make):
    """An action posted without the CSRF token is refused (400) before it runs."""
    world = console_world()
    client = signed_in(app, "admin@acme.test")
    response = client.post(f"/org/acme/members/{world.member.user_id}/suspend")
    assert response.status_code == 400
    db.session.refresh(world.member)
    assert world.member.status == MembershipStatus.active


def test_roles_within_seats_and_the_seat_limit_message(app, make):
    """Giving a role takes a seat; past the licence's seats the page shows the
    refusal naming the portal and the count, and nothing is given."""
    world = console_world(seats=1)
    client = signed_in(app, "admin@acme.test")
    first = f"/org/acme/members/{world.member.user_id}"
    assert post(client, first + "/roles", {"role": "claims-handler"}).status_code == 303
    assert "The role was given." in _text(client.get(first))
    second = f"/org/acme/members/{world.manager.user_id}"
    assert post(client, second + "/roles", {"role": "claims-handler"}).status_code == 303
    page = _text(client.get(second))
    assert "No seat left on portal claims-portal: 1 of 1 seat(s)" in page
    assert assignments.role_keys_of(world.manager) == []
    assert post(client, first + "/roles/claims-handler/remove").status_code == 303
    assert assignments.role_keys_of(world.member) == []


def test_make_and_unmake_user_manager(app, make):
    """An org admin makes a plain member a user manager and takes the right back."""
    world = console_world()
    client = signed_in(app, "admin@acme.test")
    path = f"/org/acme/members/{world.member.user_id}/right"
    assert post(client, path, {"right": "user_manager"}).status_code == 303
    db.session.refresh(world.member)
    assert world.member.admin_right == AdminRight.user_manager
    assert post(client, path, {"right": "none"}).status_code == 303
    db.session.refresh(world.member)
    assert world.member.admin_right == AdminRight.none


def test_the_last_admin_cannot_suspend_themselves(app, make):
    """The refusal to suspend the last org admin is shown on the page; nothing changes."""
    world = console_world()
    client = signed_in(app, "admin@acme.test")
    path = f"/org/acme/members/{world.admin.user_id}"
    post(client, path + "/suspend")
    assert "last administrator" in _text(client.get(path))
    db.session.refresh(world.admin)
    assert world.admin.status == MembershipStatus.active


def test_user_manager_is_refused_on_an_admin_and_on_rights(app, make):
    """A user manager manages plain members, but acting on an admin, or giving a
    right, is refused with the service's message and 403."""
    world = console_world()
    client = signed_in(app, "manager@acme.test")
    refused = post(client, f"/org/acme/members/{world.admin.user_id}/suspend")
    assert refused.status_code == 403
    assert "cannot change an administrator" in _text(refused)
    grant = post(
        client, f"/org/acme/members/{world.member.user_id}/right", {"right": "user_manager"}
    )
    assert grant.status_code == 403
    db.session.refresh(world.member)
    assert world.member.admin_right == AdminRight.none
    assert post(client, f"/org/acme/members/{world.member.user_id}/suspend").status_code == 303


def test_unlock_reset_mfa_password_reset_and_remove(app, make):
    """The remaining actions each run their service (audited); after removal the
    member page is 404 and the redirect goes to the list."""
    world = console_world()
    client = signed_in(app, "admin@acme.test")
    path = f"/org/acme/members/{world.member.user_id}"
    for action in ("unlock", "reset-mfa", "password-reset"):
        assert post(client, f"{path}/{action}").status_code == 303
    actions = [event.data["action"] for event in audit("org:member:action")]
    assert actions == ["unlock", "reset_mfa", "password_reset"]
    removed = post(client, path + "/remove")
    assert removed.status_code == 303 and removed.headers["Location"].endswith("/org/acme/")
    assert client.get(path).status_code == 404
    assert len(audit("org:member:removed")) == 1


def test_csv_export_of_members(app, make):
    """The CSV has one row per member, with the list's filters, and a cell starting
    like a formula is quoted so a spreadsheet does not run it."""
    world = console_world()
    _user(world.member).given_name = "=HYPERLINK(1)"
    db.session.commit()
    client = signed_in(app, "admin@acme.test")
    response = client.get("/org/acme/members.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(_text(response))))
    assert sorted(row["email"] for row in rows) == [
        "admin@acme.test",
        "manager@acme.test",
        "member@acme.test",
    ]
    member = next(row for row in rows if row["email"] == "member@acme.test")
    assert member["given_name"] == "'=HYPERLINK(1)" and member["admin_right"] == "none"
    filtered = list(csv.DictReader(io.StringIO(_text(client.get("/org/acme/members.csv?q=admin")))))
    assert [row["email"] for row in filtered] == ["admin@acme.test"]
