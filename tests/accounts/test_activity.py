"""/account/activity: a person's own recent security events, in words, newest first,
limited to 50 a page, and never anyone else's."""

from __future__ import annotations

import re
from datetime import timedelta

from ciam.accounts import lockout
from ciam.audit.models import AuditEvent
from ciam.audit.services import ActorContext, record
from ciam.db import utcnow
from ciam.extensions import db
from tests.accounts.security_support import FIREFOX_LINUX, SAFARI_IPHONE, login

ITEM = re.compile(r'<p class="activity-what"><strong>([^<]+)</strong>')


def _items(html: str) -> list[str]:
    return ITEM.findall(html)


def test_activity_page_needs_a_login(client):
    """Without a session the page sends the person to the login page."""
    response = client.get("/account/activity")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/account/activity")


def test_shows_own_events_in_words_newest_first_with_ip_and_device(app, client, make, ctx):
    """A failed attempt, then a sign-in: listed in words, newest first, with the IP
    and the device they came from."""
    user = make.user()
    attacker = app.test_client()
    assert (
        login(attacker, user.email, "guess", ip="198.51.100.66", ua=SAFARI_IPHONE).status_code
        == 401
    )
    assert login(client, user.email, ip="192.0.2.44", ua=FIREFOX_LINUX).status_code == 303
    html = client.get("/account/activity").get_data(as_text=True)
    items = _items(html)
    assert items[:4] == [
        "Signed in from a new device",
        "Signed in",
        "Password accepted",
        "Sign-in failed",
    ]
    assert items[-1] == "Account created"
    assert "198.51.100.66" in html and "Safari on iPhone" in html
    assert "192.0.2.44" in html and "Firefox on Linux" in html


def test_never_shows_another_persons_events(app, client, make, ctx):
    """Another person's sign-ins and failures (their IPs, their devices) are not on
    this person's page."""
    user, other = make.user(), make.user()
    stranger = app.test_client()
    assert login(stranger, other.email, "guess", ip="203.0.113.201").status_code == 401
    assert login(stranger, other.email, ip="203.0.113.202", ua=SAFARI_IPHONE).status_code == 303
    assert login(client, user.email, ip="192.0.2.1", ua=FIREFOX_LINUX).status_code == 303
    html = client.get("/account/activity").get_data(as_text=True)
    assert "203.0.113.201" not in html and "203.0.113.202" not in html
    assert "Safari on iPhone" not in html and "Sign-in failed" not in html
    assert _items(html).count("Signed in") == 1
    other_events = db.session.scalar(
        db.select(db.func.count()).where(AuditEvent.actor_id == other.id)
    )
    assert other_events >= 3


def test_shows_what_support_did_without_their_ip(app, client, make, ctx, monkeypatch):
    """An unlock by support is the person's business (it is listed), but the support
    engineer's IP and browser are not shown to them."""
    monkeypatch.setitem(app.config, "CIAM_LOCKOUT_THRESHOLD", 1)
    user, admin = make.user(), make.user()
    assert login(app.test_client(), user.email, "guess").status_code == 401
    lockout.unlock(user, ActorContext(ip="10.9.8.7", user_agent=SAFARI_IPHONE, actor_id=admin.id))
    db.session.commit()
    assert login(client, user.email, ip="192.0.2.2").status_code == 303
    html = client.get("/account/activity").get_data(as_text=True)
    items = _items(html)
    assert "Account unlocked by support or an administrator" in items
    assert "Account locked after too many failed sign-ins" in items
    assert "10.9.8.7" not in html and "Safari on iPhone" not in html


def test_lists_fifty_events_a_page_with_older_ones_on_the_next(client, make, ctx):
    """At most 50 events a page, newest first; 'Older' leads to the rest."""
    user = make.user()
    start = utcnow() - timedelta(days=1)
    for n in range(60):
        event = record("account:login:failure", ActorContext(ip=f"192.0.2.{n}"), actor_id=user.id)
        event.created_at = start + timedelta(minutes=n)
    db.session.commit()
    assert login(client, user.email).status_code == 303
    first = client.get("/account/activity").get_data(as_text=True)
    assert len(_items(first)) == 50
    assert "192.0.2.59<" in first and "192.0.2.12<" not in first
    assert 'href="/account/activity?page=2">Older</a>' in first
    second = client.get("/account/activity?page=2").get_data(as_text=True)
    assert "192.0.2.12<" in second and "192.0.2.0<" in second
    # + created, password accepted, signed in, new device
    assert len(_items(first)) + len(_items(second)) == 60 + 4
    assert "Older</a>" not in second and 'href="/account/activity?page=1">Newer</a>' in second
