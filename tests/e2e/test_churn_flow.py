"""Moving a client to 流失 asks why, in place (card header, bulk bar); grading by points on the settings page; at
phone and desktop width."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import inspect, select

from app.clients.models import ClientChange
from app.extensions import db
from app.tenancy import tenant_context
from tests import factories
from tests.e2e.conftest import shot
from tests.e2e.test_client_flow import _sign_in

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [390, 1366])
def test_churn_from_the_card_header_asks_why(live_server, page, tenant_a, width):
    page.set_viewport_size({"width": width, "height": 860})
    card = inspect(factories.client(tenant_a, "上海华光科技有限公司")).identity[0]
    _sign_in(page, live_server, "owner@a.example")
    page.goto(f"{live_server}/clients/{card}")
    page.click("[data-testid=edit-header]")
    reason = page.locator("#client-churn-reason")
    expect(page.locator("#client-stage")).to_be_visible()
    expect(reason).to_be_hidden()  # only asked for the churn stage
    page.select_option("#client-stage", "流失")
    expect(reason).to_be_visible()
    page.click("[data-testid=save-header]")
    row = page.locator("[data-testid=churn-reason-row]")
    expect(row).to_contain_text("请选择客户流失的原因")
    shot(page, f"churn-01-asks-why-{width}")
    page.select_option("#client-churn-reason", "被竞争对手抢走")
    page.click("[data-testid=save-header]")
    expect(page.locator("[data-testid=card-header]")).not_to_have_class("editing")
    expect(page.locator("[data-testid=card-header] .badge.stage")).to_contain_text("流失")
    shot(page, f"churn-02-saved-{width}")
    with tenant_context(tenant_a.id):
        note = db.session.scalars(select(ClientChange.note).where(ClientChange.client_id == card)
                                  .order_by(ClientChange.id.desc()).limit(1)).one()
    assert note == "被竞争对手抢走"


@pytest.mark.parametrize("width", [390, 1366])
def test_bulk_churn_shows_the_reason_beside_the_stage(live_server, page, tenant_a, width):
    page.set_viewport_size({"width": width, "height": 860})
    factories.client(tenant_a, "上海华光科技有限公司")
    _sign_in(page, live_server, "owner@a.example")
    page.goto(f"{live_server}/clients/")
    page.check("input[name=ids]")
    reason = page.locator("#bulk-churn-reason")
    expect(reason).to_be_hidden()
    page.select_option("#bulk-stage", "流失")
    expect(reason).to_be_visible()
    shot(page, f"churn-03-bulk-{width}")


@pytest.mark.parametrize("width", [390, 1366])
def test_points_mode_on_the_grading_page(live_server, page, tenant_a, width):
    page.set_viewport_size({"width": width, "height": 860})
    factories.client(tenant_a, "上海华光科技有限公司", fields={"annual_amount": "45万", "payment_attitude": "爽快"})
    _sign_in(page, live_server, "owner@a.example")
    page.goto(f"{live_server}/settings/grading")
    points = page.locator("[data-testid=points-mode]")
    expect(page.locator("[data-testid=grading-field]")).to_be_visible()
    expect(points).to_be_hidden()
    page.check("[data-testid=mode-points]")
    expect(points).to_be_visible()
    expect(page.locator("[data-testid=grading-field]")).to_be_hidden()
    page.select_option("select[name=factor_0]", "payment_attitude")
    page.fill("input[name=points_0]", "爽快=30，一般=20")
    page.select_option("select[name=factor_1]", "annual_amount")
    page.fill("input[name=weight_1]", "0.0001")
    page.fill("input[name=min_0]", "70")
    page.fill("input[name=min_1]", "40")
    expect(page.locator("[data-testid=grading-preview]")).to_contain_text("上海华光科技有限公司")
    shot(page, f"points-01-preview-{width}")
    page.click("[data-testid=grading-save]")
    expect(page.locator(".flash-success")).to_be_visible()
