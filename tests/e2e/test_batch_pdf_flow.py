"""Batch export as a user runs it: tick rows on the list, export them as one PDF and watch the progress bar turn into
a download (1366 px); on a phone, export the filtered list from its own page (390 px). Jobs run in a background
thread here, as without Redis, so the bar really polls."""
import pytest

from tests import factories
from tests.e2e.conftest import shot
from tests.e2e.test_client_flow import _sign_in
from tests.sharing.conftest import FIELDS, SECRET_HOME, pdf_text

pytestmark = pytest.mark.e2e


@pytest.fixture()
def threaded_jobs(app, monkeypatch):
    from app import jobs

    monkeypatch.setattr(jobs, "redis_client", lambda: None)  # the thread path, even where CI sets REDIS_URL
    app.config["JOBS_EAGER"] = False
    try:
        yield
    finally:
        app.config["JOBS_EAGER"] = True


def test_tick_rows_export_one_pdf_and_download_it(live_server, page, tenant_a, threaded_jobs, tmp_path):
    for name in ("上海华光科技有限公司", "杭州新禾贸易有限公司", "苏州远景电子有限公司"):
        factories.client(tenant_a, name, fields=FIELDS)
    page.set_viewport_size({"width": 1366, "height": 900})
    _sign_in(page, live_server, "owner@a.example")
    page.goto(f"{live_server}/clients/")
    boxes = page.locator("input[name=ids]")
    boxes.nth(0).check()
    boxes.nth(2).check()
    page.click("[data-testid=bulk-pdf]")
    page.wait_for_selector("#pdf-batch [data-testid=batch-job]")
    shot(page, "50-batch-started-1366")
    link = page.locator("#pdf-batch a.button.primary")
    link.wait_for(timeout=60_000)
    shot(page, "51-batch-done-1366")
    with page.expect_download() as download:
        link.click()
    path = tmp_path / "batch.pdf"
    download.value.save_as(path)
    assert download.value.suggested_filename.endswith(".pdf")
    text = pdf_text(path.read_bytes())
    assert text.count("客户资料卡") >= 2 and SECRET_HOME not in text
    assert "杭州新禾贸易有限公司" not in text  # the row in the middle was not ticked


def test_export_the_list_as_a_zip_on_a_phone(live_server, browser, tenant_a, threaded_jobs, tmp_path):
    factories.client(tenant_a, "上海华光科技有限公司", fields=FIELDS)
    factories.client(tenant_a, "苏州远景电子有限公司", fields=FIELDS)
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    try:
        page = context.new_page()
        _sign_in(page, live_server, "owner@a.example")
        page.goto(f"{live_server}/clients/")
        page.locator("input[name=ids]").nth(0).check()  # on a phone the bulk bar shows once a row is ticked
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "52-list-selected-390")
        page.click("[data-testid=export-menu] summary")
        page.click("[data-testid=export-pdf]")
        page.wait_for_selector("[data-testid=batch-form]")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "53-batch-form-390")
        page.check("input[name=format][value=zip]")
        page.click("[data-testid=start-batch]")
        page.wait_for_selector("[data-testid=batch-job]")
        link = page.locator("[data-testid=batch-job] a.button.primary")
        link.wait_for(timeout=60_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "54-batch-done-390")
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename.endswith(".zip")
    finally:
        context.close()
