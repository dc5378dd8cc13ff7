"""The embedded CRM and its mirror, through the CLI an operator uses: CSV import,
`ciam crm sync` creating organizations and licences, a contract that ends cutting
the organization's access (tokens revoked, admins emailed) and coming back."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ciam.crm import mirror
from ciam.crm.models import CrmContractRow
from ciam.db import utcnow
from ciam.delegation import services as orgs
from ciam.delegation.models import AdminRight, Organization, OrgStatus
from ciam.extensions import db
from ciam.oidc.models import Token
from ciam.oidc.token_store import IssueContext, insert_token, issue_values
from ciam.outbox.models import OutboxMessage
from ciam.roles.licences import licence_for
from tests import factories


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def crm_files(tmp_path, ctx):
    factories.portal(client_id="claims-portal")
    factories.portal(client_id="broker-portal")
    today = utcnow().date()
    return {
        "accounts": _write(
            tmp_path,
            "accounts.csv",
            "Id,Name,Email_Domains__c,Customer_Number__c\n"
            "001A,Acme Insurance,acme.example;ACME-group.example,C-1001\n"
            "001B,Brightside Brokers,brightside.example,C-1002\n",
        ),
        "contracts": _write(
            tmp_path,
            "contracts.csv",
            "Id,AccountId,ContractNumber,Status,StartDate,EndDate\n"
            f"800A,001A,K-1,Activated,{today - timedelta(days=30)},{today + timedelta(days=1)}\n"
            f"800B,001B,K-2,Activated,{today - timedelta(days=30)},\n"
            f"800C,001B,K-3,Draft,{today - timedelta(days=30)},\n",
        ),
        "entitlements": _write(
            tmp_path,
            "entitlements.csv",
            "Contract__c,Portal_Client_Id__c,Seats__c\n"
            "800A,claims-portal,25\n800B,claims-portal,\n800B,broker-portal,3\n"
            "800C,broker-portal,100\n",
        ),
    }


def _cli(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    db.session.expire_all()
    return result


def _import_and_sync(app, files):
    imported = _cli(
        app,
        "crm", "import",
        "--accounts", files["accounts"],
        "--contracts", files["contracts"],
        "--entitlements", files["entitlements"],
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    synced = _cli(app, "crm", "sync", "--json")
    assert synced.exit_code == 0, synced.output
    return json.loads(synced.stdout)


def _org(crm_id: str) -> Organization:
    return db.session.scalars(
        db.select(Organization).where(Organization.crm_account_id == crm_id)
    ).one()


def test_sync_creates_organizations_and_licences_from_active_contracts(app, crm_files):
    result = _import_and_sync(app, crm_files)

    assert result["organizations_created"] == 2 and result["errors"] == []
    acme, bright = _org("001A"), _org("001B")
    assert acme.name == "Acme Insurance" and acme.slug == "acme-insurance"
    assert acme.email_domains == ["acme-group.example", "acme.example"]
    assert licence_for(acme, "claims-portal").seats == 25
    assert licence_for(bright, "claims-portal").seats is None  # empty seats: unlimited
    # The draft contract's 100 seats do not count.
    assert licence_for(bright, "broker-portal").seats == 3


def test_a_second_sync_changes_nothing(app, crm_files):
    _import_and_sync(app, crm_files)
    again = json.loads(_cli(app, "crm", "sync", "--json").stdout)
    assert again["organizations_created"] == 0 and again["licences_changed"] == 0
    status = json.loads(_cli(app, "crm", "status", "--json").stdout)
    assert status["crm"] == "local" and status["cursor"] and status["last_error"] is None


def _org_token(user_id, org_id) -> str:
    portal = type("P", (), {"client_id": "claims-portal"})()
    ctx = IssueContext(family_id=f"f-{org_id}", user_id=user_id, org_id=org_id)
    _, values = issue_values(portal, "openid organization", ctx, False)
    insert_token(values)
    return values["jti"]


def test_a_contract_that_ends_cuts_access_and_its_renewal_restores_it(app, crm_files):
    _import_and_sync(app, crm_files)
    acme = _org("001A")
    admin = factories.user(email="boss@acme.example")
    orgs.add_member(acme, admin, AdminRight.org_admin)
    jti = _org_token(admin.id, acme.id)
    db.session.commit()

    # The end date passes: no CRM event fires, the daily sweep sees it.
    contract = db.session.get(CrmContractRow, "800A")
    contract.end_date = utcnow().date() - timedelta(days=1)
    db.session.commit()
    swept = json.loads(_cli(app, "crm", "sync", "--sweep", "--json").stdout)

    acme = _org("001A")
    assert swept["ended"] == ["acme-insurance"]
    assert acme.status == OrgStatus.contract_ended
    assert db.session.scalars(db.select(Token).where(Token.jti == jti)).one().revoked_at
    emails = db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == "email"))
    assert [m.aggregate_id for m in emails] == [str(admin.id)]  # the admin is told
    # Memberships and roles are kept for the renewal.
    assert orgs.get_org("acme-insurance") is not None

    contract = db.session.get(CrmContractRow, "800A")
    contract.end_date = utcnow().date() + timedelta(days=365)
    contract.modified_at = utcnow()
    db.session.commit()
    restored = json.loads(_cli(app, "crm", "sync", "--json").stdout)
    assert restored["restored"] == ["acme-insurance"]
    assert _org("001A").status == OrgStatus.active


def test_an_unknown_portal_or_a_bad_file_is_a_clear_message(app, crm_files, tmp_path):
    bad_date = _write(
        tmp_path,
        "contracts-bad.csv",
        "Id,AccountId,ContractNumber,Status,StartDate,EndDate\n800Z,001A,K-9,Activated,soon,\n",
    )
    _cli(app, "crm", "import", "--accounts", crm_files["accounts"])
    refused = _cli(app, "crm", "import", "--contracts", bad_date)
    assert refused.exit_code != 0 and "is not a date" in refused.output
    no_columns = _write(tmp_path, "accounts-bad.csv", "Name\nAcme\n")
    assert "missing column(s) Id" in _cli(app, "crm", "import", "--accounts", no_columns).output

    unknown = _write(
        tmp_path, "ents.csv", "Contract__c,Portal_Client_Id__c,Seats__c\n800A,no-such-portal,5\n"
    )
    _cli(app, "crm", "import", "--contracts", crm_files["contracts"], "--entitlements", unknown)
    result = json.loads(_cli(app, "crm", "sync", "--json").stdout)
    assert any("no-such-portal" in error for error in result["errors"])


def test_an_unavailable_crm_setting_is_named(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "CIAM_CRM", "salesforce")
    result = _cli(app, "crm", "sync")
    assert result.exit_code == 1 and "CIAM_CRM=salesforce" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    with pytest.raises(mirror.ConfigError, match="CIAM_CRM=salesforce"):
        mirror.adapter()
