"""Plan limits where the action happens: users (invite, accept, reactivate), clients (one card, a batch, the API),
share-link days; a clear message with an upgrade link; a downgrade deletes nothing; no limits without billing."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, inspect, select

from app.accounts.models import User
from app.clients.access import LimitReached, check_limit
from app.clients.models import Client
from app.extensions import db as _db
from app.tenancy import set_current_tenant, tenant_context
from tests import factories
from tests.api.conftest import Api, make_token
from tests.billing.conftest import Events, link_customer, post_event

CARD = {"f.business_phone": "021-55881234", "f.industry": "服装", "allow_duplicate": "1"}


def _clients(tenant) -> int:
    with tenant_context(tenant.id):
        return _db.session.execute(select(func.count(Client.id))).scalar_one()


def _fill(tenant, n):
    """n cards through the bulk path (one limit check for the whole batch)."""
    from app.clients.services import create_clients

    with tenant_context(tenant.id):
        owner = _db.session.get(User, tenant.owner.id)
        create_clients(owner, [{"name": f"客户{i:04d}"} for i in range(n)], allow_duplicate=True,
                       enforce_required=False)
        _db.session.commit()
    set_current_tenant(None)


def _upgrade(client, tenant, seats=10, customer="cus_up"):
    link_customer(tenant.id, customer)
    ev = Events(tenant.id, customer)
    now = int(time.time())
    post_event(client, ev.checkout_completed(now - 5, seats=seats))
    post_event(client, ev.subscription("created", now - 4, seats=seats))
    return ev


@pytest.fixture()
def small(app, billing_on):
    app.config["FREE_MAX_CLIENTS"] = 5
    return billing_on


def test_the_201st_client_on_free_meets_the_limit_then_upgrade_lets_it_in(client, login, billing_on, tenant_a):
    """Tried as a new user would: 200 cards, the 201st refused with the upgrade link; after checkout it's created."""
    _fill(tenant_a, 200)
    b = login(tenant_a.owner)
    r = b.post("/clients/", data={"name": "第二百零一个客户", **CARD})
    html = r.get_data(as_text=True)
    assert r.status_code == 403
    assert 'data-testid="limit-reached"' in html and 'href="/billing/#upgrade"' in html
    assert "200" in html and 'value="第二百零一个客户"' in html  # the form keeps what was typed
    assert _clients(tenant_a) == 200

    r = b.post("/billing/checkout", data={"interval": "month", "seats": "1"})
    assert r.status_code == 303
    customer = billing_on.calls("/v1/checkout/sessions")[0]["customer"]
    ev = Events(tenant_a.id, customer)
    post_event(client, ev.checkout_completed(int(time.time()), seats=1))
    r = b.post("/clients/", data={"name": "第二百零一个客户", **CARD})
    assert r.status_code == 302 and _clients(tenant_a) == 201


def test_a_batch_is_checked_once_before_anything_is_written(small, tenant_a):
    from app.clients.services import create_clients

    _fill(tenant_a, 3)
    with tenant_context(tenant_a.id):
        owner = _db.session.get(User, tenant_a.owner.id)
        with pytest.raises(LimitReached) as e:
            create_clients(owner, [{"name": f"导入{i}"} for i in range(3)], allow_duplicate=True,
                           enforce_required=False)
        assert e.value.resource == "clients"
        _db.session.rollback()
    assert _clients(tenant_a) == 3
    _fill(tenant_a, 2)  # exactly up to the limit is fine
    assert _clients(tenant_a) == 5


def test_archived_cards_count_too(small, tenant_a):
    from app.clients.services import set_archived

    _fill(tenant_a, 5)
    with tenant_context(tenant_a.id):
        owner = _db.session.get(User, tenant_a.owner.id)
        set_archived(owner, _db.session.scalars(select(Client)).first(), True)
        _db.session.commit()
        with pytest.raises(LimitReached):
            check_limit(None, "clients")


def test_the_api_answers_problem_json_403_with_the_upgrade_link(app, small, tenant_a):
    _fill(tenant_a, 5)
    api = Api(app.test_client(), make_token(tenant_a.owner))
    r = api.post("/clients", json={"name": "接口客户", "allow_duplicate": True})
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["type"].endswith("/problems/plan-limit") and body["resource"] == "clients"
    assert body["upgrade_url"].endswith("/billing/") and "5" in body["detail"]
    assert _clients(tenant_a) == 5


def test_a_fourth_user_on_free_is_refused_at_the_invite(login, billing_on, tenant_a):
    factories.user(tenant_a, "m1@a.example")
    b = login(tenant_a.owner)
    assert b.post("/team/invites", data={"email": "m2@a.example", "role": "member"}).status_code == 302  # 3rd
    r = b.post("/team/invites", data={"email": "m3@a.example", "role": "member"})  # would be the 4th
    html = r.get_data(as_text=True)
    assert r.status_code == 403 and 'data-testid="limit-reached"' in html and "/billing/#upgrade" in html
    assert 'value="m3@a.example"' in html


def test_accepting_an_invite_beyond_the_plan_is_refused(client, app, billing_on, tenant_a):
    from app.team.services import create_invite

    with tenant_context(tenant_a.id):
        _, token = create_invite(_db.session.get(User, tenant_a.owner.id), "late@a.example", "member")
        _db.session.commit()
    factories.user(tenant_a, "m1@a.example")
    factories.user(tenant_a, "m2@a.example")  # the plan is full before the invitation is accepted
    page = client.get(f"/invite/{token}")
    from tests.conftest import csrf_from

    r = client.post(f"/invite/{token}", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                              "name": "晚来的人", "password": "a-long-good-pass-2026",
                                              "confirm": "a-long-good-pass-2026", "language": "zh_CN"})
    assert r.status_code == 403
    with tenant_context(tenant_a.id):
        assert _db.session.scalar(select(func.count(User.id)).where(User.email == "late@a.example")) == 0


def test_reactivating_beyond_the_plan_is_refused(login, billing_on, tenant_a):
    factories.user(tenant_a, "m1@a.example")
    gone_id = inspect(factories.user(tenant_a, "m2@a.example")).identity[0]
    with tenant_context(tenant_a.id):
        _db.session.get(User, gone_id).active = False
        _db.session.commit()
    factories.user(tenant_a, "m3@a.example")
    r = login(tenant_a.owner).post(f"/team/{gone_id}/reactivate")
    assert r.status_code == 403 and 'data-testid="limit-reached"' in r.get_data(as_text=True)
    with tenant_context(tenant_a.id):
        assert _db.session.get(User, gone_id).active is False


def test_team_seats_are_the_user_limit(client, login, billing_on, tenant_a):
    _upgrade(client, tenant_a, seats=2)
    b = login(tenant_a.owner)
    assert b.post("/team/invites", data={"email": "m1@a.example", "role": "member"}).status_code == 302
    assert b.post("/team/invites", data={"email": "m2@a.example", "role": "member"}).status_code == 403


def test_share_days(billing_on, client, tenant_a):
    with tenant_context(tenant_a.id):
        check_limit(None, "share_days", adding=7)
        with pytest.raises(LimitReached) as e:
            check_limit(None, "share_days", adding=8)
        assert e.value.resource == "share_days" and "7" in str(e.value.message)
    _upgrade(client, tenant_a)
    with tenant_context(tenant_a.id):
        check_limit(None, "share_days", adding=365)


def test_a_downgrade_deletes_nothing_and_only_blocks_new_cards(client, small, tenant_a):
    from app.clients.services import update_client

    ev = _upgrade(client, tenant_a)
    _fill(tenant_a, 8)  # more than Free allows
    post_event(client, ev.subscription("deleted", int(time.time()), status="canceled"))
    assert _clients(tenant_a) == 8
    with tenant_context(tenant_a.id):
        owner = _db.session.get(User, tenant_a.owner.id)
        card = _db.session.scalars(select(Client)).first()
        update_client(owner, card, version=card.version, name="改名之后")  # still editable
        _db.session.commit()
        with pytest.raises(LimitReached):
            check_limit(None, "clients")


def test_no_limits_without_billing(db, tenant_a, app):
    assert not app.config.get("STRIPE_SECRET_KEY")
    _fill(tenant_a, 3)
    with tenant_context(tenant_a.id):
        check_limit(None, "clients", adding=100000)
        check_limit(None, "users", adding=1000)
        check_limit(None, "share_days", adding=3650)
