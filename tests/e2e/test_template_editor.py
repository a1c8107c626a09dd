"""The card-template issue's "done when", in a real browser: add a field with options, move it, rename it,
archive and restore it — without a page reload; labels with markup stay text."""
import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e


def test_add_move_rename_archive_restore_a_field_without_reload(live_server, page, tenant_a):
    page.goto(f"{live_server}/login")
    page.fill("#email", "owner@a.example")
    page.fill("#password", factories.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")
    page.goto(f"{live_server}/template")
    page.evaluate("window.__noReload = true")

    page.fill("#nf-basic", "客户来源")
    page.select_option("#nt-basic", "select")
    page.click("form.tpl-add-field:has(#nf-basic) button[type=submit]")
    panel_label = page.locator("#fp-label")
    expect(panel_label).to_have_value("客户来源")
    for option in ("展会", "转介绍", "<b>官网</b>"):
        page.fill("#fo-new", option)
        page.click("form:has(#fo-new) button[type=submit]")
        expect(page.locator(f"input[type=text][id^=fo-][value='{option}']")).to_have_count(1)
    preview = page.locator("#template-preview")
    expect(preview.locator("option", has_text="<b>官网</b>")).to_have_count(1)  # markup shows as text
    shot(page, "20-template-field-added")

    row = page.locator(".tpl-field", has_text="客户来源")
    before = page.locator("ul[data-section=basic] .tpl-field").all_inner_texts()
    row.locator("button[data-move=up]").click()
    expect(page.locator("ul[data-section=basic] .tpl-field").nth(len(before) - 2)).to_contain_text("客户来源")

    page.fill("#fp-label", "获客渠道")
    page.click("button:has-text('保存字段')")
    expect(page.locator(".tpl-field", has_text="获客渠道")).to_have_count(1)

    page.locator(".tpl-field", has_text="获客渠道").locator("button:has-text('归档')").click()
    expect(page.locator("ul[data-section=basic] .tpl-field", has_text="获客渠道")).to_have_count(0)
    archived = page.locator("[data-testid=archived]")
    archived.locator("summary").click()
    archived.locator("li", has_text="获客渠道").locator("button").click()
    expect(page.locator("ul[data-section=basic] .tpl-field", has_text="获客渠道")).to_have_count(1)
    assert page.evaluate("window.__noReload") is True
    shot(page, "21-template-field-restored")
