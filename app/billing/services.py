"""Billing services: the plan and its limits, read-only after the grace period, Stripe Checkout and the Customer
Portal, and the webhook events that drive the plan. Billing is on only when STRIPE_SECRET_KEY is set."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import stripe
from flask import current_app, g, has_app_context, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Invite, Tenant, User
from app.billing.models import BillingAccount, BillingEvent, BillingInvoice
from app.clients.access import LimitReached, NotAllowed
from app.clients.models import Client
from app.db_types import utcnow
from app.extensions import db
from app.tenancy import all_tenants, current_tenant_id, tenant_context

HANDLED_EVENTS = {  # type -> rank: events of the same second are applied in this order
    "checkout.session.completed": 1,
    "customer.subscription.created": 2,
    "invoice.payment_failed": 3,
    "invoice.paid": 4,
    "customer.subscription.updated": 5,
    "customer.subscription.deleted": 6,
}
TEAM_STATUSES = ("active", "trialing", "past_due", "unpaid")
FAILING_STATUSES = ("past_due", "unpaid")
INTERVALS = ("month", "year", "once")
TAX_ID = re.compile(r"[0-9A-Z]{15}|[0-9A-Z]{18}|[0-9A-Z]{20}")


class BillingError(Exception):
    """A Stripe call failed (network or Stripe's answer); `message` says so, nothing changed."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class SeatsInvalid(BillingError):
    """The seat count is outside what can be bought."""


class BadSignature(Exception):
    """A webhook whose Stripe-Signature does not verify (missing, malformed, foreign, stale or altered)."""


def enabled() -> bool:
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


# ---------------------------------------------------------------- the plan

def account(tenant_id: int | None = None, *, create: bool = False) -> BillingAccount | None:
    """The tenant's billing account (cached per request); with `create`, made when missing."""
    tenant_id = tenant_id or current_tenant_id()
    if tenant_id is None:
        return None
    cache = g.setdefault("_billing_accounts", {}) if has_app_context() else {}
    found = cache.get(tenant_id)
    if found is None:
        with tenant_context(tenant_id):
            found = db.session.execute(select(BillingAccount)).scalar_one_or_none()
            if found is None and create:
                found = BillingAccount(tenant_id=tenant_id, plan="free")
                db.session.add(found)
                db.session.flush()
        if found is not None:
            cache[tenant_id] = found
    return found


def forget_cached() -> None:
    if has_app_context():
        g.pop("_billing_accounts", None)


def plan_of(acct: BillingAccount | None, now: datetime | None = None) -> str:
    """"team" while a subscription (or a paid year) is in force, else "free"."""
    if acct is None or acct.plan != "team":
        return "free"
    if acct.interval == "once":
        return "team" if acct.current_period_end and acct.current_period_end > (now or utcnow()) else "free"
    return "team"


def limits(acct: BillingAccount | None) -> dict:
    """{"users", "clients", "share_days"}: the most the plan allows (None: no limit)."""
    cfg = current_app.config
    if plan_of(acct) == "team":
        return {"users": max(acct.seats or 0, 1), "clients": None, "share_days": None}
    return {"users": cfg["FREE_MAX_USERS"], "clients": cfg["FREE_MAX_CLIENTS"], "share_days": cfg["FREE_MAX_SHARE_DAYS"]}


def seats_used() -> int:
    return db.session.execute(select(func.count(User.id)).where(User.active.is_(True))).scalar_one()


def open_invites() -> int:
    return db.session.execute(select(func.count(Invite.id)).where(
        Invite.accepted_at.is_(None), Invite.revoked_at.is_(None), Invite.expires_at > utcnow())).scalar_one()


def usage(resource: str) -> int:
    """How much of `resource` the current tenant has: users (active and invited), clients (archived too)."""
    if resource == "users":
        return seats_used() + open_invites()
    if resource == "clients":
        return db.session.execute(select(func.count(Client.id))).scalar_one()
    return 0


LIMIT_MESSAGES = {
    "users": _l("Your plan allows %(limit)d users (active colleagues and open invitations). Upgrade or add seats "
                "to invite more."),
    "clients": _l("The Free plan allows %(limit)d client cards. Upgrade to Team to add more; every existing card "
                  "stays readable and editable."),
    "share_days": _l("On the Free plan a share link lasts at most %(limit)d days. Upgrade to Team for longer links."),
}


def plan_limits(tenant: Tenant | None, resource: str, adding: int = 1) -> None:
    """The check_limit hook (app.clients.access): raise LimitReached when adding would exceed the plan.
    A downgrade never deletes anything: only new creation beyond the limit is refused."""
    if tenant is None:
        return
    with tenant_context(tenant.id):
        limit = limits(account(tenant.id)).get(resource)
        if limit is None:
            return
        over = adding > limit if resource == "share_days" else usage(resource) + adding > limit
    if over:
        raise LimitReached(LIMIT_MESSAGES[resource] % {"limit": limit}, resource=resource)


def grace_state(acct: BillingAccount | None, now: datetime | None = None) -> str:
    """"" (paid up), "grace" (a payment failed; writes still allowed) or "read_only" (grace is over)."""
    if acct is None or acct.grace_until is None:
        return ""
    return "read_only" if (now or utcnow()) >= acct.grace_until else "grace"


def read_only(tenant: Tenant | None) -> bool:
    """The plan_read_only hook (app.clients.access)."""
    return tenant is not None and grace_state(account(tenant.id)) == "read_only"


def summary(tenant: Tenant) -> dict:
    """What the billing page and the API show."""
    acct = account(tenant.id)
    lim = limits(acct)
    with tenant_context(tenant.id):
        used, clients = seats_used(), usage("clients")
    return {"plan": plan_of(acct), "seats": lim["users"], "seats_used": used, "clients": clients,
            "clients_limit": lim["clients"], "share_days_limit": lim["share_days"],
            "status": (acct.status if acct else "") or ("active" if plan_of(acct) == "team" else "free"),
            "grace": grace_state(acct), "grace_until": acct.grace_until if acct else None,
            "interval": acct.interval if acct else "",
            "renews_at": acct.current_period_end if acct and plan_of(acct) == "team" else None,
            "cancel_at_period_end": bool(acct and acct.cancel_at_period_end)}


def invoices(limit: int = 24) -> list[BillingInvoice]:
    return db.session.scalars(select(BillingInvoice).order_by(BillingInvoice.created.desc()).limit(limit)).all()


def save_invoice_details(tenant: Tenant, *, company_name: str, tax_id: str, address: str) -> dict:
    """Keep the company's 发票 details; returns errors by field (nothing saved when there are any)."""
    from app.values import normalize_text

    # Names and addresses keep their full-width brackets: the 发票 must match the registered name exactly.
    company_name = " ".join((company_name or "").split())
    tax_id = normalize_text(tax_id or "").replace(" ", "").upper()
    address = " ".join((address or "").split())
    errors = {}
    if len(company_name) > 200:
        errors["company_name"] = _l("Use at most %(n)d characters.", n=200)
    if tax_id and not TAX_ID.fullmatch(tax_id):
        errors["tax_id"] = _l("A taxpayer identification number has 15, 18 or 20 digits and capital letters, such "
                              "as 91310000MA1K8XXXX6.")
    if len(address) > 300:
        errors["address"] = _l("Use at most %(n)d characters.", n=300)
    if errors:
        return errors
    acct = account(tenant.id, create=True)
    acct.company_name, acct.tax_id, acct.address = company_name, tax_id, address
    return {}


# ---------------------------------------------------------------- Stripe calls

def _stripe() -> stripe.StripeClient:
    """A Stripe client; tests put a fake stripe.HTTPClient in app.extensions["stripe_http_client"]."""
    return stripe.StripeClient(current_app.config["STRIPE_SECRET_KEY"],
                               http_client=current_app.extensions.get("stripe_http_client"),
                               max_network_retries=current_app.config.get("STRIPE_NETWORK_RETRIES", 2))


def _stripe_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except stripe.APIConnectionError:
        current_app.logger.warning("Stripe unreachable")
        raise BillingError(_l("We could not reach the payment service. Nothing was changed; please try again in a "
                              "minute."))
    except stripe.StripeError as e:
        current_app.logger.warning("Stripe error %s: %s", getattr(e, "code", ""), getattr(e, "user_message", ""))
        raise BillingError(_l("The payment service refused the request (%(reason)s). Nothing was changed.",
                              reason=getattr(e, "user_message", None) or getattr(e, "code", None) or e.__class__.__name__))


def price_for(interval: str) -> str | None:
    cfg = current_app.config
    return {"month": cfg.get("STRIPE_PRICE_MONTHLY"), "year": cfg.get("STRIPE_PRICE_YEARLY"),
            "once": cfg.get("STRIPE_PRICE_YEAR_ONCE")}.get(interval)


def _customer_id(tenant: Tenant, user: User) -> str:
    acct = account(tenant.id, create=True)
    if not acct.stripe_customer_id:
        customer = _stripe_call(_stripe().v1.customers.create, params={
            "name": acct.company_name or tenant.name, "email": user.email,
            "metadata": {"tenant_id": str(tenant.id)}})
        acct.stripe_customer_id = customer.id
        db.session.flush()
    return acct.stripe_customer_id


def start_checkout(tenant: Tenant, user: User, interval: str, seats: int) -> str:
    """Create a Stripe Checkout session for the Team plan; returns its URL. Raises BillingError."""
    if not user.is_admin:
        raise NotAllowed(_l("Only owners and admins manage billing."))
    price = price_for(interval)
    if interval not in INTERVALS or not price:
        raise BillingError(_l("This billing period is not offered."))
    with tenant_context(tenant.id):
        used = seats_used()
    if seats < used or seats > 1000:
        raise SeatsInvalid(_l("Choose between %(low)d and %(high)d seats (you have %(low)d active users).",
                              low=used, high=1000))
    customer = _customer_id(tenant, user)
    meta = {"tenant_id": str(tenant.id), "seats": str(seats), "interval": interval}
    params = {"customer": customer, "client_reference_id": str(tenant.id), "metadata": meta,
              "line_items": [{"price": price, "quantity": seats}],
              "success_url": url_for("billing.index", checkout="success", _external=True),
              "cancel_url": url_for("billing.index", checkout="cancelled", _external=True),
              "locale": "zh" if user.language == "zh_CN" else "en"}
    if interval == "once":
        # One year paid at once: Alipay and WeChat Pay can pay this where the Stripe account offers them.
        params.update(mode="payment", payment_method_types=["card", "alipay", "wechat_pay"],
                      payment_method_options={"wechat_pay": {"client": "web"}},
                      payment_intent_data={"metadata": meta})
    else:
        # Subscriptions use the payment methods enabled in the Stripe Dashboard that support recurring payments.
        params.update(mode="subscription", subscription_data={"metadata": meta})
    session = _stripe_call(_stripe().v1.checkout.sessions.create, params=params)
    return session.url


def portal_url(tenant: Tenant, user: User) -> str:
    """A Stripe Customer Portal session (seats, payment method, cancellation); raises BillingError."""
    if not user.is_admin:
        raise NotAllowed(_l("Only owners and admins manage billing."))
    acct = account(tenant.id)
    if acct is None or not acct.stripe_customer_id:
        raise BillingError(_l("There is no subscription to manage yet. Upgrade first."))
    session = _stripe_call(_stripe().v1.billing_portal.sessions.create, params={
        "customer": acct.stripe_customer_id, "return_url": url_for("billing.index", _external=True)})
    return session.url


# ---------------------------------------------------------------- webhooks

def verify(payload: bytes, signature: str | None) -> dict:
    """The event of a webhook request whose signature verifies within Stripe's 300 s tolerance."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret or not signature:
        raise BadSignature("missing")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=300)
        event = json.loads(text)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as e:
        raise BadSignature(str(e))
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not 0 < len(event["id"]) <= 255 \
            or not isinstance(event.get("data"), dict):
        raise BadSignature("not an event")
    return event


def _int(value, default=0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _extract(kind: str, obj: dict) -> dict:
    """The few values of a Stripe object the plan is computed from."""
    meta = obj.get("metadata") or {}
    if kind == "checkout.session.completed":
        return {"mode": obj.get("mode"), "payment_status": obj.get("payment_status"),
                "subscription": obj.get("subscription"), "seats": meta.get("seats"), "interval": meta.get("interval")}
    if kind.startswith("customer.subscription."):
        item = ((obj.get("items") or {}).get("data") or [{}])[0]
        recurring = (item.get("price") or {}).get("recurring") or {}
        return {"id": obj.get("id"), "status": obj.get("status"), "seats": _int(item.get("quantity"), 1),
                "interval": recurring.get("interval") or "",
                "period_end": _int(obj.get("current_period_end")) or _int(item.get("current_period_end")),
                "cancel_at_period_end": bool(obj.get("cancel_at_period_end"))}
    if kind.startswith("invoice."):
        return {"id": obj.get("id"), "number": obj.get("number") or "", "amount": _int(obj.get("amount_paid"))
                or _int(obj.get("amount_due")), "currency": obj.get("currency") or "cny",
                "hosted_url": obj.get("hosted_invoice_url") or "", "pdf_url": obj.get("invoice_pdf") or "",
                "created": _int(obj.get("created"))}
    return {}


def _tenant_for(obj: dict) -> int | None:
    """The tenant an event belongs to: by the Stripe customer we made for it, else by our own metadata."""
    customer = obj.get("customer") if isinstance(obj.get("customer"), str) else None
    if customer:
        tid = db.session.execute(all_tenants(select(BillingAccount.tenant_id)
                                             .where(BillingAccount.stripe_customer_id == customer))).scalar()
        if tid:
            return tid
    candidates = [obj.get("client_reference_id"), (obj.get("metadata") or {}).get("tenant_id"),
                  ((obj.get("subscription_details") or {}).get("metadata") or {}).get("tenant_id"),
                  (((obj.get("parent") or {}).get("subscription_details") or {}).get("metadata") or {}).get("tenant_id")]
    for raw in candidates:
        if isinstance(raw, str) and raw.isdecimal() and len(raw) < 10 and db.session.get(Tenant, int(raw)):
            return int(raw)
    return None


def handle_event(event: dict) -> str:
    """Apply a verified event once: "applied", "duplicate" or "ignored" (a type or tenant we don't know).
    The caller commits."""
    kind = event.get("type")
    if kind not in HANDLED_EVENTS:
        return "ignored"
    if db.session.get(BillingEvent, event["id"]) is not None:
        return "duplicate"
    obj = (event.get("data") or {}).get("object") or {}
    customer = obj.get("customer") if isinstance(obj.get("customer"), str) else None
    tenant_id = _tenant_for(obj)
    try:
        with db.session.begin_nested():
            db.session.add(BillingEvent(id=event["id"], type=kind, tenant_id=tenant_id, customer=customer,
                                        created=_int(event.get("created")), data=_extract(kind, obj)))
    except IntegrityError:
        return "duplicate"  # the same event, delivered twice at once
    if tenant_id is None:
        current_app.logger.warning("Stripe event %s (%s) names no tenant of ours", event["id"], kind)
        return "ignored"
    if customer:  # events that arrived before the customer was known to be this tenant's
        db.session.execute(update(BillingEvent).where(BillingEvent.customer == customer,
                                                      BillingEvent.tenant_id.is_(None)).values(tenant_id=tenant_id))
    with tenant_context(tenant_id):
        acct = account(tenant_id, create=True)
        if customer and not acct.stripe_customer_id:
            acct.stripe_customer_id = customer
        if kind.startswith("invoice."):
            _record_invoice(kind, _extract(kind, obj))
        recompute(acct)
    return "applied"


def _record_invoice(kind: str, data: dict) -> None:
    if not data.get("id"):
        return
    row = db.session.execute(select(BillingInvoice).where(BillingInvoice.stripe_id == data["id"])).scalar_one_or_none()
    if row is None:
        row = BillingInvoice(stripe_id=data["id"], status="")
        db.session.add(row)
    if row.status != "paid":  # a paid invoice stays paid, whatever arrives after
        row.status = "paid" if kind == "invoice.paid" else "failed"
    row.number = data["number"] or row.number
    row.amount, row.currency = data["amount"], data["currency"]
    row.hosted_url, row.pdf_url = data["hosted_url"][:1000], data["pdf_url"][:1000]
    row.created = _ts(data["created"]) or utcnow()


def _ts(seconds: int) -> datetime | None:
    return datetime.fromtimestamp(seconds, timezone.utc) if seconds else None


def recompute(acct: BillingAccount) -> None:
    """The plan as the fold of the tenant's events in time order (ties by kind): replaying an event, or
    receiving them shuffled, ends in the same state."""
    # One webhook at a time per tenant (PostgreSQL row lock): a concurrent delivery then sees this one's event.
    db.session.execute(select(BillingAccount.id).where(BillingAccount.id == acct.id).with_for_update())
    events = db.session.execute(all_tenants(select(BillingEvent).where(BillingEvent.tenant_id == acct.tenant_id))
                                ).scalars().all()
    events.sort(key=lambda e: (e.created, HANDLED_EVENTS.get(e.type, 0), e.id))
    grace = timedelta(days=current_app.config["BILLING_GRACE_DAYS"])
    s = {"plan": "free", "status": "", "interval": "", "seats": 0, "subscription": None, "period_end": None,
         "cancel": False, "failing_since": None}

    def failing(t):
        if s["failing_since"] is None:
            s["failing_since"] = t

    def recovered():
        s["failing_since"] = None

    for e in events:
        d, t = e.data or {}, e.created
        if e.type == "checkout.session.completed":
            if d.get("mode") == "payment" and d.get("payment_status") == "paid":
                s.update(plan="team", status="paid", interval="once", subscription=None, cancel=False,
                         seats=int(d["seats"]) if str(d.get("seats") or "").isdecimal() else 1,
                         period_end=t + 366 * 86400)
                recovered()
            elif d.get("mode") == "subscription":
                s["subscription"] = d.get("subscription") or s["subscription"]
                if d.get("payment_status") in ("paid", "no_payment_required") and s["plan"] == "free":
                    s.update(plan="team", status="active", interval=d.get("interval") or s["interval"],
                             seats=int(d["seats"]) if str(d.get("seats") or "").isdecimal() else max(s["seats"], 1))
        elif e.type in ("customer.subscription.created", "customer.subscription.updated"):
            status = d.get("status") or ""
            s.update(subscription=d.get("id"), status=status, seats=d.get("seats") or 1,
                     interval=d.get("interval") or s["interval"], period_end=d.get("period_end") or s["period_end"],
                     cancel=d.get("cancel_at_period_end", False))
            if status in TEAM_STATUSES:
                s["plan"] = "team"
            elif status in ("canceled", "incomplete_expired"):
                s["plan"] = "free"
            if status in FAILING_STATUSES:
                failing(t)
            elif status in ("active", "trialing", "canceled", "incomplete_expired"):
                recovered()
        elif e.type == "customer.subscription.deleted":
            if d.get("id") == s["subscription"] or s["interval"] != "once":
                s.update(plan="free", status="canceled", subscription=None, seats=0, cancel=False, period_end=None)
                recovered()
        elif e.type == "invoice.payment_failed":
            if s["plan"] == "team" and s["interval"] != "once":
                s["status"] = "past_due"
                failing(t)
        elif e.type == "invoice.paid":
            if s["status"] in FAILING_STATUSES:
                s["status"] = "active"
            recovered()
    acct.plan, acct.status, acct.interval, acct.seats = s["plan"], s["status"], s["interval"], s["seats"]
    acct.stripe_subscription_id = s["subscription"]
    acct.current_period_end = _ts(s["period_end"]) if s["period_end"] else None
    acct.cancel_at_period_end = s["cancel"]
    acct.past_due_since = _ts(s["failing_since"]) if s["failing_since"] is not None else None
    acct.grace_until = acct.past_due_since + grace if acct.past_due_since else None
    db.session.flush()

