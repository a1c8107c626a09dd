"""Billing as a new owner meets it, in a real browser: the client limit on Free with its upgrade link, the billing
page, Checkout (Stripe's page stubbed in the browser, its API faked at the HTTP client), the signed webhook, then
the next client created; and the read-only banner. Screenshots at phone and desktop width."""
import time

import pytest

from tests import factories
from tests.billing.conftest import Events, billing_on, fake_stripe, post_event  # noqa: F401  (fixtures)
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e


def _sign_in(page, base, email):
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", factories.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")


@pytest.mark.parametrize("width", [390, 1366])
def test_limit_upgrade_and_the_next_client(app, client, live_server, page, billing_on, tenant_a, width):  # noqa: F811
    app.config["FREE_MAX_CLIENTS"] = 2
    factories.client(tenant_a, "已有客户一")
    factories.client(tenant_a, "已有客户二")
    page.set_viewport_size({"width": width, "height": 900})
    page.route("https://checkout.stripe.com/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<title>Stripe Checkout</title><p>Stripe Checkout (test)</p>"))
    _sign_in(page, live_server, "owner@a.example")

    page.goto(f"{live_server}/clients/new")
    page.fill("#client-name", "第三个客户")
    page.fill("#f-business_phone", "021-5588 1234")
    page.select_option("#f-industry", index=1)
    page.click("main button[type=submit].primary")
    limit = page.locator("[data-testid=limit-reached]")
    limit.wait_for()
    assert "2" in limit.inner_text()
    assert page.input_value("#client-name") == "第三个客户"  # nothing typed is lost
    shot(page, f"40-client-limit-{width}")

    limit.locator("a").click()
    page.wait_for_url("**/billing/#upgrade")
    assert page.locator("[data-testid=plan-name]").count() == 1
    shot(page, f"41-billing-free-{width}")
    page.fill("#seats", "3")
    page.click("#upgrade button[type=submit]")
    page.wait_for_url("https://checkout.stripe.com/**")
    session = billing_on.calls("/v1/checkout/sessions")[0]
    assert session["client_reference_id"] == str(tenant_a.id) and session["line_items[0][quantity]"] == "3"

    # Stripe tells us the payment went through.
    ev = Events(tenant_a.id, session["customer"])
    now = int(time.time())
    # (Dated 40 days back so that the failed payment below can be 20 days old: past the grace period.)
    assert post_event(client, ev.checkout_completed(now - 40 * 86400, seats=3)).status_code == 200
    assert post_event(client, ev.subscription("created", now - 40 * 86400 + 1, seats=3)).status_code == 200
    page.goto(f"{live_server}/billing/?checkout=success")
    assert page.locator("#billing-plan").get_attribute("data-plan") == "team"
    shot(page, f"42-billing-team-{width}")

    page.goto(f"{live_server}/clients/new")
    page.fill("#client-name", "第三个客户")
    page.fill("#f-business_phone", "021-5588 1234")
    page.select_option("#f-industry", index=1)
    page.click("main button[type=submit].primary")
    page.wait_for_selector("[data-testid=client-card]")

    # A payment fails long enough ago: the banner says read-only, and there is no edit button.
    post_event(client, ev.invoice("payment_failed", now - 20 * 86400))
    page.reload()
    banner = page.locator("[data-testid=billing-banner]")
    banner.wait_for()
    assert page.locator("[data-testid=edit]").count() == 0
    shot(page, f"43-read-only-{width}")
