"""The pages a salesperson uses after a visit, at phone (390 × 844) and desktop (1366 × 900) sizes, on the demo
company's data: nothing scrolls sideways, the list's first phone screen shows clients, and screenshots are saved
(tests/e2e/screenshots/layout-*.png) for a person to look at."""
import pytest
from sqlalchemy import select

from app.clients.models import Client
from app.demo import load_demo
from app.extensions import db as _db
from app.tenancy import tenant_context
from tests.e2e.conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e

SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
PASSWORD = "demo-pass-2026"


@pytest.fixture()
def demo(db):
    tenant = load_demo("boss@demo.example", PASSWORD)
    with tenant_context(tenant.id):
        client = _db.session.scalars(select(Client).where(Client.archived_at.is_(None)).order_by(Client.id)).first()
        # a card with a table field filled (contacts), so the phone layout of tables is exercised
        return {"tenant": tenant, "client_id": client.id, "name": client.name}


def _sign_in(page, base):
    page.goto(f"{base}/login")
    page.fill("#email", "boss@demo.example")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")


def _no_sideways_scroll(page, what):
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{what}: the page is {width}px wide in a {viewport}px window"


def _shot(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"layout-{name}.png"), full_page=False)


@pytest.mark.parametrize("size", list(SIZES))
def test_salesperson_pages_fit_the_screen(live_server, browser, demo, size):
    w, h = SIZES[size]
    context = browser.new_context(locale="zh-CN", viewport={"width": w, "height": h})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        _sign_in(page, live_server)
        page.wait_for_selector("h1")
        _no_sideways_scroll(page, "home")
        _shot(page, f"{size}-home")
        header = page.locator("header.topbar").bounding_box()
        assert header["height"] <= 64, f"the header takes {header['height']}px: more than one line"
        if size == "phone":  # the links fold behind the menu button, which opens them
            assert not page.locator(".mainnav a[href$='/clients/']").is_visible()
            page.click("[data-testid=menu-toggle]")
            page.locator(".mainnav a[href$='/clients/']").wait_for(state="visible")
            _shot(page, f"{size}-menu")
            page.click("[data-testid=menu-toggle]")

        page.goto(f"{live_server}/clients")
        page.wait_for_selector("[data-testid=client-row]")
        _no_sideways_scroll(page, "client list")
        visible = page.evaluate("""() => [...document.querySelectorAll('[data-testid=client-row]')]
            .filter(r => { const b = r.getBoundingClientRect(); return b.height > 0 && b.bottom <= window.innerHeight; })
            .length""")
        assert visible >= 5, f"only {visible} clients on the first {size} screen"
        # company names wrap by words, never one character per line
        narrowest = page.evaluate("""() => Math.min(...[...document.querySelectorAll('[data-testid=client-row] .name a')]
            .map(a => a.getBoundingClientRect().width))""")
        assert narrowest >= 60, f"a client name is squeezed into {narrowest}px"
        actions = page.locator(".section-head .actions").bounding_box()
        assert actions["height"] <= 48, f"the list's actions take {actions['height']}px: more than one line"
        _shot(page, f"{size}-list")
        page.click("[data-testid=export-menu] summary")  # the exports open under their button, inside the screen
        menu = page.locator(".export-menu-items").bounding_box()
        assert menu["x"] >= 0 and menu["x"] + menu["width"] <= w, menu
        _no_sideways_scroll(page, "export menu")
        _shot(page, f"{size}-list-export-menu")
        page.click("[data-testid=export-menu] summary")

        page.fill("#client-q", demo["name"][2:4])
        page.wait_for_url("**q=*")
        page.wait_for_selector("[data-testid=client-row]")
        _no_sideways_scroll(page, "search")
        _shot(page, f"{size}-search")

        page.goto(f"{live_server}/clients/{demo['client_id']}")
        page.wait_for_selector("[data-testid=client-card]")
        _no_sideways_scroll(page, "card")
        _shot(page, f"{size}-card")
        page.screenshot(path=str(SCREENSHOTS / f"layout-{size}-card-full.png"), full_page=True)

        page.click("[data-testid=section-basic] [data-testid=edit]")
        page.wait_for_selector("form[data-testid=section-basic] [data-testid=save]")
        _no_sideways_scroll(page, "section edit")
        page.locator("form[data-testid=section-basic]").scroll_into_view_if_needed()
        _shot(page, f"{size}-section-edit")

        page.click("[data-testid=tab-history]")
        page.wait_for_selector("[data-testid=history]")
        _no_sideways_scroll(page, "history")
        _shot(page, f"{size}-history")

        page.goto(f"{live_server}/clients/new")
        page.wait_for_selector("#client-name")
        _no_sideways_scroll(page, "new client")
        _shot(page, f"{size}-new-client")
        page.screenshot(path=str(SCREENSHOTS / f"layout-{size}-new-client-full.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()
