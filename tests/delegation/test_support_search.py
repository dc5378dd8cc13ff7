"""Finding people across organizations (ciam.delegation.support.search) and the
search and organization pages of the support console."""

from __future__ import annotations

from ciam.delegation import services as orgs
from ciam.delegation.support.search import find_orgs, find_people
from ciam.extensions import db
from ciam.roles.licences import set_licence
from tests import factories
from tests.delegation.support_support import cast, lock, sign_in


def emails(page) -> list[str]:
    return [row.user.email for row in page.items]


def test_people_are_found_by_email_name_org_and_id(ctx, make):
    """Part of an address, part of a name, an organization's slug or name, the id;
    each row names the person's organizations."""
    the_cast = cast()
    other = make.org("globex", "Globex Brokers")
    outsider = make.user("zed@elsewhere.test", given_name="Zed")
    orgs.add_member(other, outsider)
    assert emails(find_people("ADA@acme")) == ["ada@acme.test"]
    assert emails(find_people("lovelace")) == ["ada@acme.test"]
    assert set(emails(find_people("acme"))) == {"ada@acme.test", "boss@acme.test"}
    assert emails(find_people("Globex brokers")) == ["zed@elsewhere.test"]
    assert emails(find_people(str(the_cast.member.id))) == ["ada@acme.test"]
    assert find_people("ada@acme").items[0].org_slugs == ["acme"]
    assert find_people("").items == [] and find_people("   ").items == []


def test_like_wildcards_are_taken_literally(ctx, make):
    """`_` and `%` in a query match themselves, not any character."""
    make.user("first_last@example.test")
    make.user("firstxlast@example.test")
    assert emails(find_people("first_last")) == ["first_last@example.test"]
    assert find_people("%").items == []


def test_people_come_in_cursor_pages(ctx, make):
    """Pages of two, newest first, none repeated or skipped, the last without a cursor."""
    made = [make.user(f"page{n}@paged.test").email for n in range(5)]
    seen, cursor = [], None
    while True:
        page = find_people("paged.test", cursor=cursor, limit=2)
        assert len(page.items) <= 2
        seen += emails(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(made))


def test_organizations_are_found_by_slug_or_name(ctx, make):
    cast()
    make.org("acme-re", "Acme Reinsurance")
    make.org("globex", "Globex")
    assert [org.slug for org in find_orgs("acme")] == ["acme", "acme-re"]
    assert [org.slug for org in find_orgs("REINSURANCE")] == ["acme-re"]
    assert find_orgs("") == []


def test_the_search_page_lists_people_and_organizations(make, client):
    """The engineer sees matching organizations and people, a locked one marked."""
    the_cast = cast()
    lock(the_cast.member)
    sign_in(client, the_cast.engineer.email)
    page = client.get("/ops/?q=acme").get_data(as_text=True)
    assert "Acme Insurance" in page
    assert f"/ops/people/{the_cast.member.id}" in page
    assert "ada@acme.test" in page and "locked" in page
    assert "Nobody matches" in client.get("/ops/?q=nobody-here").get_data(as_text=True)


def test_the_search_page_pages_with_a_cursor(make, client):
    """More people than a page: a link with the cursor opens the next page."""
    the_cast = cast()
    for n in range(30):
        factories.user(f"bulk{n:02d}@bulk.test")
    sign_in(client, the_cast.engineer.email)
    first = client.get("/ops/?q=bulk.test").get_data(as_text=True)
    assert "bulk29@bulk.test" in first and "bulk00@bulk.test" not in first
    link = first.split('href="/ops/?q=bulk.test&amp;cursor=')[1].split('"')[0]
    second = client.get(f"/ops/?q=bulk.test&cursor={link}").get_data(as_text=True)
    assert "bulk00@bulk.test" in second and "bulk29@bulk.test" not in second


def test_the_organization_page_shows_members_licences_and_status(make, client):
    """Status, licences with seats in use, members with their admin right; a filter."""
    the_cast = cast()
    portal, _ = make.portal()
    set_licence(the_cast.org, portal.client_id, 5)
    db.session.commit()
    lock(the_cast.member)
    sign_in(client, the_cast.engineer.email)
    page = client.get("/ops/orgs/acme").get_data(as_text=True)
    assert "Acme Insurance" in page and "active" in page
    assert portal.client_id in page and "0 of 5 seats in use" in page
    assert "ada@acme.test" in page and "boss@acme.test" in page and "org admin" in page
    locked_only = client.get("/ops/orgs/acme?status=locked").get_data(as_text=True)
    assert "ada@acme.test" in locked_only and "boss@acme.test" not in locked_only
    assert client.get("/ops/orgs/no-such-org").status_code == 404
