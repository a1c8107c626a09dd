"""The sharing issue's "done when", as a new user would: export a card as PDF before a meeting, share its brief with
a colleague, open the link on a phone-sized screen (WeChat's browser), revoke it, and see the views in the view log."""
import pytest

from tests.e2e.conftest import shot
from tests.e2e.test_client_flow import _sign_in
from tests.sharing.conftest import FIELDS, SECRET_HOME

pytestmark = pytest.mark.e2e
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN")


def test_pdf_share_phone_revoke_view_log(live_server, page, browser, tenant_a, tmp_path):
    from sqlalchemy import inspect

    from tests import factories
    from tests.sharing.conftest import pdf_text

    card_id = inspect(factories.client(tenant_a, "上海华光科技有限公司", fields=FIELDS)).identity[0]
    page.set_viewport_size({"width": 1366, "height": 900})
    _sign_in(page, live_server, "owner@a.example")
    page.goto(f"{live_server}/clients/{card_id}")
    page.click("[data-testid=pdf-link]")
    page.wait_for_selector("[data-testid=export-form]")
    shot(page, "40-export-form-1366")
    with page.expect_download() as download:
        page.click("[data-testid=download-pdf]")
    path = tmp_path / "card.pdf"
    download.value.save_as(path)
    text = pdf_text(path.read_bytes())
    assert "上海华光科技有限公司" in text and SECRET_HOME not in text

    page.goto(f"{live_server}/clients/{card_id}")
    page.click("[data-testid=share-tab]")
    page.fill("#share-label", "财务部李姐")
    page.click("[data-testid=create-link]")
    url = page.locator("[data-testid=new-link-url]").input_value()
    assert "/s/" in url
    shot(page, "41-share-panel-1366")

    phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, user_agent=WECHAT_UA,
                                is_mobile=True, has_touch=True)
    try:
        mobile = phone.new_page()
        r = mobile.goto(url)
        assert r.status == 200
        assert "羊毛衫" in mobile.content() and SECRET_HOME not in mobile.content()
        width = mobile.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the share page scrolls sideways on a phone ({width}px)"
        shot(mobile, "42-shared-brief-390")

        page.click("[data-testid=revoke-link]")
        page.wait_for_load_state()
        r = mobile.goto(url)
        assert r.status == 410
        shot(mobile, "43-link-ended-390")
    finally:
        phone.close()

    page.goto(f"{live_server}/clients/{card_id}/views")
    log = page.locator("[data-testid=view-log]").inner_text()
    assert "财务部李姐" in log
    shot(page, "44-view-log-1366")
