"""Upgrading through Stripe Checkout, the Customer Portal and the billing page; Stripe faked at its HTTP client,
network errors and Stripe's error answers included (a clear message, the plan unchanged)."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from app.billing.models import BillingAccount
from app.extensions import db as _db
from app.tenancy import tenant_context
from tests import factories
from tests.billing.conftest import Events, billing_state, post_event


def test_billing_page_shows_plan_seats_and_limits(login, billing_on, tenant_a):
    html = login(tenant_a.owner).get("/billing/").get_data(as_text=True)
    assert 'data-plan="free"' in html
    assert 'data-testid="seats">1 / 3' in html
    assert "/ 200" in html  # client cards
    assert 'action="/billing/checkout"' in html and 'name="seats"' in html
    assert 'value="once"' in html  # a year paid at once, with Alipay and WeChat Pay


def test_checkout_carries_the_tenant_and_goes_to_stripe(login, billing_on, tenant_a):
    b = login(tenant_a.owner)
    r = b.post("/billing/checkout", data={"interval": "year", "seats": "4"})
    assert r.status_code == 303 and r.headers["Location"].startswith("https://checkout.stripe.com/")
    customer, = billing_on.calls("/v1/customers")
    assert customer["metadata[tenant_id]"] == str(tenant_a.id)
    session, = billing_on.calls("/v1/checkout/sessions")
    assert session["client_reference_id"] == str(tenant_a.id)
    assert session["metadata[tenant_id]"] == str(tenant_a.id)
    assert session["subscription_data[metadata][tenant_id]"] == str(tenant_a.id)
    assert session["mode"] == "subscription"
    assert session["line_items[0][price]"] == "price_year_test" and session["line_items[0][quantity]"] == "4"
    assert session["customer"].startswith("cus_fake")
    with tenant_context(tenant_a.id):
        assert _db.session.execute(select(BillingAccount.stripe_customer_id)).scalar_one() == session["customer"]
    # A second checkout reuses the customer.
    b.post("/billing/checkout", data={"interval": "month", "seats": "4"})
    assert len(billing_on.calls("/v1/customers")) == 1
    # The plan changes only when Stripe says so (the webhook), not on the way to Checkout.
    assert billing_state(tenant_a.id)["plan"] == "free"


def test_a_year_paid_once_offers_alipay_and_wechat_pay(login, billing_on, tenant_a):
    r = login(tenant_a.owner).post("/billing/checkout", data={"interval": "once", "seats": "2"})
    assert r.status_code == 303
    session, = billing_on.calls("/v1/checkout/sessions")
    assert session["mode"] == "payment"
    assert [session[f"payment_method_types[{i}]"] for i in range(3)] == ["card", "alipay", "wechat_pay"]
    assert session["payment_method_options[wechat_pay][client]"] == "web"


def test_checkout_from_htmx_answers_hx_redirect(login, billing_on, tenant_a, hx):
    r = login(tenant_a.owner).post("/billing/checkout", data={"interval": "month", "seats": "1"}, headers=hx)
    assert r.status_code == 204 and r.headers["HX-Redirect"].startswith("https://checkout.stripe.com/")


def test_full_width_seat_numbers_are_understood(login, billing_on, tenant_a):
    r = login(tenant_a.owner).post("/billing/checkout", data={"interval": "month", "seats": "２"})
    assert r.status_code == 303
    assert billing_on.calls("/v1/checkout/sessions")[0]["line_items[0][quantity]"] == "2"


@pytest.mark.parametrize("seats", ["", "0", "abc", "1001", "-1", "2.5"])
def test_bad_seat_numbers_are_refused_next_to_the_field(login, billing_on, tenant_a, seats):
    r = login(tenant_a.owner).post("/billing/checkout", data={"interval": "month", "seats": seats})
    assert r.status_code == 422 and 'class="field-error"' in r.get_data(as_text=True)
    assert billing_on.calls("/v1/checkout/sessions") == []


def test_fewer_seats_than_active_users_is_refused(login, billing_on, tenant_a):
    factories.user(tenant_a, "m1@a.example")
    r = login(tenant_a.owner).post("/billing/checkout", data={"interval": "month", "seats": "1"})
    assert r.status_code == 422 and "2" in r.get_data(as_text=True)
    assert billing_on.requests == []


def test_an_unoffered_interval_is_refused(login, billing_on, tenant_a, app):
    app.config["STRIPE_PRICE_YEAR_ONCE"] = None
    r = login(tenant_a.owner).post("/billing/checkout", data={"interval": "once", "seats": "1"})
    assert r.status_code == 422 and billing_on.requests == []


@pytest.mark.parametrize("failure,status,words", [
    ("network", 502, "could not reach"),
    ((402, "card_error", "card_declined", "Your card was declined."), 422, "Your card was declined."),
    ((400, "invalid_request_error", "resource_missing", "No such price: 'price_year_test'"), 422, "refused"),
    ((500, "api_error", None, "Something went wrong on Stripe's end."), 422, "refused"),
])
def test_stripe_failures_give_a_clear_message_and_change_nothing(login, billing_on, tenant_a, failure, status,
                                                                 words):
    billing_on.fail = failure
    b = login(tenant_a.owner)
    b.post("/account", data={"name": "老板", "language": "en"})  # the English messages are asserted
    r = b.post("/billing/checkout", data={"interval": "year", "seats": "2"})
    html = r.get_data(as_text=True)
    assert r.status_code == status
    assert 'data-testid="checkout-error"' in html and words in html
    assert billing_state(tenant_a.id)["plan"] == "free"
    with tenant_context(tenant_a.id):
        acct = _db.session.execute(select(BillingAccount)).scalar_one_or_none()
        assert acct is None or acct.stripe_customer_id is None


def test_a_network_error_is_retried_when_configured(login, billing_on, tenant_a, app):
    app.config["STRIPE_NETWORK_RETRIES"] = 1
    billing_on.fail = "network"
    login(tenant_a.owner).post("/billing/checkout", data={"interval": "year", "seats": "2"})
    assert len(billing_on.calls("/v1/customers")) == 2  # the first try and one retry


def test_portal_needs_a_customer_then_opens(login, client, billing_on, tenant_a):
    b = login(tenant_a.owner)
    r = b.post("/billing/portal")
    assert r.status_code == 422 and billing_on.requests == []
    b.post("/billing/checkout", data={"interval": "month", "seats": "1"})
    post_event(client, Events(tenant_a.id, billing_on.calls("/v1/checkout/sessions")[0]["customer"])
               .checkout_completed(int(time.time())))
    r = b.post("/billing/portal")
    assert r.status_code == 303 and r.headers["Location"].startswith("https://billing.stripe.com/")
    portal, = billing_on.calls("/v1/billing_portal/sessions")
    assert portal["return_url"].endswith("/billing/")


def test_portal_network_error_is_a_clear_message(login, billing_on, tenant_a):
    b = login(tenant_a.owner)
    b.post("/billing/checkout", data={"interval": "month", "seats": "1"})
    billing_on.fail = "network"
    r = b.post("/billing/portal")
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True)


def test_invoice_details_are_kept_and_checked(login, billing_on, tenant_a):
    b = login(tenant_a.owner)
    r = b.post("/billing/details", data={"company_name": "甲公司", "tax_id": "91310000ma1k8abc1x", "address": "上海"})
    assert r.status_code == 302
    html = b.get("/billing/").get_data(as_text=True)
    assert 'value="91310000MA1K8ABC1X"' in html
    r = b.post("/billing/details", data={"company_name": "甲公司", "tax_id": "123", "address": ""})
    assert r.status_code == 422 and 'value="123"' in r.get_data(as_text=True)
    with tenant_context(tenant_a.id):
        assert _db.session.execute(select(BillingAccount.tax_id)).scalar_one() == "91310000MA1K8ABC1X"


def test_the_customer_gets_the_invoice_company_name(login, billing_on, tenant_a):
    b = login(tenant_a.owner)
    b.post("/billing/details", data={"company_name": "甲公司（开票）", "tax_id": "", "address": ""})
    b.post("/billing/checkout", data={"interval": "month", "seats": "1"})
    assert billing_on.calls("/v1/customers")[0]["name"] == "甲公司（开票）"


def test_members_and_viewers_cannot_open_billing(login, billing_on, tenant_a):
    for role in ("member", "viewer"):
        b = login(factories.user(tenant_a, f"{role}@a.example", role))
        assert b.get("/billing/").status_code == 403
        assert b.post("/billing/checkout", data={"interval": "month", "seats": "2"}).status_code == 403
    assert billing_on.requests == []


def test_billing_is_off_without_a_secret_key(login, tenant_a):
    b = login(tenant_a.owner)
    assert b.get("/billing/").status_code == 404
    assert b.post("/billing/checkout", data={"interval": "month", "seats": "1"}).status_code == 404
    assert "/billing/" not in b.get("/home").get_data(as_text=True)


def test_another_tenants_billing_is_never_shown(login, client, billing_on, tenant_a, tenant_b):
    from tests.billing.conftest import link_customer

    link_customer(tenant_b.id, "cus_b")
    post_event(client, Events(tenant_b.id, "cus_b").checkout_completed(int(time.time()), seats=9))
    html = login(tenant_a.owner).get("/billing/").get_data(as_text=True)
    assert 'data-plan="free"' in html and "/ 9" not in html
