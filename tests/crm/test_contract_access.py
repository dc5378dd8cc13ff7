"""Access follows the contract, as a strict relying party sees it: while the
organization's contract is active the person gets a code for the portal that
requires an entitlement; when it ends, a page and `access_denied`; renewed, a code
again. Real HTTP, Authlib as the portal."""

from __future__ import annotations

from datetime import timedelta

from ciam.crm import mirror
from ciam.crm.models import CrmAccountRow, CrmContractRow, CrmEntitlementRow
from ciam.db import utcnow
from ciam.delegation import services as orgs
from ciam.delegation.models import Organization
from ciam.extensions import db
from ciam.roles import services as roles
from ciam.roles.app_roles import set_entitlement_required
from tests import factories
from tests.factories import PASSWORD
from tests.oidc.rp import portal_rp
from tests.oidc_flow import Browser, redirect_params


def _contract(end_offset_days: int) -> None:
    contract = db.session.get(CrmContractRow, "800A")
    contract.end_date = utcnow().date() + timedelta(days=end_offset_days)
    contract.modified_at = utcnow()
    db.session.commit()
    mirror.sweep()
    db.session.commit()


def _sign_in(rp, email):
    url, state, *_ = rp.authorization_url()
    return Browser(rp.issuer).authorize(url, email, PASSWORD), state


def test_contract_end_and_renewal_seen_by_the_portal(live_server, ctx):
    portal, secret = factories.portal(client_id="claims-portal")
    set_entitlement_required("claims-portal", True)
    today = utcnow().date()
    db.session.add(CrmAccountRow(id="001A", name="Acme", email_domains=["acme.example"]))
    db.session.add(
        CrmContractRow(
            id="800A", account_id="001A", number="K-1", status="Activated",
            start_date=today - timedelta(days=10), end_date=today + timedelta(days=10),
        )
    )  # fmt: skip
    db.session.add(CrmEntitlementRow(contract_id="800A", portal="claims-portal", seats=5))
    db.session.commit()
    mirror.sync()
    db.session.commit()
    acme = db.session.scalars(db.select(Organization)).one()
    roles.change_app_roles("claims-portal", ["reader"])
    viewer = roles.create_role("viewer", "Viewer")
    roles.map_role(viewer, "claims-portal", ["reader"])
    person = factories.user()
    roles.assign_role(orgs.add_member(acme, person), viewer)
    db.session.commit()
    rp = portal_rp(live_server, portal, secret)

    granted, _ = _sign_in(rp, person.email)
    assert "code" in redirect_params(granted)

    _contract(-1)
    refused, _ = _sign_in(rp, person.email)
    assert refused.status_code == 403 and "No access to" in refused.text

    _contract(+365)
    again, state = _sign_in(rp, person.email)
    callback = redirect_params(again)
    assert "code" in callback and callback["state"] == state
