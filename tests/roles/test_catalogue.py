"""The catalogue: global and organization-specific roles, keys that never mean two
roles, mappings only to app roles a portal declares, and an organization's own
roles mappable only to portals it is entitled to."""

from __future__ import annotations

import pytest

from ciam.errors import Conflict
from ciam.extensions import db
from ciam.roles import services as roles
from ciam.roles.errors import (
    AppRoleInUse,
    InvalidKey,
    PortalNotEntitled,
    RoleNotFound,
    RoleOfAnotherOrg,
    UnknownAppRole,
)
from tests.api.support import audit
from tests.roles.support import PORTAL, licensed_org, member, world


def test_org_role_maps_only_to_portals_the_org_is_entitled_to(make):
    """An org's own role maps to a licensed portal, not to one the org has no
    licence for (nor one with zero seats); a global role may map anywhere."""
    w = world(seats=2)
    make.portal(client_id="other-portal")
    roles.change_app_roles("other-portal", ["viewer"])
    own = roles.create_role("acme-auditor", "Auditor", w.org)
    assert roles.map_role(own, PORTAL, ["reader"]) == ["reader"]
    with pytest.raises(PortalNotEntitled) as refused:
        roles.map_role(own, "other-portal", ["viewer"])
    assert "other-portal" in refused.value.message
    roles.set_licence(w.org, "other-portal", 0)
    with pytest.raises(PortalNotEntitled):
        roles.map_role(own, "other-portal", ["viewer"])
    assert roles.map_role(w.handler, "other-portal", ["viewer"]) == ["viewer"]
    assert roles.mappings_of(own) == {PORTAL: ["reader"]}


def test_mapping_names_only_declared_app_roles(make):
    w = world()
    with pytest.raises(UnknownAppRole) as refused:
        roles.map_role(w.handler, PORTAL, ["adjuster", "superuser"])
    assert "superuser" in refused.value.message
    assert roles.mappings_of(w.handler) == {PORTAL: ["adjuster", "reader"]}


def test_map_replaces_the_set_and_an_empty_set_unmaps(make):
    w = world()
    assert roles.map_role(w.handler, PORTAL, ["reader"]) == ["reader"]
    assert roles.mappings_of(w.handler) == {PORTAL: ["reader"]}
    assert roles.map_role(w.handler, PORTAL, []) == []
    assert roles.mappings_of(w.handler) == {}
    assert [e.data["app_roles"] for e in audit("role:mapped")].count([]) == 1


def test_a_key_never_means_two_roles(make):
    """An org may not reuse a global key, nor may the operator make an org's key
    global; two orgs may each have their own role of the same key."""
    w = world()
    other = licensed_org("globex", 1)
    with pytest.raises(Conflict):
        roles.create_role("claims-handler", "Mine", w.org)
    roles.create_role("auditor", "Auditor", w.org)
    roles.create_role("auditor", "Auditor", other)
    with pytest.raises(Conflict):
        roles.create_role("auditor", "Global auditor")
    assert roles.find_role("auditor", other).org_id == other.id
    with pytest.raises(RoleNotFound):
        roles.find_role("auditor")


def test_keys_are_checked(make):
    with pytest.raises(InvalidKey):
        roles.create_role("Claims Handler!", "Claims handler")
    assert roles.create_role("Claims-Handler", "Claims handler").key == "claims-handler"


def test_list_shows_global_and_the_orgs_own_only(make):
    w = world()
    other = licensed_org("globex", 1)
    roles.create_role("acme-only", "A", w.org)
    roles.create_role("globex-only", "G", other)
    assert [r.key for r in roles.list_roles()] == ["claims-handler"]
    assert [r.key for r in roles.list_roles(w.org)] == ["acme-only", "claims-handler"]


def test_another_orgs_role_cannot_be_assigned(make):
    w = world()
    other = licensed_org("globex", 1)
    theirs = roles.create_role("globex-only", "G", other)
    with pytest.raises(RoleOfAnotherOrg):
        roles.assign_role(member(w.org), theirs)


def test_app_roles_in_use_cannot_be_withdrawn(make):
    """Withdrawing an app role a mapping uses is refused (naming the role); an unused
    one goes, and declarations are audited."""
    w = world()
    with pytest.raises(AppRoleInUse) as refused:
        roles.change_app_roles(PORTAL, remove=["adjuster"])
    assert "claims-handler" in refused.value.message
    db.session.rollback()
    assert roles.change_app_roles(PORTAL, add=["auditor"]) == ["adjuster", "auditor", "reader"]
    assert roles.change_app_roles(PORTAL, remove=["auditor"]) == ["adjuster", "reader"]
    assert len(audit("portal:app_roles:changed")) == 3
    assert w.handler.key == "claims-handler"
