"""Licences and seats: a role needing a seat when none is left is refused, naming
the portal and the count; removing it frees the seat; seats reduced below use are
reported, and those given last lose the portal, nobody else."""

from __future__ import annotations

import pytest

from ciam.errors import CiamError
from ciam.extensions import db
from ciam.roles import services as roles
from ciam.roles.errors import SeatLimitReached
from tests.api.support import audit
from tests.roles.support import PORTAL, member, world


def test_assigning_beyond_the_seats_is_refused_naming_portal_and_count(make):
    """Two seats: two people get the role, the third is refused with a message that
    names the portal and the count; nothing was written for the third."""
    w = world(seats=2)
    first, second, third = (member(w.org) for _ in range(3))
    roles.assign_role(first, w.handler)
    roles.assign_role(second, w.handler)
    db.session.commit()
    with pytest.raises(SeatLimitReached) as refused:
        roles.assign_role(third, w.handler)
    assert PORTAL in refused.value.message and "2 of 2 seat(s)" in refused.value.message
    assert refused.value.code == "seat_limit_reached"
    assert refused.value.details == {"portal": PORTAL, "seats": 2, "in_use": 2}
    db.session.rollback()
    assert roles.role_keys_of(third) == []
    assert roles.seats_in_use(w.org, PORTAL) == 2


def test_removing_the_role_frees_the_seat(make):
    """The seat follows the role: taking it from one person lets another have it."""
    w = world(seats=1)
    holder, waiting = member(w.org), member(w.org)
    roles.assign_role(holder, w.handler)
    with pytest.raises(SeatLimitReached):
        roles.assign_role(waiting, w.handler)
    assert roles.remove_role(holder, w.handler) is True
    roles.assign_role(waiting, w.handler)
    assert roles.holds_seat(waiting, PORTAL) and not roles.holds_seat(holder, PORTAL)
    assert [e.data["role"] for e in audit("membership:role:removed")] == ["claims-handler"]


def test_a_second_role_on_the_same_portal_needs_no_second_seat(make):
    """A person holds one seat of a portal however many of their roles map to it."""
    w = world(seats=1)
    reader = roles.create_role("reader", "Reader")
    roles.map_role(reader, PORTAL, ["reader"])
    person = member(w.org)
    roles.assign_role(person, w.handler)
    roles.assign_role(person, reader)
    assert roles.seats_in_use(w.org, PORTAL) == 1
    assert roles.role_keys_of(person) == ["claims-handler", "reader"]


def test_unlimited_seats_never_refuse(make):
    w = world(seats=None)
    people = [member(w.org) for _ in range(5)]
    for person in people:
        roles.assign_role(person, w.handler)
    assert roles.seats_in_use(w.org, PORTAL) == 5
    assert all(roles.holds_seat(person, PORTAL) for person in people)
    assert roles.over_allocation(w.org) == {}


def test_seats_reduced_below_use_cost_the_most_recent_only(make):
    """Three people hold seats; the licence drops to two: over_allocation reports one
    too many, the one given the role last loses the portal, the others keep it."""
    w = world(seats=3)
    first, second, last = (member(w.org) for _ in range(3))
    for person in (first, second, last):
        roles.assign_role(person, w.handler)
    roles.set_licence(w.org, PORTAL, 2)
    assert roles.over_allocation(w.org) == {PORTAL: 1}
    assert [roles.holds_seat(p, PORTAL) for p in (first, second, last)] == [True, True, False]
    assert roles.preview_membership(last) == {}
    assert roles.preview_membership(first) == {PORTAL: ["adjuster", "reader"]}
    # Fixed by freeing a seat: the last one gets the portal back.
    roles.remove_role(second, w.handler)
    assert roles.over_allocation(w.org) == {}
    assert roles.holds_seat(last, PORTAL)


def test_set_licence_is_audited_and_refuses_negative_seats(make):
    w = world(seats=2)
    roles.set_licence(w.org, PORTAL, None)
    events = audit("org:licence:set")
    assert sorted((e.data["seats"] is None, e.data["previous_seats"]) for e in events) == [
        (False, None),
        (True, 2),
    ]
    with pytest.raises(CiamError) as error:
        roles.set_licence(w.org, PORTAL, -1)
    assert error.value.code == "invalid_seats"
