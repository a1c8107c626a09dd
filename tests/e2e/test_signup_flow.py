"""Sign up, sign out, sign in and switch language, as a new user would, in a real browser."""
import time

import pytest

from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e


def test_new_company_signs_up_logs_out_logs_in_and_switches_language(live_server, page):
    started = time.monotonic()
    page.goto(f"{live_server}/signup")
    assert page.locator("h1").inner_text() == "创建公司账号"
    shot(page, "01-signup")
    page.fill("#company", "杭州云帆贸易有限公司")
    page.fill("#name", "陈晓明")
    page.fill("#email", "chen@yunfan.example")
    page.fill("#password", "weak")
    page.click("main button[type=submit]")
    assert "至少" in page.locator(".field-error").first.inner_text()  # weak password, said in Chinese
    page.fill("#password", "yun-fan-2026!")
    page.check("input[name=template][value=relationship]")
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")
    assert time.monotonic() - started < 60
    assert "陈晓明" in page.locator("h1").inner_text()
    shot(page, "02-home-zh")

    page.click("[data-testid=logout]")
    page.wait_for_url("**/login")
    assert "已退出" in page.locator(".flash").inner_text()
    page.fill("#email", "CHEN@yunfan.example")
    page.fill("#password", "wrong-password-1")
    page.click("main button[type=submit]")
    assert "邮箱或密码错误" in page.locator(".field-error").inner_text()
    page.fill("#password", "yun-fan-2026!")
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")

    page.click("[data-testid=lang-switch]")
    page.wait_for_load_state()
    assert "Hello, 陈晓明" in page.locator("h1").inner_text()
    assert page.locator("nav.mainnav").inner_text().startswith("Home")
    shot(page, "03-home-en")
    page.goto(f"{live_server}/home")  # the choice is kept for this user
    assert "Hello" in page.locator("h1").inner_text()
