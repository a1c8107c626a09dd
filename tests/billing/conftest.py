"""Billing test helpers: billing switched on with test keys, Stripe faked at the stripe library's HTTP client
boundary (a stripe.HTTPClient), and webhook payloads signed here with the test secret as Stripe signs them."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from urllib.parse import parse_qs

import pytest
import stripe

from app.tenancy import set_current_tenant

WEBHOOK_SECRET = "whsec_test_billing_secret"
PRICES = {"STRIPE_PRICE_MONTHLY": "price_month_test", "STRIPE_PRICE_YEARLY": "price_year_test",
          "STRIPE_PRICE_YEAR_ONCE": "price_once_test"}


class FakeStripe(stripe.HTTPClient):
    """Answers the Stripe API calls the app makes, as the Stripe API answers them; records every request.
    `fail` makes the next calls fail: "network" (the connection fails), or (status, error type, code, message)."""

    name = "fake"

    def __init__(self):
        super().__init__()
        self.requests: list[tuple[str, str, dict]] = []
        self.fail = None
        self._ids = itertools.count(1)

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        params = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(post_data or "").items()}
        path = url.split("api.stripe.com", 1)[-1]
        self.requests.append((method, path, params))
        if self.fail == "network":
            raise stripe.APIConnectionError("Network error: connection refused", should_retry=True)
        if self.fail:
            status, kind, code, message = self.fail
            return json.dumps({"error": {"type": kind, "code": code, "message": message}}), status, {}
        n = next(self._ids)
        if method == "post" and path == "/v1/customers":
            body = {"id": f"cus_fake{n}", "object": "customer", "name": params.get("name"),
                    "email": params.get("email"), "metadata": {"tenant_id": params.get("metadata[tenant_id]")}}
        elif method == "post" and path == "/v1/checkout/sessions":
            body = {"id": f"cs_fake{n}", "object": "checkout.session", "mode": params.get("mode"),
                    "url": f"https://checkout.stripe.com/c/pay/cs_fake{n}"}
        elif method == "post" and path == "/v1/billing_portal/sessions":
            body = {"id": f"bps_fake{n}", "object": "billing_portal.session",
                    "url": f"https://billing.stripe.com/p/session/fake{n}"}
        else:
            return json.dumps({"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}), \
                404, {}
        return json.dumps(body), 200, {"request-id": f"req_fake{n}"}

    def calls(self, path):
        return [params for _m, p, params in self.requests if p == path]


@pytest.fixture()
def fake_stripe(app):
    fake = FakeStripe()
    app.extensions["stripe_http_client"] = fake
    yield fake
    app.extensions.pop("stripe_http_client", None)


@pytest.fixture()
def billing_on(app, db, fake_stripe):
    """Billing configured as in production, with test keys (nothing leaves the machine)."""
    saved = {k: app.config.get(k) for k in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_NETWORK_RETRIES",
                                            "FREE_MAX_CLIENTS", "FREE_MAX_USERS", *PRICES)}
    app.config.update(STRIPE_SECRET_KEY="sk_test_fake", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                      STRIPE_NETWORK_RETRIES=0, **PRICES)
    yield fake_stripe
    app.config.update(saved)


def sign(payload: str, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A Stripe-Signature header: t=<unix time>,v1=<HMAC-SHA256 of "t.payload">."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def post_event(client, event: dict, *, secret: str = WEBHOOK_SECRET, at: int | None = None, payload: str | None = None,
               signature: str | None = None):
    payload = payload if payload is not None else json.dumps(event, ensure_ascii=False)
    headers = {"Content-Type": "application/json"}
    sig = signature if signature is not None else sign(payload, secret, at)
    if sig:
        headers["Stripe-Signature"] = sig
    r = client.post("/billing/webhook", data=payload.encode(), headers=headers)
    set_current_tenant(None)
    return r


class Events:
    """Stripe events of one tenant's subscription, as Stripe sends them (only the members the app reads, plus a
    few it must ignore). `t` is the event time in unix seconds."""

    def __init__(self, tenant_id: int, customer: str, prefix: str = "evt"):
        self.tenant_id, self.customer, self.prefix = tenant_id, customer, prefix
        self.sub = f"sub_{prefix}_{tenant_id}"
        self._n = itertools.count(1)

    def _event(self, kind, t, obj):
        return {"id": f"{self.prefix}_{self.tenant_id}_{next(self._n)}", "object": "event", "type": kind,
                "created": t, "livemode": False, "api_version": "2025-01-27.acacia",
                "data": {"object": obj}}

    def checkout_completed(self, t, seats=5, interval="month", mode="subscription"):
        return self._event("checkout.session.completed", t, {
            "id": f"cs_{t}", "object": "checkout.session", "mode": mode, "payment_status": "paid",
            "customer": self.customer, "client_reference_id": str(self.tenant_id),
            "subscription": self.sub if mode == "subscription" else None,
            "metadata": {"tenant_id": str(self.tenant_id), "seats": str(seats), "interval": interval},
            "customer_details": {"email": "boss@example.com", "address": {"city": "上海"}}})

    def subscription(self, kind, t, status="active", seats=5, interval="month", period_end=None, cancel=False):
        return self._event(f"customer.subscription.{kind}", t, {
            "id": self.sub, "object": "subscription", "customer": self.customer, "status": status,
            "cancel_at_period_end": cancel, "metadata": {"tenant_id": str(self.tenant_id)},
            "items": {"object": "list", "data": [{"id": "si_1", "quantity": seats,
                                                   "current_period_end": period_end or t + 30 * 86400,
                                                   "price": {"id": "price_month_test",
                                                             "recurring": {"interval": interval}}}]}})

    def invoice(self, kind, t, amount=29900, number=None, invoice_id=None):
        return self._event(f"invoice.{kind}", t, {
            "id": invoice_id or f"in_{self.tenant_id}_{t}", "object": "invoice", "customer": self.customer,
            "number": number or f"INV-{t}", "amount_paid": amount if kind == "paid" else 0, "amount_due": amount,
            "currency": "cny", "created": t, "hosted_invoice_url": f"https://invoice.stripe.com/i/{t}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/{t}/pdf",
            "parent": {"subscription_details": {"metadata": {"tenant_id": str(self.tenant_id)},
                                                "subscription": self.sub}}})


def link_customer(tenant_id: int, customer: str) -> None:
    """What starting a checkout leaves behind: the tenant's Stripe customer id."""
    from app.billing.services import account
    from app.extensions import db
    from app.tenancy import tenant_context

    with tenant_context(tenant_id):
        account(tenant_id, create=True).stripe_customer_id = customer
        db.session.commit()
    set_current_tenant(None)


def billing_state(tenant_id: int) -> dict:
    """The tenant's plan as the app sees it, with no ids that differ between tenants."""
    from app.billing.models import BillingAccount, BillingInvoice
    from app.billing.services import forget_cached, summary
    from app.accounts.models import Tenant
    from app.extensions import db
    from app.tenancy import tenant_context
    from sqlalchemy import select

    forget_cached()
    db.session.expire_all()
    with tenant_context(tenant_id):
        acct = db.session.execute(select(BillingAccount)).scalar_one_or_none()
        info = summary(db.session.get(Tenant, tenant_id))
        invoices = sorted((i.status, i.amount) for i in db.session.scalars(select(BillingInvoice)))
        out = {k: info[k] for k in ("plan", "seats", "clients_limit", "status", "grace", "grace_until", "interval",
                                    "renews_at", "cancel_at_period_end")}
        out["subscription"] = bool(acct and acct.stripe_subscription_id)
        out["invoices"] = invoices
    set_current_tenant(None)
    forget_cached()
    return out
