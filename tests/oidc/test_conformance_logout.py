"""OpenID Connect RP-Initiated Logout 1.0 (§2, §3) as the certification's logout
tests and RFC 9700 §4.11 (no open redirects) expect it."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp
from tests.oidc_flow import Browser, csrf_token

BYE = "https://portal.example.test/bye"
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def _signed_in(live_server, make, **portal_kwargs):
    user = make.user()
    portal_kwargs.setdefault("post_logout_redirect_uris", [BYE])
    portal, secret = make.portal(**portal_kwargs)
    rp = portal_rp(live_server, portal, secret)
    token, _, browser = rp.login(user.email, PASSWORD)
    return portal, rp, token, browser


def _still_signed_in(browser) -> bool:
    return browser.get("/account").status_code == 200


def _confirm(browser, page, **data):
    action = unescape(FORM_ACTION.search(page.text).group(1))
    return browser.post(action, data={"confirm": "yes", **data})


def _assert_error_page(response) -> None:
    """A page for the person, not a redirect anywhere (RP-Initiated Logout §3)."""
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")


def test_logout_without_hint_asks_for_confirmation(live_server, make):
    """§2: without an id_token_hint the OP asks the person; a GET alone (an image on
    another site) signs nobody out."""
    _, rp, _, browser = _signed_in(live_server, make)

    page = browser.get(rp.metadata["end_session_endpoint"])

    assert page.status_code == 200
    assert '<form method="post"' in page.text
    assert 'name="csrf_token"' in page.text
    assert _still_signed_in(browser)


def test_confirmed_logout_signs_out_and_revokes(live_server, make):
    """Confirming with the form's csrf_token ends the session and its tokens."""
    _, rp, token, browser = _signed_in(live_server, make)
    page = browser.get(rp.metadata["end_session_endpoint"])

    done = _confirm(browser, page, csrf_token=csrf_token(page.text))

    assert done.status_code == 200
    assert "signed out" in done.text
    assert not _still_signed_in(browser)
    assert rp.userinfo(token["access_token"]).status_code == 401


def test_confirmed_logout_redirects_with_state(live_server, make):
    """With client_id instead of a hint (§2), the confirmed logout goes back to the
    registered post_logout_redirect_uri with the state appended."""
    portal, rp, _, browser = _signed_in(live_server, make)
    page = browser.get(
        rp.metadata["end_session_endpoint"],
        params={"client_id": portal.client_id, "post_logout_redirect_uri": BYE, "state": "s 1"},
    )
    assert page.status_code == 200

    done = _confirm(browser, page, csrf_token=csrf_token(page.text))

    assert done.status_code == 302
    assert done.headers["Location"] == BYE + "?state=s+1"
    assert not _still_signed_in(browser)


def test_confirmation_without_csrf_token_keeps_session(live_server, make):
    """A forged confirmation POST (no csrf_token) signs nobody out."""
    _, rp, _, browser = _signed_in(live_server, make)
    page = browser.get(rp.metadata["end_session_endpoint"])

    forged = _confirm(browser, page)

    assert forged.status_code == 400
    assert _still_signed_in(browser)


def test_logout_by_post_with_hint(live_server, make):
    """§2: the end_session_endpoint takes POST form parameters as well as GET."""
    _, rp, token, browser = _signed_in(live_server, make)

    done = browser.post(
        rp.metadata["end_session_endpoint"],
        data={"id_token_hint": token["id_token"], "post_logout_redirect_uri": BYE, "state": "x"},
    )

    assert done.headers["Location"] == BYE + "?state=x"
    assert not _still_signed_in(browser)


def test_confirmation_page_keeps_posted_parameters(live_server, make):
    """A POSTed logout request that needs confirmation still returns to its
    post_logout_redirect_uri once confirmed."""
    portal, rp, _, browser = _signed_in(live_server, make)
    page = browser.post(
        rp.metadata["end_session_endpoint"],
        data={"client_id": portal.client_id, "post_logout_redirect_uri": BYE, "state": "p"},
    )
    assert page.status_code == 200

    done = _confirm(browser, page, csrf_token=csrf_token(page.text))

    assert done.headers["Location"] == BYE + "?state=p"


def test_hint_for_another_user_asks_for_confirmation(live_server, make):
    """A hint naming someone other than the signed-in person is no proof the request
    comes from this person's portal session: ask."""
    _, rp, _, browser = _signed_in(live_server, make)
    other = make.user()
    other_token, _, _ = rp.login(other.email, PASSWORD)

    page = browser.get(
        rp.metadata["end_session_endpoint"], params={"id_token_hint": other_token["id_token"]}
    )

    assert page.status_code == 200
    assert 'name="confirm"' in page.text
    assert _still_signed_in(browser)


def test_unregistered_post_logout_redirect_uri(live_server, make):
    """§3: a post_logout_redirect_uri not registered for the portal is never
    followed: an error page, and the session is untouched."""
    _, rp, token, browser = _signed_in(live_server, make)

    response = browser.get(
        rp.metadata["end_session_endpoint"],
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": "https://portal.example.test/elsewhere",
        },
    )

    _assert_error_page(response)
    assert _still_signed_in(browser)


def test_hint_from_another_portal_than_client_id(live_server, make):
    """An id_token_hint issued to portal A with client_id of portal B is refused:
    A's token must not unlock B's redirect URIs (or the other way round)."""
    _, rp_a, token_a, browser = _signed_in(live_server, make)
    portal_b, _ = make.portal(post_logout_redirect_uris=[BYE])

    response = browser.get(
        rp_a.metadata["end_session_endpoint"],
        params={
            "id_token_hint": token_a["id_token"],
            "client_id": portal_b.client_id,
            "post_logout_redirect_uri": BYE,
        },
    )

    _assert_error_page(response)
    assert _still_signed_in(browser)


@pytest.mark.parametrize("identify", ["hint", "client_id", "nothing"])
@pytest.mark.parametrize(
    "target", ["https://evil.test", "https://evil.test/bye", BYE + ".evil.test", "//evil.test"]
)
def test_open_redirect_attempts(live_server, make, identify, target):
    """RFC 9700 §4.11: no way to bounce the browser to an arbitrary site."""
    portal, rp, token, browser = _signed_in(live_server, make)
    params = {"post_logout_redirect_uri": target}
    if identify == "hint":
        params["id_token_hint"] = token["id_token"]
    elif identify == "client_id":
        params["client_id"] = portal.client_id

    response = browser.get(rp.metadata["end_session_endpoint"], params=params)

    _assert_error_page(response)


def test_redirect_without_portal_is_refused(live_server, make):
    """§3: without a hint or client_id there is no portal to check the URI against,
    so even a URI some portal registered is not followed."""
    _, rp, _, _ = _signed_in(live_server, make)

    response = Browser(live_server).get(
        rp.metadata["end_session_endpoint"], params={"post_logout_redirect_uri": BYE}
    )

    _assert_error_page(response)


def test_invalid_hint_is_refused(live_server, make):
    """A hint we did not sign is an error, not a silent logout."""
    _, rp, token, browser = _signed_in(live_server, make)
    head, payload, _ = token["id_token"].split(".")

    response = browser.get(
        rp.metadata["end_session_endpoint"],
        params={"id_token_hint": f"{head}.{payload}.AAAA", "post_logout_redirect_uri": BYE},
    )

    _assert_error_page(response)
    assert _still_signed_in(browser)
