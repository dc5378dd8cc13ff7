"""Memberships: suspension and validity windows grant nothing; the sweep records
each expiry once (in `ciam sweep` and in `ciam worker`'s daily job)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ciam.db import utcnow
from ciam.delegation import memberships
from ciam.delegation import services as orgs
from ciam.delegation.models import MembershipStatus
from ciam.errors import CiamError, Conflict
from ciam.extensions import db
from ciam.outbox import periodic
from tests.api.support import audit


def _member(make, org, **window):
    membership = orgs.add_member(org, make.user(), **window)
    db.session.commit()
    return membership


def test_suspend_and_reactivate_are_audited_once(make):
    org = make.org()
    membership = _member(make, org)
    assert memberships.suspend(membership) is True
    assert memberships.suspend(membership) is False
    assert membership.status == MembershipStatus.suspended
    assert not memberships.grants_access(membership)
    assert memberships.reactivate(membership) is True
    assert memberships.grants_access(membership)
    assert len(audit("membership:suspended")) == 1 and len(audit("membership:reactivated")) == 1


def test_window_edges(make):
    """valid_from is inclusive, valid_until exclusive."""
    org = make.org()
    start = utcnow()
    membership = _member(make, org, valid_from=start, valid_until=start + timedelta(hours=1))
    assert memberships.grants_access(membership, start)
    assert not memberships.grants_access(membership, start - timedelta(seconds=1))
    assert not memberships.grants_access(membership, start + timedelta(hours=1))


def test_a_window_ending_before_it_starts_is_refused(make):
    org, now = make.org(), utcnow()
    with pytest.raises(CiamError) as refused:
        orgs.add_member(org, make.user(), valid_from=now, valid_until=now)
    assert refused.value.code == "invalid_window"


def test_joining_twice_is_refused(make):
    org, user = make.org(), make.user()
    orgs.add_member(org, user)
    with pytest.raises(Conflict):
        orgs.add_member(org, user)


def test_sweep_records_each_expiry_once(make):
    """Expired memberships are recorded in the audit trail once, however often the
    sweep runs; current and open-ended ones are left alone."""
    org, now = make.org(), utcnow()
    expired = _member(make, org, valid_until=now - timedelta(hours=1))
    _member(make, org, valid_until=now + timedelta(days=1))
    _member(make, org)
    assert memberships.sweep_expired(now) == 1
    assert memberships.sweep_expired(now) == 0
    [event] = audit("membership:expired")
    assert event.target == str(expired.user_id) and event.org_id == org.id
    assert event.data["valid_until"] == expired.valid_until.isoformat()


def test_a_new_end_date_is_a_new_expiry(make):
    org, now = make.org(), utcnow()
    membership = _member(make, org, valid_until=now - timedelta(hours=1))
    memberships.sweep_expired(now)
    memberships.set_window(membership, None, now + timedelta(hours=1))
    assert memberships.grants_access(membership, now)
    assert memberships.sweep_expired(now + timedelta(hours=2)) == 1
    assert len(audit("membership:expired")) == 2


def test_worker_runs_the_daily_sweep(app, make):
    """`ciam worker --once` runs the periodic jobs, the membership sweep among them,
    and the sweep commits what it recorded."""
    org = make.org()
    _member(make, org, valid_until=utcnow() - timedelta(minutes=5))
    for job in app.extensions[periodic.EXTENSION].values():
        job.next_at = 0.0  # due, as at a worker's start
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert len(audit("membership:expired")) == 1
    job = app.extensions[periodic.EXTENSION]["membership-sweep"]
    assert job.seconds == 24 * 3600 and job.next_at > 0


def test_a_failing_periodic_job_does_not_stop_the_worker(app, ctx):
    """A job that raises is logged and retried at its next time; the others run."""
    ran = []

    def broken():
        raise RuntimeError("boom")

    jobs = app.extensions.setdefault(periodic.EXTENSION, {})
    saved = dict(jobs)
    try:
        jobs.clear()
        periodic.register(app, "broken", 60, broken)
        periodic.register(app, "fine", 60, lambda: ran.append(True))
        assert periodic.run_due(now=1000.0) == 2
        assert ran == [True]
        assert periodic.run_due(now=1001.0) == 0
    finally:
        jobs.clear()
        jobs.update(saved)
