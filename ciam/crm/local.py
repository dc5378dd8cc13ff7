"""The embedded CRM as an adapter (`CIAM_CRM=local`): the same questions the
Salesforce and HubSpot adapters answer, from ciam's own tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ciam.crm.models import CrmAccountRow, CrmContractRow, CrmEntitlementRow
from ciam.crm.protocol import Changes, CrmAccount, CrmContract, CrmEntitlement
from ciam.extensions import db


def _account(row: CrmAccountRow) -> CrmAccount:
    domains = tuple(d.lower() for d in row.email_domains or ())
    return CrmAccount(row.id, row.name, domains, row.customer_number, row.modified_at)


def _contract(row: CrmContractRow) -> CrmContract:
    return CrmContract(
        row.id,
        row.account_id,
        row.number,
        row.status,
        row.start_date,
        row.end_date,
        row.modified_at,
    )


class LocalCrm:
    name = "local"

    def changes_since(self, cursor: str | None) -> Changes:
        """Accounts and contracts modified after `cursor` (an ISO time), oldest first."""
        since = datetime.fromisoformat(cursor) if cursor else None
        accounts = db.select(CrmAccountRow).order_by(CrmAccountRow.modified_at)
        contracts = db.select(CrmContractRow).order_by(CrmContractRow.modified_at)
        if since is not None:
            accounts = accounts.where(CrmAccountRow.modified_at > since)
            contracts = contracts.where(CrmContractRow.modified_at > since)
        found_accounts = [_account(row) for row in db.session.scalars(accounts)]
        found_contracts = [_contract(row) for row in db.session.scalars(contracts)]
        stamps = [a.modified_at for a in found_accounts if a.modified_at]
        stamps += [c.modified_at for c in found_contracts if c.modified_at]
        latest = max(stamps).isoformat() if stamps else cursor
        return Changes(found_accounts, found_contracts, cursor=latest)

    def accounts(self, account_ids: Sequence[str]) -> list[CrmAccount]:
        query = db.select(CrmAccountRow).where(CrmAccountRow.id.in_(list(account_ids)))
        return [_account(row) for row in db.session.scalars(query)]

    def contracts_of(self, account_ids: Sequence[str]) -> list[CrmContract]:
        query = db.select(CrmContractRow).where(CrmContractRow.account_id.in_(list(account_ids)))
        return [_contract(row) for row in db.session.scalars(query)]

    def entitlements_of(self, contract_ids: Sequence[str]) -> list[CrmEntitlement]:
        query = db.select(CrmEntitlementRow).where(
            CrmEntitlementRow.contract_id.in_(list(contract_ids))
        )
        return [
            CrmEntitlement(row.contract_id, row.portal, row.seats)
            for row in db.session.scalars(query)
        ]

    def find_account(
        self,
        *,
        email_domain: str | None = None,
        customer_number: str | None = None,
        contract_number: str | None = None,
    ) -> CrmAccount | None:
        if customer_number:
            row = db.session.scalar(
                db.select(CrmAccountRow).where(CrmAccountRow.customer_number == customer_number)
            )
            return _account(row) if row else None
        if contract_number:
            contract = db.session.scalar(
                db.select(CrmContractRow).where(CrmContractRow.number == contract_number)
            )
            row = db.session.get(CrmAccountRow, contract.account_id) if contract else None
            return _account(row) if row else None
        if email_domain:
            wanted = email_domain.lower()
            for row in db.session.scalars(db.select(CrmAccountRow)):
                if wanted in (d.lower() for d in row.email_domains or ()):
                    return _account(row)
        return None
