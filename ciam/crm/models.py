"""The embedded CRM (`CIAM_CRM=local`): accounts, contracts and their portal
entitlements kept in ciam's own database, with the Salesforce data model's fields
(docs/crm.md), so the product works with no external CRM. Plus the mirror's own
state (its cursor and last error)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ciam.db import UTCDateTime, UUIDPrimaryKey, utcnow
from ciam.extensions import Model


class CrmAccountRow(Model):
    __tablename__ = "crm_accounts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email_domains: Mapped[list] = mapped_column(JSON, default=list)
    customer_number: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class CrmContractRow(Model):
    __tablename__ = "crm_contracts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("crm_accounts.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(40))
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class CrmEntitlementRow(UUIDPrimaryKey, Model):
    __tablename__ = "crm_entitlements"

    contract_id: Mapped[str] = mapped_column(
        ForeignKey("crm_contracts.id", ondelete="CASCADE"), index=True
    )
    portal: Mapped[str] = mapped_column(String(80))  # the portal's client id
    seats: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: unlimited


class CrmSyncState(Model):
    """Where the mirror is: one row per CRM."""

    __tablename__ = "crm_sync_state"

    crm: Mapped[str] = mapped_column(String(20), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
