"""After the grace period a tenant is read-only: one decision (app.clients.access), every write refused with a
clear message — pages, forms, htmx and the API alike — while reading, opening a section, exporting and paying work.
Nothing is deleted, and paying makes it writable again."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, inspect, select

from app.accounts.models import User
from app.clients.access import ReadOnlyTenant, can, check_limit
from app.clients.models import Client
from app.extensions import db as _db
from app.tenancy import tenant_context
from tests import factories
from tests.api.conftest import Api, make_token
from tests.billing.conftest import Events, link_customer, post_event

DAY = 86400
OPEN = {"auth.login", "auth.logout", "main.set_language", "auth.change_password", "clients.reveal_section",
        "auth.revoke_token", "team.deactivate_user", "sharing.revoke", "api.share_links_revoke",
        "sharing.batch_start", "api.clients_pdf_batch", "imports.export_all"}  # exports stay open


@pytest.fixture()
def overdue(client, billing_on, tenant_a):
    """Tenant A: Team since two months, a payment failed 20 days ago and was never fixed."""
    card_id = inspect(factories.client(tenant_a, "只读公司的客户",
                                       fields={"legal_rep_home_address": "机密住址1号"})).identity[0]
    link_customer(tenant_a.id, "cus_ro")
    ev = Events(tenant_a.id, "cus_ro")
    now = int(time.time())
    for e in (ev.checkout_completed(now - 60 * DAY), ev.subscription("created", now - 60 * DAY + 1),
              ev.invoice("payment_failed", now - 20 * DAY),
              ev.subscription("updated", now - 20 * DAY + 1, status="past_due")):
        assert post_event(client, e).status_code == 200
    return ev, card_id


def _card_count(tenant):
    with tenant_context(tenant.id):
        return _db.session.execute(select(func.count(Client.id))).scalar_one()


def test_pages_read_with_a_banner_and_no_edit_buttons(login, overdue, tenant_a):
    _ev, card_id = overdue
    b = login(tenant_a.owner)
    page = b.get(f"/clients/{card_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="billing-banner"' in html
    assert "Read-only" in html or "只读" in html
    assert 'data-testid="edit"' not in html and 'data-testid="edit-header"' not in html
    assert b.get("/clients/").status_code == 200
    assert b.get(f"/clients/{card_id}/print").status_code == 200  # export stays open
    assert b.get("/template/export").status_code == 200
    assert b.post(f"/clients/{card_id}/sections/legal_rep/reveal", data={"reason": "核对"}).status_code == 200


def test_access_can_still_be_taken_away(login, overdue, tenant_a):
    """A colleague who left is deactivated even while the company is read-only."""
    leaver = inspect(factories.user(tenant_a, "leaver@a.example")).identity[0]
    r = login(tenant_a.owner).post(f"/team/{leaver}/deactivate")
    assert r.status_code == 302
    with tenant_context(tenant_a.id):
        assert _db.session.get(User, leaver).active is False


def test_every_write_route_is_refused(app, login, overdue, tenant_a):
    """Walks the URL map: every non-GET rule outside the open list answers 403 with the read-only message."""
    _ev, card_id = overdue
    b = login(tenant_a.owner)
    api = Api(app.test_client(), make_token(tenant_a.owner))
    before = _card_count(tenant_a)
    walked = 0
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
            if rule.endpoint in OPEN or rule.endpoint.startswith("billing.") or rule.endpoint == "static":
                continue
            if rule.endpoint.startswith("auth.") and "token" in rule.arguments:
                continue  # invite and reset links: no tenant signed in (the services check the plan)
            if rule.endpoint in ("auth.signup", "auth.forgot_password"):
                continue  # signed out: another company, or none yet
            values = {a: (card_id if a == "client_id" else "x" if a in ("key", "token", "code") else 1)
                      for a in rule.arguments}
            url = rule.build(values, append_unknown=False)[1]
            if url.startswith("/api/"):
                r = api.open(method, url[len("/api/v1"):], json={})
                assert r.status_code == 403, (method, url, r.status_code)
                assert r.get_json()["type"].endswith("/problems/read-only"), url
            else:
                r = b.request(method, url, data={})
                assert r.status_code == 403, (method, url, r.status_code)
                assert "read-only" in r.get_data(as_text=True).lower() or "只读" in r.get_data(as_text=True)
            walked += 1
    assert walked > 40
    assert _card_count(tenant_a) == before


def test_htmx_writes_get_the_message_as_a_partial(login, overdue, tenant_a, hx):
    _ev, card_id = overdue
    r = login(tenant_a.owner).request("POST", f"/clients/{card_id}/archive", headers=hx)
    assert r.status_code == 403 and "<html" not in r.get_data(as_text=True)


def test_the_decision_is_in_access(app, overdue, tenant_a):
    with tenant_context(tenant_a.id):
        owner = _db.session.get(User, tenant_a.owner.id)
        card = _db.session.scalars(select(Client)).first()
        assert not can(owner, "clients.create") and not can(owner, "clients.edit", card)
        assert can(owner, "clients.view_log", card)  # reading stays
        with pytest.raises(ReadOnlyTenant):
            check_limit(None, "clients")
        from app.clients.services import create_client

        with pytest.raises(ReadOnlyTenant):
            create_client(owner, name="服务层也拒绝")


def test_the_api_reads_and_refuses_writes(app, overdue, tenant_a):
    api = Api(app.test_client(), make_token(tenant_a.owner))
    assert api.get("/clients").status_code == 200
    r = api.post("/clients", json={"name": "接口只读"})
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert r.get_json()["upgrade_url"].endswith("/billing/")
    body = api.get("/billing").get_json()
    assert body["read_only"] is True and body["status"] == "past_due" and body["grace_until"]


def test_paying_is_still_possible_and_makes_it_writable(client, login, overdue, tenant_a, billing_on):
    ev, _card = overdue
    b = login(tenant_a.owner)
    assert b.get("/billing/").status_code == 200
    assert b.post("/billing/portal").status_code == 303
    post_event(client, ev.invoice("paid", int(time.time()) - 5))
    post_event(client, ev.subscription("updated", int(time.time()), status="active"))
    r = b.post("/clients/", data={"name": "付款后的客户", "allow_duplicate": "1", "f.business_phone": "021-55881234",
                                  "f.industry": "服装"})
    assert r.status_code == 302
    assert 'data-testid="billing-banner"' not in b.get("/home").get_data(as_text=True)


def test_other_tenants_are_not_affected(login, overdue, tenant_b):
    r = login(tenant_b.owner).post("/clients/", data={"name": "乙的客户", "allow_duplicate": "1",
                                                      "f.business_phone": "021-55881234", "f.industry": "服装"})
    assert r.status_code == 302
