"""What ciam asks of a CRM, whichever it is (CIAM_CRM: `local`, later `salesforce`,
`hubspot`). Records are plain data; errors are classified so the worker knows
whether to retry, re-authenticate, wait or give up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True)
class CrmAccount:
    id: str
    name: str
    email_domains: tuple[str, ...] = ()
    customer_number: str | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True)
class CrmContract:
    id: str
    account_id: str
    number: str
    status: str
    start_date: date | None = None
    end_date: date | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True)
class CrmEntitlement:
    contract_id: str
    portal: str  # the portal's client id
    seats: int | None = None  # None: unlimited


@dataclass(frozen=True)
class Changes:
    """Records changed since a cursor, and the cursor to ask with next time."""

    accounts: Sequence[CrmAccount] = ()
    contracts: Sequence[CrmContract] = ()
    entitlements: Sequence[CrmEntitlement] = field(default_factory=tuple)
    cursor: str | None = None


class CrmError(Exception):
    """A CRM call failed; subclasses say what to do about it."""


class Retryable(CrmError):
    """A timeout, a 5xx, a refused connection: try again later (with backoff)."""


class Reauthenticate(CrmError):
    """The session expired: fetch a token once more, then retry."""


class RateLimited(CrmError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Permanent(CrmError):
    """The CRM refused the record itself (validation, a missing field): do not retry."""


class CrmAdapter(Protocol):
    name: str

    def changes_since(self, cursor: str | None) -> Changes: ...

    def accounts(self, account_ids: Sequence[str]) -> list[CrmAccount]: ...

    def contracts_of(self, account_ids: Sequence[str]) -> list[CrmContract]: ...

    def entitlements_of(self, contract_ids: Sequence[str]) -> list[CrmEntitlement]: ...

    def find_account(
        self,
        *,
        email_domain: str | None = None,
        customer_number: str | None = None,
        contract_number: str | None = None,
    ) -> CrmAccount | None: ...
