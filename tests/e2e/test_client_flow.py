"""The client-card issue's "done when", in a real browser: create a client, find it by part of its name and by
phone, edit two sections, see every change in history with before and after, archive and restore it."""
import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e


def _sign_in(page, base, email):
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", factories.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")


def test_create_find_edit_history_archive_restore(live_server, page, tenant_a):
    factories.client(tenant_a, "北京远航物流有限公司")
    _sign_in(page, live_server, "owner@a.example")
    page.goto(f"{live_server}/clients/new")
    page.fill("#client-name", "上海华光科技有限公司")
    page.fill("#f-business_phone", "021-5588 1234")
    page.select_option("#f-industry", index=1)
    shot(page, "10-new-client")
    page.click("main button[type=submit].primary")
    page.wait_for_selector("[data-testid=client-card]")
    number = page.locator("[data-testid=card-header]").inner_text()
    assert "上海华光科技有限公司" in number

    # Find it by part of its name, then by phone digits, with the active search.
    page.goto(f"{live_server}/clients")
    page.fill("#client-q", "华光")
    expect(page.locator("[data-testid=client-row]")).to_have_count(1)
    page.wait_for_url("**q=%E5%8D%8E%E5%85%89*")  # the list state is in the URL
    page.fill("#client-q", "02155881234")
    page.wait_for_url("**q=02155881234*")
    rows = page.locator("[data-testid=client-row]")
    assert rows.count() == 1 and "华光" in rows.inner_text()
    shot(page, "11-search-by-phone")
    page.click("[data-testid=client-row] a")
    page.wait_for_selector("[data-testid=client-card]")
    page.wait_for_load_state("networkidle")  # the follow-up timeline loads after the page and moves the sections

    # Edit two sections in place (no page reload: a marker on window survives).
    page.evaluate("window.__noReload = true")
    page.click("[data-testid=section-basic] [data-testid=edit]")
    page.fill("#f-address", "上海市浦东新区张江路88号")
    page.fill("#f-website", "www.huaguang.example")
    page.click("[data-testid=section-basic] [data-testid=save]")
    page.wait_for_selector("[data-testid=section-basic] >> text=上海市浦东新区张江路88号")
    page.click("[data-testid=section-staff] [data-testid=edit]")
    page.fill("#f-staff_total", "1.2万")
    page.click("[data-testid=section-staff] [data-testid=save]")
    page.wait_for_selector("[data-testid=section-staff] >> text=12,000")
    assert page.evaluate("window.__noReload") is True
    shot(page, "12-card-edited")

    page.click("[data-testid=tab-history]")
    history = page.locator("[data-testid=history]")
    history.wait_for()
    text = history.inner_text()
    assert "上海市浦东新区张江路88号" in text and "https://www.huaguang.example" in text and "12,000" in text
    shot(page, "13-history")

    page.click("[data-testid=tab-card]")
    page.on("dialog", lambda d: d.accept())
    page.click("[data-testid=archive]")
    page.wait_for_selector("[data-testid=archived-banner]")
    page.goto(f"{live_server}/clients?q=华光")
    assert page.locator("[data-testid=client-row]").count() == 0  # archived cards leave the list
    page.go_back()
    page.click("[data-testid=restore]")
    page.wait_for_selector("[data-testid=archived-banner]", state="detached")
    page.goto(f"{live_server}/clients?q=华光")
    assert page.locator("[data-testid=client-row]").count() == 1
