"""The phone-first issue's "done when", walked as a new user on a 390 × 844 screen in Chinese: sign up, fill the
first card from the home page's first steps, find it again by pinyin initials and by full pinyin, and sort the
list by name in pinyin order."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e


def _shot(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"first-hour-{name}.png"), full_page=False)


def _fits(page, what):
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{what}: the page is {width}px wide in a {viewport}px window"


def _new_client(page, name, phone):
    page.fill("#client-name", name)
    page.select_option("#f-industry", index=1)  # the three required fields of the default card
    page.fill("#f-contact_name", "张伟")
    page.fill("#f-contact_phone", phone)
    assert page.get_attribute("#f-contact_phone", "type") == "tel"  # the phone keyboard
    page.click("main button[type=submit].primary")
    page.wait_for_load_state()
    if not page.locator("[data-testid=client-card]").count():
        raise AssertionError(page.locator(".field-error, .flash").all_inner_texts())
    _fits(page, f"card of {name}")


def test_first_hour_on_a_phone(live_server, browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{live_server}/signup")
        _fits(page, "signup")
        page.fill("#company", "郑州远景商贸有限公司")
        page.fill("#name", "王丽")
        page.fill("#email", "wangli@yuanjing.example")
        page.fill("#password", "yuan-jing-2026!")
        page.click("main button[type=submit]")  # the default template: the practical one
        page.wait_for_url("**/home")
        steps = page.locator("[data-testid=first-steps]")
        expect(steps).to_be_visible()
        assert page.locator("[data-testid=step-client]").get_attribute("data-done") == "false"
        _fits(page, "home")
        _shot(page, "home")

        page.click("[data-testid=step-client] a")
        page.wait_for_url("**/clients/new")
        _fits(page, "new client")
        _shot(page, "new-client")
        _new_client(page, "郑州中联重工有限公司", "138 0013 8000")
        _shot(page, "first-card")

        page.goto(f"{live_server}/home")
        assert page.locator("[data-testid=step-client]").get_attribute("data-done") == "true"

        for name, phone in (("北京华光科技有限公司", "139 1000 2000"), ("安徽信辰物流有限公司", "0551-6288 1234")):
            page.goto(f"{live_server}/clients/new")
            _new_client(page, name, phone)

        page.goto(f"{live_server}/clients?q=zl")  # pinyin initials of 中联
        rows = page.locator("[data-testid=client-row]")
        expect(rows).to_have_count(1)
        assert "郑州中联重工有限公司" in rows.inner_text()
        page.goto(f"{live_server}/clients?q=zhonglian")  # full pinyin
        expect(rows).to_have_count(1)
        _fits(page, "search")
        _shot(page, "search-pinyin")

        page.goto(f"{live_server}/clients?sort=name&dir=asc")
        names = [n.strip() for n in page.locator("[data-testid=client-row] a.client-name, "
                                                  "[data-testid=client-row] a").all_inner_texts() if "公司" in n]
        assert names[:3] == ["安徽信辰物流有限公司", "北京华光科技有限公司", "郑州中联重工有限公司"], names
        _fits(page, "list sorted by name")
        _shot(page, "sorted-by-name")
    finally:
        context.close()
    assert not errors, errors
