"""The follow-up issue's "done when", in a real browser at phone and desktop width: set thresholds and see the
preview, log a follow-up from a card, watch the client leave the overdue list, get the calendar link, and read the
quarter's review with its charts."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import inspect, update

from app.clients.models import Client
from app.db_types import utcnow
from app.extensions import db
from app.tenancy import tenant_context
from tests import factories
from app.followups.contacts import rebuild_contacts
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [390, 1366])
def test_grading_followup_today_calendar_review(live_server, page, tenant_a, width):
    page.set_viewport_size({"width": width, "height": 860})
    card = inspect(factories.client(tenant_a, "上海华光科技有限公司", fields={"annual_amount": "45万"})).identity[0]
    with tenant_context(tenant_a.id):
        db.session.execute(update(Client).values(created_at=utcnow() - timedelta(days=40)),
                           execution_options={"synchronize_session": False})
        rebuild_contacts()  # a direct write bypasses the card services that keep the summary
        db.session.commit()
    page.goto(f"{live_server}/login")
    page.fill("#email", "owner@a.example")
    page.fill("#password", factories.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")
    expect(page.locator("[data-testid=overdue]")).to_contain_text("上海华光科技有限公司")
    shot(page, f"fu-10-today-{width}")

    # Thresholds: lowering A to 40万 previews the move, saving re-grades.
    page.goto(f"{live_server}/settings/grading")
    page.fill("input[name=min_0]", "40万")
    expect(page.locator("[data-testid=grading-preview]")).to_contain_text("B")
    expect(page.locator("[data-testid=grading-preview]")).to_contain_text("A")
    shot(page, f"fu-20-grading-preview-{width}")
    page.click("[data-testid=grading-save]")
    page.wait_for_url("**/settings/grading")

    # Log a follow-up from the card, without a page reload.
    page.goto(f"{live_server}/clients/{card}")
    form = page.locator("[data-testid=followup-form]")
    expect(form).to_be_visible()
    expect(page.locator("[data-testid=grade-line]")).to_contain_text("A")
    page.evaluate("window.__stay = 1")
    form.locator("textarea[name=content]").fill("电话回访，确认下季度订单")
    form.locator("select[name=method]").select_option("电话")
    form.locator("[data-testid=followup-save]").click()
    expect(page.locator("[data-testid=followup-list]")).to_contain_text("确认下季度订单")
    assert page.evaluate("window.__stay") == 1  # same page: the widget was swapped in place
    shot(page, f"fu-30-card-followup-{width}")

    page.goto(f"{live_server}/home")
    expect(page.locator("[data-testid=overdue-empty]")).to_be_visible()

    page.goto(f"{live_server}/calendar")
    page.click("[data-testid=calendar-create]")
    expect(page.locator("[data-testid=calendar-url]")).to_be_visible()
    shot(page, f"fu-40-calendar-{width}")

    page.goto(f"{live_server}/review")
    expect(page.locator("#chart-compliance svg")).to_have_count(1)
    shot(page, f"fu-50-review-{width}")
