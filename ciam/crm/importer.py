"""`ciam crm import`: load the embedded CRM from CSV files with the Salesforce data
model's column names (docs/crm.md), so `make demo` and small installs need no
external CRM. Rows are upserted by Id; every row read is stamped modified now, so
the next sync mirrors it."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ciam.crm.models import CrmAccountRow, CrmContractRow, CrmEntitlementRow
from ciam.db import utcnow
from ciam.errors import CiamError
from ciam.extensions import db


class ImportRefused(CiamError):
    code = "invalid_import"


@dataclass
class ImportResult:
    accounts: int = 0
    contracts: int = 0
    entitlements: int = 0


def _rows(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise ImportRefused(f"{path}: {error.strerror or error}") from error
    missing = [name for name in required if rows and name not in rows[0]]
    if missing:
        raise ImportRefused(f"{path.name}: missing column(s) {', '.join(missing)}.")
    return rows


def _date(value: str | None, where: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as error:
        raise ImportRefused(f"{where}: {value!r} is not a date (YYYY-MM-DD).") from error


def _seats(value: str | None, where: str) -> int | None:
    if value is None or not value.strip():
        return None  # empty seats: unlimited
    try:
        seats = int(value)
    except ValueError as error:
        raise ImportRefused(f"{where}: seats {value!r} is not a number.") from error
    if seats < 0:
        raise ImportRefused(f"{where}: seats cannot be negative.")
    return seats


def import_accounts(path: Path, now) -> int:
    rows = _rows(path, ("Id", "Name"))
    for n, row in enumerate(rows, start=2):
        if not row["Id"] or not row["Name"]:
            raise ImportRefused(f"{path.name} line {n}: Id and Name are required.")
        domains = [d.strip().lower() for d in (row.get("Email_Domains__c") or "").split(";")]
        account = db.session.get(CrmAccountRow, row["Id"]) or CrmAccountRow(id=row["Id"])
        account.name = row["Name"].strip()
        account.email_domains = [d for d in domains if d]
        account.customer_number = (row.get("Customer_Number__c") or "").strip() or None
        account.modified_at = now
        db.session.add(account)
    return len(rows)


def import_contracts(path: Path, now) -> int:
    rows = _rows(path, ("Id", "AccountId", "ContractNumber", "Status"))
    db.session.flush()
    for n, row in enumerate(rows, start=2):
        where = f"{path.name} line {n}"
        if db.session.get(CrmAccountRow, row["AccountId"]) is None:
            raise ImportRefused(f"{where}: no account {row['AccountId']!r}.")
        contract = db.session.get(CrmContractRow, row["Id"]) or CrmContractRow(id=row["Id"])
        contract.account_id = row["AccountId"]
        contract.number = row["ContractNumber"].strip()
        contract.status = row["Status"].strip()
        contract.start_date = _date(row.get("StartDate"), where)
        contract.end_date = _date(row.get("EndDate"), where)
        contract.modified_at = now
        db.session.add(contract)
    return len(rows)


def import_entitlements(path: Path, now) -> int:
    """Replaces the entitlements of every contract the file names."""
    rows = _rows(path, ("Contract__c", "Portal_Client_Id__c"))
    db.session.flush()
    contract_ids = {row["Contract__c"] for row in rows}
    for contract_id in contract_ids:
        contract = db.session.get(CrmContractRow, contract_id)
        if contract is None:
            raise ImportRefused(f"{path.name}: no contract {contract_id!r}.")
        contract.modified_at = now  # its licences change: mirror it again
    db.session.execute(
        db.delete(CrmEntitlementRow).where(CrmEntitlementRow.contract_id.in_(contract_ids))
    )
    for n, row in enumerate(rows, start=2):
        seats = _seats(row.get("Seats__c"), f"{path.name} line {n}")
        db.session.add(
            CrmEntitlementRow(
                contract_id=row["Contract__c"],
                portal=row["Portal_Client_Id__c"].strip(),
                seats=seats,
            )
        )
    return len(rows)


def import_files(
    accounts: Path | None, contracts: Path | None, entitlements: Path | None
) -> ImportResult:
    now = utcnow()
    result = ImportResult()
    if accounts:
        result.accounts = import_accounts(accounts, now)
    if contracts:
        result.contracts = import_contracts(contracts, now)
    if entitlements:
        result.entitlements = import_entitlements(entitlements, now)
    db.session.flush()
    return result
