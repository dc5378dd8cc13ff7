"""Migration 0012: memberships.business_roles (a JSON list of names) becomes
membership_roles rows; names missing from the catalogue become global roles; the
downgrade writes the list back."""

from __future__ import annotations

import flask_migrate
import sqlalchemy as sa

from ciam.delegation import services as orgs
from ciam.delegation.models import Membership
from ciam.extensions import db
from ciam.roles import services as roles

BEFORE = "0011_roles_licences_org_policy"


MEMBERSHIPS = sa.table(
    "memberships", sa.column("id", sa.Uuid()), sa.column("business_roles", sa.JSON())
)


def _set_json_lists(lists: dict) -> None:
    with db.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM membership_roles"))
        connection.execute(sa.text("DELETE FROM business_roles"))
        for membership_id, names in lists.items():
            connection.execute(
                MEMBERSHIPS.update()
                .where(MEMBERSHIPS.c.id == membership_id)
                .values(business_roles=names)
            )


def _json_lists() -> dict:
    with db.engine.connect() as connection:
        return dict(
            connection.execute(sa.select(MEMBERSHIPS.c.id, MEMBERSHIPS.c.business_roles)).all()
        )


def test_json_role_names_become_catalogue_roles_and_back(make):
    """Two memberships with JSON lists (one name shared, one duplicated): after the
    upgrade each holds its roles, created once as global roles keyed by the name;
    the downgrade restores the lists."""
    org = make.org(slug="acme")
    pat = orgs.add_member(org, make.user())
    sam = orgs.add_member(org, make.user())
    db.session.commit()
    ids = (pat.id, sam.id)
    db.session.remove()
    try:
        flask_migrate.downgrade(revision=BEFORE)
        _set_json_lists({ids[0]: ["claims-handler", "reader", "reader"], ids[1]: ["reader"]})
        flask_migrate.upgrade(revision="heads")
        by_id = {m.id: m for m in db.session.scalars(db.select(Membership))}
        assert roles.role_keys_of(by_id[ids[0]]) == ["claims-handler", "reader"]
        assert roles.role_keys_of(by_id[ids[1]]) == ["reader"]
        assert sorted((r.key, r.org_id) for r in roles.list_roles()) == [
            ("claims-handler", None),
            ("reader", None),
        ]
        db.session.remove()
        flask_migrate.downgrade(revision=BEFORE)
        lists = _json_lists()
        assert sorted(lists[ids[0]]) == ["claims-handler", "reader"]
        assert lists[ids[1]] == ["reader"]
    finally:
        db.session.remove()
        flask_migrate.upgrade(revision="heads")
