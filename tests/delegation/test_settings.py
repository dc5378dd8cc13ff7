"""Organization policy and branding: what is given is checked and audited."""

from __future__ import annotations

import pytest

from ciam.delegation import settings
from tests.api.support import audit


def test_policy_and_branding_are_stored(make):
    org = make.org(slug="acme")
    make.portal(client_id="claims-portal")
    settings.update_settings(
        org,
        mfa_required=True,
        session_idle_minutes=30,
        allowed_portals=["claims-portal"],
        display_name="Acme",
        logo_url="https://cdn.acme.test/logo.svg",
        primary_colour="#0a5fb4",
        email_sender_name="Acme Insurance",
    )
    shown = settings.settings_of(org)
    assert shown["mfa_required"] is True and shown["session_idle_minutes"] == 30
    assert shown["allowed_portals"] == ["claims-portal"]
    assert (shown["primary_colour"], shown["email_sender_name"]) == ("#0a5fb4", "Acme Insurance")
    [event] = audit("org:settings:updated")
    assert "logo_url" in event.data["changed"]


def test_an_empty_string_clears_a_text_setting(make):
    org = make.org()
    settings.update_settings(org, display_name="Acme")
    settings.update_settings(org, display_name="")
    assert org.display_name is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("session_idle_minutes", 0),
        ("session_idle_minutes", 24 * 60 + 1),
        ("logo_url", "http://cdn.acme.test/logo.svg"),
        ("logo_url", "javascript:alert(1)"),
        ("primary_colour", "blue"),
        ("email_sender_name", "Acme\r\nBcc: victim@example.com"),
        ("email_sender_name", "Acme <evil@example.com>"),
        ("allowed_portals", ["no-such-portal"]),
    ],
)
def test_bad_values_are_refused(make, name, value):
    org = make.org()
    with pytest.raises(settings.InvalidSetting):
        settings.update_settings(org, **{name: value})
