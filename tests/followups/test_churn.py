"""Every way of moving a client to 流失 asks why: the card header, the list's bulk action, the API, the services;
the reason is kept as the note of the stage change, where the quarterly review counts it."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from app.accounts.models import User
from app.clients import services as cs
from app.clients.models import Client, ClientChange
from app.extensions import db
from app.followups.review import build_review
from app.tenancy import tenant_context
from tests import factories
from tests.api.conftest import make_token


def _card(bundle, name="华光科技", **kw):
    return inspect(factories.client(bundle, name, **kw)).identity[0]


def _state(bundle, card_id):
    with tenant_context(bundle.id):
        client = db.session.get(Client, card_id)
        last = db.session.scalars(select(ClientChange).where(ClientChange.client_id == card_id)
                                  .order_by(ClientChange.id.desc()).limit(1)).one()
        return client.stage, last.changes.get("@stage"), last.note


def test_the_services_refuse_a_move_to_churn_without_a_listed_reason(tenant_a):
    card = _card(tenant_a)
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        client = db.session.get(Client, card)
        for reason in (None, "", "不知道"):
            with pytest.raises(cs.ValidationFailed) as e:
                cs.update_client(owner, client, version=client.version, stage="流失", churn_reason=reason)
            assert "churn_reason" in e.value.errors
            db.session.rollback()
        cs.update_client(owner, client, version=client.version, stage="流失", churn_reason="价格")
        db.session.commit()
        # Leaving the churn stage asks nothing.
        cs.update_client(owner, client, version=client.version, stage="意向")
        db.session.commit()
        review = build_review(owner)
    assert review.churn == [{"reason": "价格", "count": 1}]


def test_card_header_asks_for_the_reason_next_to_the_field(tenant_a, login, hx):
    card = _card(tenant_a)
    b = login(tenant_a.owner)
    form = b.get(f"/clients/{card}/header/edit", headers=hx).get_data(as_text=True)
    assert 'name="churn_reason"' in form and "被竞争对手抢走" in form
    owner = str(inspect(tenant_a.owner).identity[0])
    data = {"version": "1", "name": "华光科技", "stage": "流失", "owner_id": owner}
    r = b.post(f"/clients/{card}/header", headers=hx, data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "<html" not in html
    row = html.split('data-testid="churn-reason-row"')[1].split("</div>")[0]
    assert "has-error" in html.split('data-testid="churn-reason-row"')[0][-80:]
    assert "请选择客户流失的原因" in row
    assert _state(tenant_a, card)[0] == "潜在"
    r = b.post(f"/clients/{card}/header", headers=hx, data={**data, "churn_reason": "服务不满意"})
    assert r.status_code == 200
    assert _state(tenant_a, card) == ("流失", {"from": "潜在", "to": "流失"}, "服务不满意")


def test_bulk_stage_change_to_churn_needs_the_reason(tenant_a, login, hx):
    ids = [_card(tenant_a, f"批量{i}") for i in range(2)]
    b = login(tenant_a.owner)
    page = b.get("/clients/").get_data(as_text=True)
    assert 'id="bulk-churn-reason"' in page
    r = b.post("/clients/bulk", headers=hx, data={"action": "stage", "to_stage": "流失", "ids": ids})
    html = r.get_data(as_text=True)
    assert 'class="flash flash-error"' in html and "请选择客户流失的原因" in html
    assert {_state(tenant_a, i)[0] for i in ids} == {"潜在"}
    r = b.post("/clients/bulk", headers=hx, data={"action": "stage", "to_stage": "流失", "churn_reason": "联系不上",
                                                   "ids": ids})
    assert 'class="flash flash-success"' in r.get_data(as_text=True)
    assert {_state(tenant_a, i)[2] for i in ids} == {"联系不上"}


def test_api_patch_answers_422_without_a_reason(tenant_a, client):
    card = _card(tenant_a)
    h = {"Authorization": f"Bearer {make_token(tenant_a.owner)}", "Accept-Language": "zh-CN"}
    r = client.patch(f"/api/v1/clients/{card}", headers=h, json={"version": 1, "stage": "流失"})
    assert r.status_code == 422 and r.content_type.startswith("application/problem+json")
    assert "churn_reason" in r.json["errors"]
    r = client.patch(f"/api/v1/clients/{card}", headers=h, json={"version": 1, "stage": "流失", "churn_reason": 5})
    assert r.status_code == 422 and "churn_reason" in r.json["errors"]
    r = client.patch(f"/api/v1/clients/{card}", headers=h, json={"version": 1, "stage": "流失",
                                                                  "churn_reason": "被竞争对手抢走"})
    assert r.status_code == 200 and r.json["stage"] == "流失"
    assert _state(tenant_a, card)[2] == "被竞争对手抢走"


def test_an_import_row_moving_a_card_to_churn_is_reported_not_applied(tenant_a, login):
    import io
    import re

    from app.imports.models import ImportRun

    card = _card(tenant_a, "上海华光科技有限公司", fields={"business_phone": "021-55881234"})
    owner = login(tenant_a.owner)
    data = "客户名称,阶段,业务电话\n上海华光科技有限公司,流失,021-55881234\n".encode()
    r = owner.post("/imports/", data={"file": (io.BytesIO(data), "list.csv")}, content_type="multipart/form-data")
    import_id = int(re.search(r"/imports/(\d+)", r.headers["Location"]).group(1))
    owner.post(f"/imports/{import_id}/start", data={"col-0": "@name", "col-1": "@stage", "col-2": "business_phone",
                                                    "on_duplicate": "update"})
    assert _state(tenant_a, card)[0] == "潜在"
    with tenant_context(tenant_a.id):
        run = db.session.get(ImportRun, import_id)
        assert any("请选择客户流失的原因" in p["message"] or "Choose why this client was lost" in p["message"]
                   for p in run.problems)
