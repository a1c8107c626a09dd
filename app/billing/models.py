"""Billing state kept per tenant, the Stripe events already applied, and the invoices Stripe reported."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db_types import JSONType, UTCDateTime, utcnow
from app.extensions import db
from app.tenancy import TenantScoped


class BillingAccount(TenantScoped, db.Model):
    """One per tenant: its plan as the Stripe webhooks last described it, and its 发票 details."""

    id: Mapped[int] = mapped_column(primary_key=True)
    plan: Mapped[str] = mapped_column(String(16), default="free")  # free | team
    status: Mapped[str] = mapped_column(String(24), default="")  # Stripe's subscription status, "paid" for once
    interval: Mapped[str] = mapped_column(String(16), default="")  # month | year | once
    seats: Mapped[int] = mapped_column(Integer, default=0)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    # The grace period after a failed payment: the first unrecovered failure, and when writes stop.
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 发票 (invoice) details the company wants on its invoices.
    company_name: Mapped[str] = mapped_column(String(200), default="")
    tax_id: Mapped[str] = mapped_column(String(20), default="")  # 纳税人识别号
    address: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", name="uq_billing_account_tenant"),
        Index("ix_billing_account_customer", "stripe_customer_id"),
    )


class BillingEvent(db.Model):
    """A Stripe event applied once (its id is Stripe's): a replay finds it here and changes nothing. Not
    tenant-scoped: the event is recorded before (or without) knowing its tenant."""

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.id", ondelete="SET NULL"), index=True)
    created: Mapped[int] = mapped_column(BigInteger, default=0)  # Stripe's event time (unix seconds)
    customer: Mapped[str | None] = mapped_column(String(255), index=True)
    # Only the few values the plan is computed from (no card or address data): the tenant's state is the
    # fold of its events sorted by time, so replays and out-of-order deliveries end in the same state.
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BillingInvoice(TenantScoped, db.Model):
    """An invoice Stripe reported (paid or failed), listed on the billing page."""

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_id: Mapped[str] = mapped_column(String(255))
    number: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(24), default="")  # paid | failed
    amount: Mapped[int] = mapped_column(BigInteger, default=0)  # in the currency's minor unit (分)
    currency: Mapped[str] = mapped_column(String(8), default="cny")
    hosted_url: Mapped[str] = mapped_column(String(1000), default="")
    pdf_url: Mapped[str] = mapped_column(String(1000), default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "stripe_id", name="uq_billing_invoice_stripe"),
        Index("ix_billing_invoice_tenant_created", "tenant_id", "created"),
    )
